"""The house rules, checked from the code: imports flow one way between packages with no loop
between modules, no module takes another module's `_private` names, and modules and
functions stay small enough to read.

Floors, bottom to top: features <- models <- training <- serving <- channelcast (the CLI);
a module imports only from its own package or the floors below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOORS = ("features", "models", "training", "serving", "channelcast")
SCANNED = (*FLOORS, "tests", "benchmarks")  # the private-names rule holds here too
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(roots: tuple[str, ...] = FLOORS) -> dict[str, Path]:
    return {_module_name(p): p for floor in roots for p in sorted((ROOT / floor).rglob("*.py"))
            if "migrations" not in p.parts}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(modules: dict[str, Path], roots: tuple[str, ...] = FLOORS
             ) -> list[tuple[str, str, list[str], int]]:
    """(importer, imported module of ours, names taken, line) for every import statement."""
    found: list[tuple[str, str, list[str], int]] = []
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [(module, alias.name, [], node.lineno) for alias in node.names
                          if alias.name.split(".")[0] in roots]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                if target.split(".")[0] not in roots:
                    continue
                names = [alias.name for alias in node.names]
                # `from package import module` imports the module itself
                submodules = [n for n in names if f"{target}.{n}" in modules]
                found += [(module, f"{target}.{n}", [], node.lineno) for n in submodules]
                rest = [n for n in names if n not in submodules]
                if rest:
                    found.append((module, target, rest, node.lineno))
    return found


def test_no_package_imports_a_package_above_it() -> None:
    modules = _modules()
    upward = []
    for importer, target, _names, line in _imports(modules):
        mine, theirs = FLOORS.index(importer.split(".")[0]), FLOORS.index(target.split(".")[0])
        if theirs > mine:
            upward.append(f"{modules[importer].relative_to(ROOT)}:{line} imports {target}")
    assert not upward, "imports that run up a floor:\n" + "\n".join(upward)


def test_no_module_takes_another_modules_private_names() -> None:
    modules = _modules(SCANNED)
    private = []
    for importer, target, names, line in _imports(modules, SCANNED):
        if target == importer:
            continue
        taken = [n for n in names if n.startswith("_") and not n.startswith("__")]
        taken += [target.rsplit(".", 1)[1]] if not names and target.rsplit(".", 1)[-1][:1] == "_" \
            and target.rsplit(".", 1)[0] != importer.rsplit(".", 1)[0] else []
        if taken:
            private.append(f"{modules[importer].relative_to(ROOT)}:{line} takes {taken} "
                           f"from {target}")
    assert not private, "private names used across modules:\n" + "\n".join(private)


def test_the_import_graph_has_no_loop() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for importer, target, _names, _line in _imports(modules):
        # a package's __init__ is imported with any of its modules: count the module itself
        if target in modules and target != importer:
            graph[importer].add(target)
    loops = _cycles(graph)
    assert not loops, "import loops:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in loops)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_modules_and_functions_stay_small() -> None:
    big = []
    for module, path in _modules().items():
        text = path.read_text()
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES:
            big.append(f"{path.relative_to(ROOT)}: {n} lines (module limit {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}.{node.name}: "
                               f"{length} lines (function limit {MAX_FUNCTION_LINES})")
    assert not big, "split these along a concept:\n" + "\n".join(big)
