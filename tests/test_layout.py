"""The layout keeps its promises (docs/architecture.md): imports go down the layers, never up,
and no module imports another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pipelines"
# Lowest first: a module may import its own layer and those before it. `defs` and `app` see everything.
LAYERS = ("base", "parse", "net", "store", "sources", "normalise", "publish", "defs", "app")


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "base"


def imports() -> list[tuple[str, str, list[str]]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipelines"):
                found.append((module, node.module, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                found += [(module, alias.name, []) for alias in node.names if alias.name.startswith("pipelines")]
    return found


def test_imports_go_down_the_layers():
    upward = [f"{module} imports {target}" for module, target, _ in imports()
              if layer(module) not in ("defs", "app") and LAYERS.index(layer(target)) > LAYERS.index(layer(module))]
    assert upward == []


def test_no_module_imports_a_private_name_of_another():
    private = [f"{module} imports {name} from {target}" for module, target, names in imports()
               for name in names if name.startswith("_") and not name.startswith("__")]
    assert private == []


def test_the_layers_are_the_packages_on_disk():
    packages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    assert packages == set(LAYERS) - {"base"}
