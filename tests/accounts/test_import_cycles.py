"""No import cycle through gateway/http (route modules, wherever they live, import
gateway.http.route; gateway.http.api lists them).

Every import counts, also those inside functions or under TYPE_CHECKING: a cycle
hidden in a function body is still a cycle, only a later-failing one.
"""

from __future__ import annotations

import ast
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"


def _module(path: Path) -> str:
    parts = path.relative_to(GATEWAY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = {_module(p): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            graph[name].update(m for m in found if m in modules and m != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for start in sorted(graph):
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path = [start]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, sorted(graph[nxt])))
                path.append(nxt)
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle's modules (the strongly connected components of more than one)."""
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(graph):  # iterative DFS: finishing order
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(graph[start])))]
        while stack:
            node, todo = stack[-1]
            nxt = next((n for n in todo if n not in seen), None)
            if nxt is None:
                order.append(node)
                stack.pop()
            else:
                seen.add(nxt)
                stack.append((nxt, iter(sorted(graph[nxt]))))
    reverse: dict[str, set[str]] = {m: set() for m in graph}
    for m, deps in graph.items():
        for d in deps:
            reverse[d].add(m)
    out, done = [], set()
    for start in reversed(order):
        if start in done:
            continue
        comp, todo = [], [start]
        done.add(start)
        while todo:
            m = todo.pop()
            comp.append(m)
            for n in reverse[m] - done:
                done.add(n)
                todo.append(n)
        if len(comp) > 1:
            out.append(sorted(comp))
    return out


def test_no_cycle_through_gateway_http() -> None:
    graph = import_graph(GATEWAY)
    assert "gateway.http.routes_tickets" in graph
    assert find_cycle(import_graph(GATEWAY / "http")) is None
    through_http = [c for c in cycles(graph) if any(m.startswith("gateway.http") for m in c)]
    assert through_http == []


def test_the_checks_find_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
