"""`hub/tpp` is pure: it imports nothing that does I/O, so a worked example is plain data in, a result out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TPP = Path(__file__).resolve().parents[2] / "hub" / "tpp"

# Modules the rules may use. Everything else (stores, sqlite3, pathlib, os, io, yaml, tomllib, socket,
# httpx, the `hadir` kernel, other `hub` packages...) is refused.
PURE = {
    "__future__", "bisect", "calendar", "collections", "dataclasses", "datetime", "decimal", "enum",
    "functools", "itertools", "math", "operator", "re", "typing",
    "zoneinfo",  # reads the read-only tz database once per zone, like `holidays` reads its tables
    "holidays",  # Indonesia's public holidays and cuti bersama
    "hijridate",  # the Umm al-Qura calendar (expected Ramadan dates)
    "pydantic",  # validation of plain data
    "hub.tpp",
}
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "compile", "__import__", "breakpoint"}


def allowed(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in PURE)


def impurities(source: str, filename: str = "<module>") -> list[str]:
    """Every import outside the whitelist and every call of an I/O builtin in `source`, with its line."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [f"{filename}:{node.lineno} import {a.name}" for a in node.names if not allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "hub.tpp" if node.level else node.module or ""  # relative imports stay inside hub.tpp
            if not allowed(module):
                found.append(f"{filename}:{node.lineno} from {module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"{filename}:{node.lineno} calls {node.func.id}()")
    return found


def test_every_module_of_hub_tpp_imports_only_pure_modules():
    modules = sorted(TPP.rglob("*.py"))
    assert {p.name for p in modules} >= {"__init__.py", "calendar.py", "compute.py", "policy.py", "ramadan.py",
                                         "resolve.py", "simulate.py"}
    problems = [line for p in modules for line in impurities(p.read_text(), p.name)]
    assert problems == [], "hub/tpp must not do I/O; move this next to its I/O (hub/payroll):\n" + "\n".join(problems)
    assert not [p.name for p in TPP.iterdir() if p.suffix not in (".py", "") and p.name != "__pycache__"], \
        "data files belong next to the code that reads them (hub/payroll)"


@pytest.mark.parametrize("source", [
    "import sqlite3", "from hub.store.base import StoredEvent", "import yaml", "from pathlib import Path",
    "import tomllib", "from hadir.contract import EventKind", "def f():\n    import os\n",
    "x = open('policy.toml').read()", "import hub.payroll.policy_file",
])
def test_the_check_catches_io(source):
    assert impurities(source) != []


def test_the_check_lets_pure_code_through():
    assert impurities("from datetime import date\nfrom .resolve import Punch\nimport holidays\n"
                      "from hub.tpp.policy import Policy\nfrom collections.abc import Sequence\n") == []
