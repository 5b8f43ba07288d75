"""The shape of the code: a core that knows no framework, edges that import it, never back.

The imports of every module in ``bot/`` are read from its source (AST, so an import inside a
function counts too) and checked against the layers:

    base       bot.logs, bot.metrics                 import nothing of the bot
    core       bot.core                              base only; no framework, no edge
    settings   bot.settings                          core
    edges      bot.slack, bot.sipgate, bot.store     core (through its façade), base,
                                                     settings; never another edge
    sandbox    bot.sandbox                           anything; only the demo imports it
    root       bot.app, bot.check, bot.demo, bot.login,    anything (they wire the rest)
               bot.export, bot.__main__
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("slack_bolt", "slack_sdk", "aiohttp", "sqlalchemy", "asyncpg", "yarl")
EDGES = ("bot.slack", "bot.sipgate", "bot.store")
BASE = ("bot.logs", "bot.metrics")
ROOTS = ("bot", "bot.__main__", "bot.app", "bot.check", "bot.demo", "bot.export", "bot.login")


@cache
def modules() -> dict[str, Path]:
    """Every module of the bot package by dotted name."""
    found = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(module: str) -> set[str]:
    """What ``module`` imports: bot modules by full name, other packages by top-level name."""
    tree = ast.parse(modules()[module].read_text())
    return {target for node in ast.walk(tree) for target in _targets(module, node)}


def _targets(module: str, node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (_resolved(alias.name) for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(module, node)
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            yield submodule if submodule in modules() else _resolved(base)


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if modules()[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _resolved(name: str) -> str:
    return name if name.startswith("bot") else name.split(".")[0]


def package_of(module: str) -> str:
    """``bot.core`` for ``bot.core.model``; a top-level module is its own package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def in_package(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def bot_imports(module: str) -> set[str]:
    return {target for target in imports(module) if target.startswith("bot")}


# --- the rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(m for m in modules() if in_package(m, ("bot.core",))))
def test_the_core_imports_no_framework_and_no_edge(module: str) -> None:
    found = imports(module)
    assert not found & set(FRAMEWORKS), f"{module} imports a framework"
    outside = {t for t in bot_imports(module) if not in_package(t, ("bot.core", *BASE))}
    assert not outside, f"{module} imports {sorted(outside)} from outside the core"


@pytest.mark.parametrize("module", BASE)
def test_logging_and_metrics_import_nothing_of_the_bot(module: str) -> None:
    assert bot_imports(module) == set()


def test_settings_import_only_the_core() -> None:
    assert all(in_package(t, ("bot.core",)) for t in bot_imports("bot.settings"))


@pytest.mark.parametrize("module", sorted(m for m in modules() if in_package(m, EDGES)))
def test_an_edge_imports_the_core_through_its_facade_and_no_other_edge(module: str) -> None:
    own = package_of(module)
    for target in bot_imports(module):
        if in_package(target, (own,)):
            continue
        assert not in_package(target, EDGES), f"{module} imports another edge: {target}"
        assert target in ("bot.core", *BASE, "bot.settings"), f"{module} imports {target}"


def test_only_the_demo_imports_the_sandbox() -> None:
    importers = {
        module
        for module in modules()
        if not in_package(module, ("bot.sandbox",))
        and any(in_package(t, ("bot.sandbox",)) for t in bot_imports(module))
    }
    assert importers == {"bot.demo"}


def test_nothing_imports_the_root_but_the_root() -> None:
    for module in modules():
        if module in ROOTS or in_package(module, ("bot.sandbox",)):
            continue
        assert not bot_imports(module) & set(ROOTS), f"{module} imports the composition root"


def test_every_module_is_in_a_layer() -> None:
    layers = ("bot.core", "bot.settings", "bot.sandbox", *BASE, *EDGES)
    unplaced = [m for m in modules() if m not in ROOTS and not in_package(m, layers)]
    assert unplaced == [], "a new module must belong to a layer (see the module docstring)"


def test_the_package_graph_has_no_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for module in modules():
        if module == "bot":
            continue
        targets = {package_of(t) for t in bot_imports(module)} - {package_of(module), "bot"}
        graph.setdefault(package_of(module), set()).update(targets)
    assert _cycle(graph) is None, f"package cycle: {_cycle(graph)}"


def test_the_module_graph_has_no_cycle() -> None:
    graph = {module: bot_imports(module) - {module} for module in modules()}
    # A package imports its own modules to re-export them; that is not a cycle back.
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not (module.startswith(t + ".") and t in modules())}
    assert _cycle(graph) is None, f"module cycle: {_cycle(graph)}"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target] if target in path else [node, target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


# --- the checker itself --------------------------------------------------------------------------


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path: Path) -> None:
    source = "from . import model\n\ndef f() -> None:\n    import aiohttp\n"
    module = "bot.core.sending"
    tree = ast.parse(source)
    found = {t for node in ast.walk(tree) for t in _targets(module, node)}
    assert found == {"bot.core.model", "aiohttp"}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", ["bot.core", *EDGES])
def test_every_package_facade_exports_what_it_lists(package: str) -> None:
    facade = __import__(package, fromlist=["__all__"])
    assert facade.__all__, f"{package} has no __all__"
    missing = [name for name in facade.__all__ if not hasattr(facade, name)]
    assert missing == []
