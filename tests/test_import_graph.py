"""The layering of ``utils``: imports at the top, no import cycle, no private name crossing modules.

Parsed with ``ast`` (nothing is imported), so a violation is reported with its file and line.
"""

import ast
import pathlib

import pytest

UTILS = pathlib.Path(__file__).resolve().parent.parent / "utils"

# Imports that must stay inside a function, each with its reason.
ALLOWED_LOCAL_IMPORTS = {
    # TensorFlow's native start-up lines are hidden by redirecting file descriptor 2 around the import.
    ("__init__.py", "tensorflow"),
}


def _modules():
    return sorted(p for p in UTILS.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path):
    parts = path.relative_to(UTILS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path):
    name = _module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _resolve(path, node):
    """The absolute module named by an ``ImportFrom`` node, or None for a third-party import."""
    if node.level == 0:
        return node.module if (node.module or "").split(".")[0] == "utils" else None
    base = _package_of(path).split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_module(name):
    relative = pathlib.Path(*name.split(".")[1:])
    return (UTILS / relative).with_suffix(".py").exists() or (UTILS / relative / "__init__.py").exists()


def _edges(path, tree):
    """``(target module, imported name, line)`` for every import of a ``utils`` module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(path, node)
            if target is None:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if _is_module(sub) else target), alias.name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "utils":
                    yield alias.name, alias.name, node.lineno


def _graph():
    graph = {}
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[_module_name(path)] = {target for target, _, _ in _edges(path, tree)}
    return graph


def _module_level_imports(statements):
    """Imports run when the module loads: top level, or a top-level ``try``/``if``/``with`` block."""
    for node in statements:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.Try, ast.If, ast.With)):
            blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
            blocks += [handler.body for handler in getattr(node, "handlers", [])]
            for block in blocks:
                yield from _module_level_imports(block)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(UTILS)))
def test_imports_are_at_the_top_of_the_module(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in _module_level_imports(tree.body)}
    local = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if not all((str(path.relative_to(UTILS)), n) in ALLOWED_LOCAL_IMPORTS for n in names):
                local.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert not local, f"{path.name} imports inside a function or block; move these to the top: {local}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(UTILS)))
def test_no_private_name_is_imported_from_another_module(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    private = [f"line {line}: {name} from {target}" for target, name, line in _edges(path, tree)
               if name.startswith("_") and not _is_module(f"{target}.{name}")
               and not _is_module(target + "." + name.lstrip("."))]
    assert not private, (f"{path.name} imports private names of other modules (make them public or move "
                         f"them to utils/_core.py / utils/_validate.py): {private}")


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph or target == node:
                continue
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_checker_finds_a_cycle_and_a_local_import(tmp_path, monkeypatch):
    """The tests above can fail: a package with a cycle and a function-level import is caught."""
    fake = tmp_path / "utils"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "a.py").write_text("from .b import g\n\ndef f():\n    from .b import h\n")
    (fake / "b.py").write_text("from .a import f\nfrom .a import _hidden\n")
    monkeypatch.setattr(__import__(__name__), "UTILS", fake)
    with pytest.raises(AssertionError, match="import cycle: utils.a -> utils.b -> utils.a"):
        test_the_import_graph_has_no_cycle()
    with pytest.raises(AssertionError, match="move these to the top"):
        test_imports_are_at_the_top_of_the_module(fake / "a.py")
    with pytest.raises(AssertionError, match="_hidden"):
        test_no_private_name_is_imported_from_another_module(fake / "b.py")
