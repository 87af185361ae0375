"""The runtime install is enough for every documented command.

`make demo` installs the project without the dev extra. A module of ours that imports a
package only the dev extra brings (httpx once did, in the demo's tour) breaks the README's
first command on a fresh machine while CI, which installs the dev extra, stays green. These
tests compute the runtime closure of pyproject's `dependencies` from the installed metadata
and check (1) statically, every import statement in our packages (also those inside
functions) names the standard library, our own packages or a runtime distribution, and (2)
dynamically, every module imports in a fresh interpreter where anything outside the runtime
closure is blocked. `.ci/run` also runs `make demo` itself in a fresh virtualenv.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("channelcast", "features", "models", "training", "serving")


@cache
def runtime_closure() -> frozenset[str]:
    """Canonical names of every distribution the runtime `dependencies` pull in."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [(Requirement(r), "") for r in project["dependencies"]]
    seen: set[tuple[str, str]] = set()
    names: set[str] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        names.add(name)
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return frozenset(names)


@cache
def forbidden_modules() -> frozenset[str]:
    """Top-level import names that only distributions outside the runtime closure provide."""
    allowed = runtime_closure()
    out = set()
    for module, dists in metadata.packages_distributions().items():
        if not any(canonicalize_name(d) in allowed for d in dists):
            out.add(module)
    return frozenset(out - set(sys.stdlib_module_names) - set(PACKAGES))


def our_modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "migrations" not in p.parts or p.name != "script.py.mako")


def test_the_dev_extra_is_not_part_of_the_runtime_closure() -> None:
    """The check below can fail: the dev extra's packages are outside the runtime closure."""
    forbidden = forbidden_modules()
    assert {"pytest", "httpx", "hypothesis", "schemathesis", "playwright"} <= forbidden
    assert {"lightgbm", "mlflow", "fastapi", "numpy"}.isdisjoint(forbidden)


def test_no_module_of_ours_imports_a_dev_only_package() -> None:
    forbidden = forbidden_modules()
    found = []
    for path in our_modules():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno} imports `{top}`"
                      for top in tops if top in forbidden]
    assert not found, ("these imports need a package that only the dev extra installs; "
                       "add it to `dependencies` in pyproject.toml or do without it:\n"
                       + "\n".join(found))


_BLOCKED_IMPORTS = """
import importlib, importlib.abc, json, sys
blocked = set(json.loads(sys.argv[1]))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not a runtime dependency)")
        return None
sys.meta_path.insert(0, Block())
failed = []
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(module)
    except Exception as exc:
        failed.append(f"{module}: {type(exc).__name__}: {exc}")
print(json.dumps(failed))
"""


def test_every_module_imports_with_the_runtime_install_only() -> None:
    modules = []
    for path in our_modules():
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "migrations" in parts or parts[-1] == "__main__":
            continue
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    assert "serving.tour" in modules and "channelcast.cli" in modules
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORTS, json.dumps(sorted(forbidden_modules())),
         json.dumps(modules)], cwd=ROOT, capture_output=True, text=True, timeout=600,
        check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    failed = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(failed)
