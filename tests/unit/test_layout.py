"""The layout rules of docs/architecture.md, checked: small modules, thin CLI modules, no
import cycles (module-level or inside functions), and use cases that never test an engine's or
a backend's name (they ask a registry)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "restoredrill"
MAX_LINES = 400
MAX_CLI_LINES = 150
BACKEND_NAMES = {"postgres", "postgresql", "mariadb", "mysql", "rds", "docker", "local", "s3"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:`` (imports for type checkers only)."""
    found: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _imports(path: Path, known: set[str]) -> set[str]:
    seen: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            seen.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            seen.add(node.module)
            seen.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in seen if name in known}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_is_over_400_lines_and_no_cli_module_over_150() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = len(path.read_text().splitlines())
        limit = MAX_CLI_LINES if path.parent.name == "cli" else MAX_LINES
        if lines > limit:
            too_long.append(f"{path.relative_to(PACKAGE.parent)}: {lines} > {limit}")
    assert not too_long, "\n".join(too_long)


def test_there_are_no_import_cycles_not_even_through_lazy_imports() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(path, known) - {name} for name, path in modules.items()}
    # importing a module imports its packages' __init__ too; those hold no imports here
    assert _cycles(graph) == []


def _names_tested(tree: ast.AST) -> list[tuple[int, str]]:
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for side in [node.left, *node.comparators]:
            values = side.elts if isinstance(side, ast.Tuple | ast.Set | ast.List) else [side]
            for value in values:
                if isinstance(value, ast.Constant) and value.value in BACKEND_NAMES:
                    hits.append((node.lineno, str(value.value)))
    return hits


def test_no_use_case_tests_an_engine_or_backend_name() -> None:
    found = []
    for path in sorted((PACKAGE / "drill").glob("*.py")):
        for line, name in _names_tested(ast.parse(path.read_text())):
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line} tests {name!r}")
    assert not found, "\n".join(found)


def test_the_package_ships_its_types() -> None:
    assert (PACKAGE / "py.typed").is_file()
