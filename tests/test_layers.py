"""The layers of README's "How the parts fit", checked on the source: every import of the product packages
(module level and inside functions) goes down the arrows, never up or across, and there is no import cycle.

    shared domain (haochaping) ← kiosk
    shared domain ← server core (storage, ingest, ratings, workflow rules) ← server web (API, QR page, console
    views) ← command line (hcp and each part's sub-commands)

The kiosk and the server are installed apart, so neither imports the other; ``bench`` is not product code and
no product module imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("haochaping", "kiosk", "sync_server")
# the command lines: ``hcp`` and each part's sub-commands (``<part>.cli``), with what they share, and the demo data
# behind ``hcp server demo-data`` (it rates through the QR page as phones would)
CLI = {"haochaping.cli", "sync_server.commands", "sync_server.demo", "sync_server.demo_handling"}
# the server's web edge: HTTP routes, pages and what only they use
WEB = {
    "sync_server.app",
    "sync_server.api",
    "sync_server.qrpage",
    "sync_server.observability",
    "sync_server.console.web",
    "sync_server.console.auth",
    "sync_server.console.pages",
    "sync_server.console.errorpages",
    "sync_server.console.charts",
    "sync_server.console.reports",
    "sync_server.console.publish",  # freezes what console.reports renders
    "sync_server.console.integrity",
    "sync_server.console.auditview",
}
MAY_IMPORT = {
    "domain": {"domain"},
    "kiosk": {"domain", "kiosk"},
    "core": {"domain", "core"},
    "web": {"domain", "core", "web"},
    "cli": {"domain", "kiosk", "core", "web", "cli"},
}


def layer(module: str) -> str:
    if module in CLI or module.endswith(".cli"):
        return "cli"
    top = module.split(".")[0]
    if top == "haochaping":
        return "domain"
    if top == "kiosk":
        return "kiosk"
    if module in WEB or module.endswith(("_view", ".views")):
        return "web"
    return "core"


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in (*PRODUCT, "bench"):
        for path in (ROOT / package).rglob("*.py"):
            if "alembic" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its source (``from a import b`` counts ``a.b`` when that
    is a module, else ``a``)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    wanted = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            wanted.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            wanted.update(f"{base}.{alias.name}" for alias in node.names)
            wanted.add(base)
    found = set()
    for module in wanted:
        while module and module not in known:
            module = module.rpartition(".")[0]
        if module and module != name:
            found.add(module)
    return found


def import_graph() -> dict[str, set[str]]:
    known = product_modules()
    return {name: imported_modules(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_module_level_and_function_level_imports():
    graph = import_graph()
    assert "kiosk.outbox" in graph["kiosk.app"]  # module level
    assert "kiosk.view.screens" in graph["kiosk.app"]  # inside a method
    assert "haochaping.errors" in graph["kiosk.errors"]  # ``from x import y`` of a name
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_the_product_packages():
    graph = {name: targets for name, targets in import_graph().items() if name.split(".")[0] in PRODUCT}
    assert cycles(graph) == []


def test_every_import_goes_down_the_layers():
    against = []
    for name, targets in sorted(import_graph().items()):
        if name.split(".")[0] not in PRODUCT:
            continue
        for target in sorted(targets):
            if target.split(".")[0] == "bench":
                against.append(f"{name} → {target} (bench is not product code)")
            elif {name.split(".")[0], target.split(".")[0]} == {"kiosk", "sync_server"}:
                against.append(f"{name} → {target} (the kiosk and the server are installed apart)")
            elif layer(target) not in MAY_IMPORT[layer(name)]:
                against.append(f"{name} ({layer(name)}) → {target} ({layer(target)})")
    assert against == []


SERVER_ONLY = {"fastapi", "starlette", "sqlalchemy", "alembic", "holidays", "psycopg", "jinja2", "uvicorn", "argon2"}
KIOSK_ONLY = {"kivy", "requests", "sqlite_utils"}


def third_party(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_each_install_has_what_its_packages_import():
    """The shared domain needs neither extra; the kiosk needs nothing of the server's extra (``[kiosk]`` alone)."""
    wrong = []
    for name, path in product_modules().items():
        top = name.split(".")[0]
        if top == "haochaping" and name != "haochaping.cli":
            wrong += [f"{name} → {m}" for m in sorted(third_party(path) & (SERVER_ONLY | KIOSK_ONLY))]
        elif top == "kiosk":
            wrong += [f"{name} → {m}" for m in sorted(third_party(path) & SERVER_ONLY)]
    assert wrong == []


def sql_calls(path: Path, root: Path = ROOT) -> list[str]:
    """Where a module runs SQL itself: calls of ``.execute(`` or ``.exec_driver_sql(`` (on a connection or
    session), or of sqlalchemy's ``text(``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in {"execute", "exec_driver_sql"}:
            found.append(f"{path.relative_to(root)}:{node.lineno} .{func.attr}(")
        elif isinstance(func, ast.Name) and func.id == "text":
            found.append(f"{path.relative_to(root)}:{node.lineno} text(")
    return found


def test_the_sql_check_sees_execute_and_text(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("rows = conn.execute(text('SELECT 1'))\ncsv_text(rows)\n", encoding="utf-8")
    assert [line.split(" ", 1)[1] for line in sql_calls(sample, tmp_path)] == [".execute(", "text("]


def test_no_sql_in_view_or_command_line_modules():
    """SQL lives in ``sync_server/storage``: the server's web edge (API, QR page, console views) and every command
    line call its functions and run no SQL of their own."""
    found = []
    for name, path in sorted(product_modules().items()):
        if name.split(".")[0] == "sync_server" and layer(name) in {"web", "cli"}:
            found += sql_calls(path)
    assert found == []
