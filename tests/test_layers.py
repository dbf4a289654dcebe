"""core/ is arranged by layer: nothing imports upward, no module imports form a circle, plugins use core.api only."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: a layer may import the layers before it (core's top-level modules: errors, yamlfile, i18n, settings, api, cli)
ORDER = ["plugins.contributions", "data", "plugins", "runtime", "web"]


def _module_imports(path: Path) -> set[str]:
    """core modules imported when ``path`` is imported (not those inside functions or TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.module.split(".")[0] == "core":
                found.add(child.module)
                found.update(f"{child.module}.{a.name}" for a in child.names)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.split(".")[0] == "core")
            visit(child)
    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _core_graph() -> dict[str, set[str]]:
    mods: dict[str, Path] = {}
    for f in (ROOT / "core").rglob("*.py"):
        if "migrations" in f.parts:
            continue
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = f
    return {m: {d for d in _module_imports(f) if d in mods and d != m} for m, f in mods.items()}


def _layer(module: str) -> int | None:
    rest = module.split(".", 1)[1] if "." in module else ""
    matches = [(len(p), i) for i, p in enumerate(ORDER) if rest == p or rest.startswith(p + ".")]
    return max(matches)[1] if matches else None  # the longest prefix: plugins.contributions before plugins


def test_no_module_imports_upward() -> None:
    upward = []
    for mod, deps in _core_graph().items():
        if mod == "core.plugins.testing":  # the vendors' harness builds whole apps: it sits on top
            continue
        mine = _layer(mod)
        for dep in deps:
            theirs = _layer(dep)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{mod} -> {dep}")
    assert upward == []


def test_core_imports_form_no_circle() -> None:
    graph = _core_graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(stack[stack.index(nxt):] + [nxt])
            elif not state.get(nxt):
                dfs(nxt, stack)
        stack.pop()
        state[node] = 2
    for node in sorted(graph):
        if not state.get(node):
            dfs(node, [])
    assert circles == []


def test_plugins_import_core_api_only() -> None:
    offenders = []
    for f in (ROOT / "plugins").rglob("*.py"):
        if "tests" in f.parts:
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for n in names:
                if n.split(".")[0] == "core" and n != "core.api":
                    offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}: {n}")
    assert offenders == []
