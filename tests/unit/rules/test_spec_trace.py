"""docs/spec-trace.md stays true: every code and test it names exists, every §6 decision has a row."""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TRACE = ROOT / "docs" / "spec-trace.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+)(?:\[([^`]+)\])?)?`")
CODE_REF = re.compile(r"`(cds_service(?:\.\w+)+)(?::(\w+))?`")
ROW = re.compile(r"^\| (§[0-9.]+)", re.MULTILINE)


def trace_text() -> str:
    return TRACE.read_text(encoding="utf-8")


@cache
def parsed(path: str) -> ast.Module:
    return ast.parse((ROOT / path).read_text(encoding="utf-8"))


def functions_of(path: str) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in parsed(path).body if isinstance(node, ast.FunctionDef)}


def declared_ids(function: ast.FunctionDef) -> set[str]:
    """The `id=` of every pytest.param in the function's parametrize decorators."""
    return {
        keyword.value.value
        for decorator in function.decorator_list
        for node in ast.walk(decorator)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "id" and isinstance(keyword.value, ast.Constant)
    }


def string_constants(path: str) -> set[str]:
    return {
        node.value
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


TEST_REFS = sorted(set(TEST_REF.findall(trace_text())))
CODE_REFS = sorted(set(CODE_REF.findall(trace_text())))


@pytest.mark.parametrize(
    ("path", "function", "param_id"), TEST_REFS, ids=[":".join(r).strip(":") for r in TEST_REFS]
)
def test_every_named_test_exists(path: str, function: str, param_id: str) -> None:
    assert (ROOT / path).is_file(), f"{path} does not exist"
    if not function:
        return
    functions = functions_of(path)
    assert function in functions, f"{path} has no {function}"
    if param_id:
        ids = declared_ids(functions[function]) or string_constants(path)  # ids=[...] from a table
        assert param_id in ids, f"{path}::{function} has no case with id {param_id!r}"


@pytest.mark.parametrize(("module", "name"), CODE_REFS, ids=[":".join(r).strip(":") for r in CODE_REFS])
def test_every_named_code_exists(module: str, name: str) -> None:
    imported = importlib.import_module(module)
    if name:
        assert hasattr(imported, name), f"{module} has no {name}"


def test_every_decision_has_a_row() -> None:
    rows = set(ROW.findall(trace_text()))
    missing = [f"§6.{n}" for n in range(1, 40) if f"§6.{n}" not in rows]
    assert not missing, f"decisions without a row in docs/spec-trace.md: {missing}"


def test_every_section_has_rows() -> None:
    rows = ROW.findall(trace_text())
    for section in ("§0", "§1", "§2", "§3", "§4", "§4.1", "§5"):
        assert any(row == section for row in rows), f"no row for {section}"


def test_every_rule_test_id_names_a_spec_line() -> None:
    """Every parametrized case of the rule tests names its spec line (§ or issue item)."""
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        relative = str(path.relative_to(ROOT))
        for function in functions_of(relative).values():
            for param_id in declared_ids(function):
                assert param_id.startswith(("§", "links:")), f"{relative}::{function.name}[{param_id}]"
