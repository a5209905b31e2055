"""Keyword rules: zh/en matching, word boundaries, validation, reload keeps old rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.models import Priority
from gateway.rules import RuleBook, load_rules, resolve_data_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "rules.yaml"


@pytest.mark.parametrize(
    ("text", "category", "priority"),
    [
        ("/report 5号楼消防栓坏了,水流了一地", "fire-safety", Priority.URGENT),
        ("the FIRE HYDRANT by building 5 is broken", "fire-safety", Priority.URGENT),
        ("楼下燃气味道很重", "gas", Priority.URGENT),
        ("Gas  Leak in 3-201", "gas", Priority.URGENT),
        ("3号楼电梯困人了", "elevator", Priority.URGENT),
        ("厨房漏水", "water", Priority.URGENT),
        ("停电了", "electricity", Priority.NORMAL),
        ("楼上装修噪音太大", "noise", Priority.NORMAL),
        ("someone parked in my parking space", "parking", Priority.NORMAL),
        ("ＦＩＲＥ in the stairwell", "fire-safety", Priority.URGENT),  # full-width latin
        ("fire火灾", "fire-safety", Priority.URGENT),  # latin next to Chinese
        ("my firewall blocks the wifi", "other", Priority.NORMAL),  # not the word "fire"
        ("the gasoline price", "other", Priority.NORMAL),
        ("谢谢", "other", Priority.NORMAL),
    ],
)
def test_shipped_rules(text: str, category: str, priority: Priority) -> None:
    c = load_rules(SHIPPED).classify(text)
    assert (c.category, c.priority) == (category, priority)


def test_shipped_rules_contain_the_contract_keywords() -> None:
    rules = load_rules(SHIPPED)
    for word in ("fire", "gas leak", "消防栓", "燃气", "漏水", "电梯困人", "fire hydrant"):
        assert rules.classify(word).priority is Priority.URGENT, word


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("categories: [{category: water}]", "categories[0].keywords"),
        ("categories: [{category: plumbing, keywords: [pipe]}]", "categories[0].category"),
        ("urgent: [fire]\ncolour: red", "colour"),
        ("urgent: fire", "urgent"),
        ("urgent: [fire\n", "line"),
    ],
)
def test_bad_file_names_file_and_key(tmp_path: Path, body: str, where: str) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_rules(bad)
    assert str(bad) in err.value.message
    assert where in err.value.message


def test_reload_of_a_bad_file_keeps_previous_rules(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("urgent: [flood]\ncategories: [{category: water, keywords: [flood]}]")
    book = RuleBook(path)
    book.reload()
    assert book.rules.classify("flood!").category == "water"
    path.write_text("urgent: [flood]\ncategories: [{category: water}]")  # half-written
    with pytest.raises(ConfigError):
        book.reload()
    assert book.rules.classify("flood!").category == "water"
    assert book.rules.classify("flood!").priority is Priority.URGENT


def test_shipped_file_found_from_anywhere() -> None:
    assert resolve_data_file(Path("config/rules.yaml")).exists()
    assert resolve_data_file(Path("does/not/exist/rules.yaml")) == SHIPPED


def test_palm_rules_check_cli(tmp_path: Path) -> None:
    ok = subprocess.run(
        [str(ROOT / ".venv/bin/palm"), "rules", "check", str(SHIPPED), "--text", "电梯困人"],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "urgent" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories: [{category: water}]")
    res = subprocess.run(
        [str(ROOT / ".venv/bin/palm"), "rules", "check", str(bad)],
        capture_output=True, text=True, timeout=30, cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1
    assert "categories[0].keywords" in res.stderr
