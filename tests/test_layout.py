"""The package's layout is its architecture (docs/architecture.md): no import
cycles anywhere in ``harness/``, and every import between subpackages follows
the one-way flow

    cli -> library / fuzz / conformance / bugbench / perf -> api -> oracle
        -> engines -> reference (and the compiled core) -> lang -> vocab

The graph is read with ``ast`` from the sources, function-level (lazy) imports
included: a cycle hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harness"

#: subpackage (or top-level module) -> the others it may import.  Within one
#: subpackage anything goes, as long as there is no cycle.
ALLOWED: dict[str, set[str]] = {
    "vocab": set(),
    "lang": {"vocab"},
    "reference": {"vocab", "lang"},
    "engines": {"vocab"},
    "oracle": {"vocab", "lang", "engines"},
    "api": {"vocab", "lang", "engines", "oracle"},
    "perf": {"vocab", "lang", "engines"},
    "library": {"vocab", "lang", "engines", "oracle", "api"},
    # fuzz and bugbench import the reference model by name only to have atheris
    # instrument it (coverage of its branches); they run it through engines.
    "fuzz": {"vocab", "lang", "engines", "oracle", "reference", "conformance"},
    "conformance": {"vocab", "lang", "engines", "oracle"},
    "bugbench": {"vocab", "lang", "engines", "oracle", "fuzz", "library", "reference"},
    "cli": {
        "harness",
        "vocab",
        "lang",
        "engines",
        "oracle",
        "api",
        "fuzz",
        "conformance",
        "bugbench",
        "library",
        "perf",
    },  # fmt: skip
    "harness": {"vocab", "lang", "oracle", "api", "library"},  # the facade, __init__.py
    "__main__": {"cli"},
}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["harness", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the harness modules it imports (a name imported from a package
    counts as the submodule when there is one, else as the package)."""
    mods = modules()

    def owner(name: str) -> str:
        while name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path}:{node.lineno}: relative import")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in mods else owner(str(node.module)))
            elif isinstance(node, ast.Import):
                deps |= {owner(a.name) for a in node.names if a.name.split(".")[0] == "harness"}
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harness"


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles in harness/:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_imports_flow_one_way() -> None:
    graph = import_graph()
    unknown = sorted({group(m) for m in graph} - set(ALLOWED))
    assert not unknown, f"subpackages missing from ALLOWED (and docs/architecture.md): {unknown}"
    bad = sorted(
        f"{m} imports {d}"
        for m, deps in graph.items()
        for d in deps
        if group(d) != group(m) and group(d) not in ALLOWED[group(m)]
    )
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_checks_can_fail() -> None:
    graph = {"harness.a": {"harness.b"}, "harness.b": {"harness.c"}, "harness.c": {"harness.a"}}
    assert cycles(graph) == [["harness.a", "harness.b", "harness.c"]]
    assert cycles({"harness.a": {"harness.b"}, "harness.b": set()}) == []


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_every_layer_exists(name: str) -> None:
    assert name in {group(m) for m in modules()}, f"ALLOWED names {name}, which is gone"
