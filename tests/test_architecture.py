"""The folder layout is the architecture: top-level packages depend one way, read from the imports themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hadir", "edge", "hub", "hadir_ops", "testkit")
# Who may import whom. The kernel (`hadir`) imports no other package of ours; the hub uses the device's
# face model through edge/infer only; operator tools and the test kit sit on top.
ALLOWED = {
    "hadir": set(),
    "edge": {"hadir"},
    "hub": {"hadir", "edge"},
    "hadir_ops": {"hadir", "edge", "hub", "testkit"},
    "testkit": {"hadir", "edge"},
}


def imports_of(path: Path) -> set[str]:
    """Every absolute module name imported by one file, at any depth (lazy imports count too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for name in imports_of(path):
                top = name.split(".")[0]
                if top in PACKAGES and top != package:
                    graph[package].add(top)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_no_import_cycle_between_top_level_packages():
    assert find_cycle(package_graph()) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_its_layer_allows(package):
    assert package_graph()[package] <= ALLOWED[package]


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_hub_uses_the_device_model_through_edge_infer_only():
    offenders = sorted(f"{path.relative_to(ROOT)}: {name}" for path in (ROOT / "hub").rglob("*.py")
                       for name in imports_of(path) if name.startswith("edge") and not name.startswith("edge.infer"))
    assert offenders == []


@pytest.mark.parametrize("module", ["hub/service.py", "hub/cli.py"])
def test_service_and_cli_do_not_import_the_api(module):
    assert not {n for n in imports_of(ROOT / module) if n.startswith("hub.api")}


def test_no_control_flow_by_assert_in_shipped_code():
    """`python -O` strips asserts: shipped code must not rely on them."""
    offenders = [f"{path.relative_to(ROOT)}:{node.lineno}" for package in ("hadir", "edge", "hub", "hadir_ops")
                 for path in (ROOT / package).rglob("*.py")
                 for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Assert)]
    assert offenders == []
