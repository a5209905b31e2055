"""Every error a staff member can meet carries its Chinese text (``zh=``).

Staff read palm's errors in the web console and in their staff rooms, in Chinese when
that is their language (``GatewayError.say``). The modules in ``STAFF_REACHABLE`` are
the ones the console or a staff room reaches; every error made there must give
``zh=``, so a new raise without it fails here, naming its file and line. Modules only
the CLI, config loading or the HTTP API's own parsing reach stay English-only and are
not listed (gateway/cli, gateway/http, gateway/safety/jsonbody.py, gateway/accounts
tokens, durations, users and principal, gateway/admission/routes.py), nor the console's
event stream (gateway/console/sse.py: an EventSource never shows its error body).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gateway.errors import AudienceError, Conflict, GatewayError, InputError, NotFound

ROOT = Path(__file__).resolve().parents[2]

ERRORS = {
    "InputError",
    "AudienceError",
    "NotFound",
    "Conflict",
    "Forbidden",
    "NotPossible",
    "Unauthorized",
    "UnsupportedMedia",
}

STAFF_REACHABLE = [
    "gateway/audience.py",
    "gateway/tags.py",
    "gateway/accounts/scope.py",
    "gateway/accounts/views.py",
    "gateway/funnel/staff.py",
    "gateway/funnel/tickets.py",
    "gateway/funnel/ticket_model.py",
    "gateway/announcements.py",
    "gateway/attachments.py",
    "gateway/targets.py",
    "gateway/admission/gate.py",
    "gateway/work/store.py",
    "gateway/polls/model.py",
    "gateway/polls/service.py",
    "gateway/polls/views.py",
    "gateway/confirm/rollup.py",
    "gateway/confirm/remind.py",
    "gateway/households/units.py",
    "gateway/console/context.py",
    "gateway/console/pages_announce.py",
    "gateway/console/poll_actions.py",
    "gateway/console/files.py",
    "gateway/staffroom/commands.py",
]


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _literal_parts(node: ast.expr) -> str:
    """The literal text of a str constant or an f-string (what a person will read)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal_parts(v) for v in node.values)
    return ""


def _problems(path: str) -> tuple[int, list[str]]:
    """(errors made in ``path``, the ones without a Chinese text as ``file:line``)."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
    made, bad = 0, []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _name(node) not in ERRORS:
            continue
        made += 1
        zh = next((k.value for k in node.keywords if k.arg == "zh"), None)
        if zh is None:
            bad.append(f"{path}:{node.lineno}: {_name(node)}(...) without zh=")
            continue
        text = _literal_parts(zh)
        if text and not any("\u4e00" <= ch <= "\u9fff" for ch in text):
            bad.append(f"{path}:{node.lineno}: zh= holds no Chinese: {text!r}")
    return made, bad


@pytest.mark.parametrize("path", STAFF_REACHABLE)
def test_every_error_a_staff_member_can_meet_has_its_chinese(path: str) -> None:
    made, bad = _problems(path)
    assert made, f"{path} makes no errors any more: take it off STAFF_REACHABLE"
    assert not bad, "\n".join(bad)


def test_the_scan_finds_a_raise_without_chinese(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "def f(x):\n"
        "    if x:\n"
        "        raise InputError('bad', zh='错了')\n"
        "    raise errors.NotFound(f'no {x}')\n"
        "def g():\n"
        "    return Conflict('taken', zh=f'still {1} English')\n"
    )
    made, bad = _problems(str(src))
    assert made == 3
    assert bad == [
        f"{src}:4: NotFound(...) without zh=",
        f"{src}:6: zh= holds no Chinese: 'still  English'",
    ]


def test_say_picks_chinese_only_for_zh_and_only_when_given() -> None:
    err = Conflict("T-3 is resolved", zh="T-3 已解决")
    assert err.say("zh") == "T-3 已解决"
    assert err.say("en") == err.message == str(err) == "T-3 is resolved"
    assert NotFound("no ticket T-9").say("zh") == "no ticket T-9"  # no Chinese: English
    assert repr(err) == "Conflict('T-3 is resolved')"  # the API's text only
    assert isinstance(err, GatewayError)


def test_an_audience_error_gives_its_column_in_both_languages() -> None:
    err = AudienceError("unexpected ')'", column=2, zh="多了一个「)」")
    assert err.message == "unexpected ')' at column 2"
    assert err.say("zh") == "多了一个「)」（第 2 个字符处）"
    assert err.column == 2
    assert InputError("x", zh="错").zh == "错"
