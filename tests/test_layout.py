"""The house rules of the code, checked: no import circle between tracer's modules, no helper
written twice, and no module over ~500 lines unless its docstring says why it stays whole."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "tracer"
LIMIT = 500
# words a module's docstring uses to say why it is longer than the limit
WHOLE = ("stays whole", "stays in one", "one thing")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _top_imports(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Modules of tracer imported when this module is imported (not inside functions, not
    under ``if TYPE_CHECKING``)."""
    found: set[str] = set()
    body = list(tree.body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                body.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            body.extend(node.body + node.orelse + node.finalbody)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tracer"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join([*pkg, *([base] if base else [])])
            if base.startswith("tracer"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
    return found


def test_no_import_circle():
    mods = modules()
    edges = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        edges[name] = {
            m
            for m in _top_imports(tree, name, path.name == "__init__.py")
            if m in mods and m != name
        }
    # a package imported from inside itself is its own business (re-exports)
    for name in edges:
        edges[name] = {m for m in edges[name] if not name.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                circles.append(stack[stack.index(n) :] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def _body_key(fn: ast.FunctionDef) -> str:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring may differ
    return ast.dump(ast.Module(body=body, type_ignores=[]), annotate_fields=False)


def test_no_helper_written_twice():
    seen: dict[str, str] = {}
    twice = []
    for name, path in modules().items():
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef) or len(node.body) < 2:
                continue
            key = _body_key(node)
            where = f"{name}.{node.name}"
            if key in seen:
                twice.append(f"{seen[key]} = {where}")
            else:
                seen[key] = where
    assert not twice, "the same function written twice: " + "; ".join(twice)


def test_no_module_over_the_limit_without_a_reason():
    long = []
    for name, path in modules().items():
        lines = path.read_text().count("\n")
        if lines <= LIMIT + 50:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if not any(w in doc for w in WHOLE):
            long.append(f"{name} ({lines} lines)")
    assert not long, (
        "modules over ~500 lines whose docstring does not say why they stay "
        "whole: " + ", ".join(long)
    )
