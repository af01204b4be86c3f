"""The type stubs (bilens/__init__.pyi) describe the extension module as it is: every public
name, every function's and method's parameters (names, kinds and defaults), and properties
where the module has attributes."""

import ast
import inspect
from pathlib import Path

import pytest

import bilens

STUB = ast.parse((Path(bilens.__file__).parent / "__init__.pyi").read_text())


def stub_parameters(node: ast.FunctionDef) -> list[tuple[str, str, object]]:
    """(name, kind, default) of a stub function's parameters, as ``inspect`` names them."""
    a = node.args
    positional = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + [ast.literal_eval(d) for d in a.defaults]
    rows = [(p.arg, "POSITIONAL_OR_KEYWORD", d) for p, d in zip(positional, defaults)]
    if a.vararg:
        rows.append((a.vararg.arg, "VAR_POSITIONAL", inspect.Parameter.empty))
    kw_defaults = [inspect.Parameter.empty if d is None else ast.literal_eval(d) for d in a.kw_defaults]
    rows += [(p.arg, "KEYWORD_ONLY", d) for p, d in zip(a.kwonlyargs, kw_defaults)]
    if a.kwarg:
        rows.append((a.kwarg.arg, "VAR_KEYWORD", inspect.Parameter.empty))
    return rows


def runtime_parameters(function) -> list[tuple[str, str, object]]:
    rows = []
    for p in inspect.signature(function).parameters.values():
        kind = "POSITIONAL_OR_KEYWORD" if p.kind == p.POSITIONAL_ONLY and p.name == "self" else p.kind.name
        rows.append((p.name, kind, p.default))
    return rows


def stubbed():
    """(qualified name, stub node, runtime object) of every function and method in the stub."""
    for node in STUB.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node, getattr(bilens, node.name)
        elif isinstance(node, ast.ClassDef):
            cls = getattr(bilens, node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item, (cls if item.name == "__init__" else inspect.getattr_static(cls, item.name))


def test_every_public_name_is_stubbed():
    names = {n.name for n in STUB.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.target.id for t in STUB.body if isinstance(t, ast.AnnAssign)}
    assert set(bilens.__all__) <= names
    assert names - set(bilens.__all__) <= {"StrPath", "ArrayLike", "DataArg"}
    for node in STUB.body:
        if isinstance(node, ast.ClassDef):
            members = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
            public = {n for n in vars(getattr(bilens, node.name)) if not n.startswith("_")}
            assert public <= members, f"{node.name}: {sorted(public - members)} are not in the stub"


STUBBED = list(stubbed())


@pytest.mark.parametrize(("name", "node", "runtime"), STUBBED, ids=[s[0] for s in STUBBED])
def test_stub_matches_the_module(name, node, runtime):
    decorators = {d.id for d in node.decorator_list if isinstance(d, ast.Name)}
    if "property" in decorators:
        assert inspect.isdatadescriptor(runtime), f"{name} is a property in the stub"
        return
    if isinstance(runtime, staticmethod):
        assert "staticmethod" in decorators, f"{name} is a static method"
        runtime = runtime.__func__
    expected = stub_parameters(node)
    if node.name == "__init__":  # the class's signature leaves out `self`
        expected = expected[1:]
    assert runtime_parameters(runtime) == expected, name
