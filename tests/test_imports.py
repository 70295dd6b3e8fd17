"""The shape of the package: imports flow one way (no cycle, function-level imports counted too)."""
from __future__ import annotations

import ast
from pathlib import Path

import ltlib

ROOT = Path(ltlib.__file__).parent


def import_graph() -> dict[str, set[str]]:
    """ltlib module -> the ltlib modules it imports anywhere in its source (a package's own submodules excepted)."""
    mods = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(("ltlib", *p.relative_to(ROOT).with_suffix("").parts))
        mods[name[:-9] if name.endswith(".__init__") else name] = p
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        init = p.name == "__init__.py"
        for node in ast.walk(ast.parse(p.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                         for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            edges[m] |= {t for t in names if t in mods and t != m and not (init and t.startswith(m + "."))}
    return edges


def layers(edges: dict[str, set[str]]) -> list[list[str]]:
    """Modules in layers: each imports only from lower layers (raises on a cycle)."""
    done: set[str] = set()
    out = []
    while len(done) < len(edges):
        layer = sorted(m for m in edges if m not in done and edges[m] <= done)
        assert layer, f"import cycle among {sorted(set(edges) - done)}"
        out.append(layer)
        done |= set(layer)
    return out


def test_no_import_cycle():
    out = layers(import_graph())
    assert {"ltlib.errors", "ltlib.paths", "ltlib.reference"} <= set(out[0])
    flat = [m for layer in out for m in layer]
    assert flat.index("ltlib.config") < flat.index("ltlib.inference") < flat.index("ltlib.train") \
        < flat.index("ltlib.parallel")
    assert flat.index("ltlib.analysis") < flat.index("ltlib.methods.decoupling") < flat.index("ltlib.recipes") \
        < flat.index("ltlib.report")


def test_no_function_level_ltlib_imports():
    """Every ltlib import sits at the top of its module, so the graph above is the whole truth."""
    for p in ROOT.rglob("*.py"):
        tree = ast.parse(p.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ltlib"):
                        raise AssertionError(f"{p.relative_to(ROOT.parent)}:{node.lineno} imports {node.module} "
                                             f"inside {fn.name}()")


def test_the_engine_knows_no_particular_method():
    """train.py imports no head, loss or paper module: stage-1 loading, freezing and event-reading samplers are
    hooks of the Method (methods.base) and the sampler registry."""
    edges = import_graph()["ltlib.train"]
    assert not edges & {"ltlib.heads", "ltlib.losses", "ltlib.recipes"}
    assert not {e for e in edges if e.startswith("ltlib.methods.")} - {"ltlib.methods.base"}
    src = (ROOT / "train.py").read_text()
    for name in ("LWSHead", "EVENT_SAMPLERS", "train_parts", "legacy"):
        assert name not in src, name


VIEWS = {"ltlib.report", "ltlib.ladder", "ltlib.findings", "ltlib.study"}   # what reads records and renders them


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    """Every ltlib module `start` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for t in edges[todo.pop()] - seen:
            seen.add(t)
            todo.append(t)
    return seen


def test_planning_imports_no_view():
    """What to train is decided without the report: plans, regimes, recipes and the catalog import no view."""
    edges = import_graph()
    for m in ("ltlib.plans", "ltlib.regimes", "ltlib.recipes", "ltlib.catalog"):
        assert not reachable(edges, m) & VIEWS, f"{m} imports {sorted(reachable(edges, m) & VIEWS)}"
