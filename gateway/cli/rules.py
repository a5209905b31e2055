"""palm rules check [FILE]: validate a rules file and summarise it (nothing is changed).

Without FILE it checks the config's ``rules_file``. A running ``palm run`` picks the
file up on SIGHUP; a bad file is then reported and the previous rules stay.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gateway.cli.context import CliContext, add_command, add_group
from gateway.rules import load_rules, resolve_data_file


async def _check(args: argparse.Namespace, cli: CliContext) -> int:
    path = Path(args.file) if args.file else resolve_data_file(cli.config.rules_file)
    rules = load_rules(path)
    summary = rules.summary()
    if args.text is not None:
        c = rules.classify(args.text)
        summary["classify"] = {
            "category": c.category,
            "priority": c.priority.value,
            "matched": list(c.matched),
        }
    if args.json:
        cli.print_json(summary)
        return 0
    cli.out.print(f"{path}: ok", markup=False)
    cli.out.print(f"  {summary['keywords']} keywords, {summary['urgent_keywords']} urgent")
    categories = ", ".join(name for name, _ in rules.categories)
    cli.out.print(f"  categories: {categories} (default {rules.default_category})", markup=False)
    if args.text is not None:
        cli.out.print(f"  {args.text!r} -> {summary['classify']}", markup=False)
    return 0


def register(sub: Any) -> None:
    group = add_group(sub, "rules", help="keyword rules for ticket category and urgency")
    p = add_command(
        group, "check", help="validate a rules file and print a summary", handler=_check
    )
    p.add_argument("file", nargs="?", help="rules file (default: the config's rules_file)")
    p.add_argument("--text", help="also show how this text would be classified")
    p.add_argument("--json", action="store_true", help="print JSON")
