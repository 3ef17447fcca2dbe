"""Nothing a model holds can put code into ``model.py``.

Models whose class names, qualnames, module names, attribute and parameter names, ModuleDict
keys, output keys, constants and command carry quotes, triple quotes, backslashes, line
breaks, ``#``, NUL, unicode, keywords and the generated file's own names. Each must convert to
a file that parses, imports only MLX and the standard library, defines exactly its classes,
``load`` and the helpers, runs nothing at import, loads strict and matches torch.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.converters.helpers import HELPERS

from ..helpers import assert_converts, assert_roundtrip

PAYLOAD = 'T""";__import__("os").system("touch PWNED");"""'
HOSTILE = [
    PAYLOAD,
    "q'''\\'",
    "back\\slash\\",
    "new\nline\r\n# comment",
    "tab\tnul\x00sep\u2028end\x85",
    "#hash",
    "ünï cödé 名前",
    "class",
    "class_",
    "lambda",
    "__call__",
    "__init__",
    "sanitize",
    "load",
    "mx",
    "self",
    "ﬁlter",
    "filter",
    "0digit",
    "_private",
]
# Names torch can hold as attributes and keys: no dots (torch splits paths on them), and
# `__call__` only as a parameter (a submodule of that name can't even be traced).
NAMES = ['T""";exec("touch PWNED")\n#"""'] + [
    n for n in HOSTILE[1:] if "__init__" != n != "__call__"
]
PARAMS = [*NAMES, "__call__", "__init__"]
ALLOWED_IMPORTS = {"mlx.core", "mlx.nn", "mlx.utils", "pathlib", "math", "itertools", "json"}


def _named(base: type, name: str) -> type:
    """``base`` under a hostile class name, qualname and module name."""
    attrs = {"__module__": name, "__qualname__": f"{name}.<locals>.{name}"}
    return type(name.replace("\x00", ""), (base,), attrs)  # only a class's name can't hold NUL


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.lin(x))


class Layers(nn.Module):
    """One child per hostile name, of hostile classes."""

    def __init__(self) -> None:
        super().__init__()
        classes = [_named(Block, name) for name in HOSTILE[:7]]
        for i, name in enumerate(NAMES):  # torch's setters refuse some of these names
            self._modules[name] = classes[i % len(classes)]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self._modules.values():
            x = layer(x)
        return x


class Table(nn.Module):
    """A ModuleDict keyed by hostile names, and parameters named by them."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.ModuleDict()
        for name in NAMES:
            self.table._modules[name] = nn.Linear(4, 4)
        for name in PARAMS:
            self._parameters[name] = nn.Parameter(1 + 0.1 * torch.randn(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in NAMES:
            x = torch.tanh(self.table[name](x))
        for name in PARAMS:
            x = x * self._parameters[name]
        return x


class Consts(nn.Module):
    """Buffers outside the state_dict (rebuilt as literals) under hostile names, holding
    infinities and NaN."""

    def __init__(self) -> None:
        super().__init__()
        values = {
            NAMES[0]: torch.tensor([-float("inf"), -1e30, -float("inf"), 2.5]),
            NAMES[3]: torch.full((4,), float("inf")),
            "sanitize": torch.tensor([float("nan"), 1.0, float("nan"), 0.0]),
            "ﬁlter": torch.arange(4.0),
        }
        for name, value in values.items():
            self._buffers[name] = value
            self._non_persistent_buffers_set.add(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi, mask, step = (self._buffers[n] for n in (NAMES[0], NAMES[3], "sanitize", "ﬁlter"))
        x = torch.minimum(torch.maximum(x, lo), hi)
        return torch.where(torch.isnan(mask), x, x * 2) + step


class Outputs(nn.Module):
    """A dict output keyed by hostile names."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.lin(x)
        return {name: y + i for i, name in enumerate(HOSTILE)}


class Norms(nn.Module):
    """Constructor values that differ between instances become ``__init__`` parameters; one
    of them is of a ``float`` subclass whose name is code."""

    def __init__(self) -> None:
        super().__init__()
        evil = type(f'float = 1.0, z=exec("touch PWNED")) -> {PAYLOAD}', (float,), {})
        self.a = Normed(evil(1e-5))
        self.b = Normed(1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


class Normed(nn.Module):
    def __init__(self, eps: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


MODELS = {
    "class_names": lambda: _named(Block, PAYLOAD)(),
    "attribute_names": lambda: _named(Layers, HOSTILE[3])(),
    "dict_keys_and_params": Table,
    "constants": Consts,
    "output_keys": Outputs,
    "value_types": Norms,
}


def _module_names(tree: ast.Module) -> set[str]:
    """What the file defines at module level; anything but definitions, imports and the
    docstring is an error (it would run at import)."""
    names: set[str] = set()
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        else:
            assert i == 0 and isinstance(node, ast.Expr), ast.dump(node)[:200]
    return names


def _check_source(source: str, classes: set[str]) -> None:
    tree = ast.parse(source)
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imports |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imports <= ALLOWED_IMPORTS, imports - ALLOWED_IMPORTS
    defined = _module_names(tree)
    assert defined - set(HELPERS) == {"mx", "nn", "Path", "json", "load", "_weights", *classes}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        body = cls.body[1:] if ast.get_docstring(cls) is not None else cls.body
        assert all(isinstance(n, ast.FunctionDef) for n in body), cls.name  # nothing runs
    # load() is the template's own text: its compile=True calls mx.compile
    derived = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name == "load")]
    nodes = [n for top in derived for n in ast.walk(top)]
    code = {n.id for n in nodes if isinstance(n, ast.Name)}
    code |= {n.attr for n in nodes if isinstance(n, ast.Attribute)}
    assert not code & {"__import__", "exec", "compile", "os", "system"}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_hostile_names_stay_inert(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the payload would write
    model = MODELS[case]().eval()
    x = torch.randn(2, 4)
    conv = assert_converts(model, x, command=f"fx2mlx convert {PAYLOAD}\n{HOSTILE[4]}")
    _check_source(conv.source, set(conv.report.classes))
    assert_roundtrip(model, conv, (x,), tmp_path / "out")
    assert not (tmp_path / "PWNED").exists()


def test_the_docstring_shows_hostile_names_as_text() -> None:
    model = _named(Block, PAYLOAD)().eval()
    conv = fx2mlx.convert(model, torch.randn(2, 4), command=f"run {HOSTILE[4]}")
    doc = ast.get_docstring(ast.parse(conv.source), clean=False) or ""
    assert f"MLX port of {PAYLOAD}.{PAYLOAD}.<locals>.{PAYLOAD}, generated by fx2mlx." in doc
    assert "Regenerate with:\n    run tab\\tnul\\x00sep\\u2028end\\x85\n" in doc
    for cls in ast.parse(conv.source).body:
        if isinstance(cls, ast.ClassDef) and ast.get_docstring(cls):
            assert PAYLOAD in (ast.get_docstring(cls) or "")


def test_comments_stay_one_line() -> None:
    from fx2mlx.codegen.text import comment_text, docstring_text, inline_text

    for text in HOSTILE:
        assert "\n" not in comment_text(text) and "\r" not in comment_text(text)
        assert comment_text(text).isprintable() and inline_text(text).isprintable()
        source = f'"""{docstring_text(text)}"""\n'
        assert ast.literal_eval(source) == text  # escaped, not altered


class Tokens(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.emb(input_ids)


class Image(nn.Module):
    def __init__(self, dims: int = 2) -> None:
        super().__init__()
        self.conv = (nn.Conv1d if dims == 1 else nn.Conv2d)(3, 4, 3)

    def forward(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * scale


LAYOUTS = {
    "token_ids": (Tokens, (torch.randint(0, 10, (2, 10)),), False, ["input_ids: (2, 10) int64"]),
    "image": (
        Image,
        (torch.randn(2, 3, 8, 8), torch.randn(4, 1, 1)),
        False,
        ["x: (2, 3, 8, 8) float32, axes (N, C, H, W)", "scale: (4, 1, 1) float32"],
    ),
    "image_channels_last": (
        Image,
        (torch.randn(2, 3, 8, 8), torch.randn(4, 1, 1)),
        True,
        ["x: (2, 8, 8, 3) float32, axes (N, H, W, C)", "channels-last"],
    ),
    "sequence": (
        lambda: Image(1),
        (torch.randn(2, 3, 16), torch.randn(4, 1)),
        False,
        ["x: (2, 3, 16) float32, axes (N, C, L)"],
    ),
}


@pytest.mark.parametrize("case", sorted(LAYOUTS))
def test_module_docstring_states_each_inputs_layout(case: str) -> None:
    factory, inputs, channels_last_io, expected = LAYOUTS[case]
    conv = fx2mlx.convert(factory().eval(), inputs, channels_last_io=channels_last_io)
    doc = ast.get_docstring(ast.parse(conv.source)) or ""
    assert "e.g. NCHW" not in doc
    if not channels_last_io:  # a tensor no convolution reads gets no axis names
        assert "scale: (4, 1, 1) float32, axes" not in doc
    for text in expected:
        assert text in doc, doc


def test_comment_text_is_inert_where_statements_are_written() -> None:
    from torch import fx

    from fx2mlx.codegen.render import statement_lines
    from fx2mlx.codegen.statements import op
    from fx2mlx.expr import Expr

    graph = fx.Graph()
    node = graph.placeholder("x")
    for comment in HOSTILE:
        stmt = op(node, Expr("f(x)"), 0, comment=comment)
        lines = statement_lines(stmt, ["y"], lambda e: e.text, comment=stmt.comment)
        source = "\n".join(lines) + "\n"
        tree = ast.parse(source)
        assert len(lines) == len(tree.body) == 1 and source.count("\n") == 1, lines


class Key:
    """An output dict key whose ``repr`` is code."""

    def __repr__(self) -> str:
        return '__import__("os").system("touch PWNED")'


class ObjectKeys(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[object, torch.Tensor]:
        return {Key(): x * 2}


def test_an_output_key_object_is_refused_not_repr_d() -> None:
    with pytest.raises(fx2mlx.Fx2MlxError, match=r"^\[fx2mlx\] an output dict key of type Key"):
        fx2mlx.convert(ObjectKeys(), torch.randn(2, 3))
