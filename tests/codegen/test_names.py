"""Names from the model become safe identifiers; nothing in a model can inject code."""

from __future__ import annotations

import ast
import unicodedata
from pathlib import Path

import mlx.core as mx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx
from fx2mlx.validate import load_generated

from ..helpers import assert_converts, assert_roundtrip


class Odd(nn.Module):
    """Attribute names that are keywords, MLX Module methods, or not identifiers at all."""

    def __init__(self) -> None:
        super().__init__()
        self.add_module("lambda", nn.Linear(4, 4))
        self.update = nn.Linear(4, 4)  # shadows mlx.nn.Module.update
        self.add_module("my-layer", nn.Linear(4, 3))
        self.blocks = nn.ModuleDict({"a-b": nn.Linear(3, 3)})
        self.keys = nn.Parameter(torch.randn(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.update(getattr(self, "lambda")(x))
        x = getattr(self, "my-layer")(x)
        return self.blocks["a-b"](x) + self.keys


def test_odd_attribute_names(tmp_path: Path) -> None:
    model = Odd()
    conv = assert_converts(model, torch.randn(2, 4))
    assert "self.lambda_ = nn.Linear" in conv.source and "self.update_ = " in conv.source
    assert "self.my_layer" in conv.source and "self.blocks['a-b']" in conv.source.replace('"', "'")
    # a raw torch state_dict loads through sanitize (renamed attributes included)
    conv.save(tmp_path / "o")
    generated = load_generated(tmp_path / "o")
    fresh = type(generated)()
    raw = {k: mx.array(v.numpy()) for k, v in model.state_dict().items()}
    fresh.load_weights(list(fresh.sanitize(raw).items()), strict=True)


def test_quotes_in_the_command_cannot_escape_the_docstring() -> None:
    evil = 'x"""\nimport os\nos.system("echo pwned")\n"""'
    conv = fx2mlx.convert(nn.Linear(2, 2), torch.randn(1, 2), command=evil)
    namespace: dict = {}
    exec(compile(conv.source, "model.py", "exec"), namespace)  # noqa: S102 - the point
    assert "os" not in namespace


def test_class_names_are_sanitized() -> None:
    cls = type(
        "my-weird class",
        (nn.Module,),
        {
            "__init__": lambda self: (
                nn.Module.__init__(self),
                setattr(self, "fc", nn.Linear(2, 2)),
            )[0],
            "forward": lambda self, x: self.fc(x),
        },
    )
    conv = assert_converts(cls(), torch.randn(2, 2))
    assert "class My_weird_class(nn.Module)" in conv.source


class Named(nn.Module):
    """Children under exactly the given names, applied in order (``_modules`` and
    ``_parameters`` are filled directly: torch's setters refuse some of these names)."""

    def __init__(
        self,
        layers: tuple[str, ...] | list[str] = (),
        params: tuple[str, ...] | list[str] = (),
        consts: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__()
        self.order = (list(layers), list(params), list(consts))
        for name in layers:
            self._modules[name] = nn.Linear(4, 4)
        for name in params:
            self._parameters[name] = nn.Parameter(1 + 0.1 * torch.randn(4))
        for name in consts:  # not in the state_dict: rebuilt as a private attribute
            self._buffers[name] = torch.arange(4.0)
            self._non_persistent_buffers_set.add(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers, params, consts = self.order
        for name in layers:
            x = self._modules[name](x)
        for name in params:
            x = x * self._parameters[name]
        for name in consts:
            x = x + self._buffers[name]
        return x


COLLISIONS = {
    # two torch names, one generated name: each case once wrote a wrong or unloadable model
    "keyword_and_its_escape": Named(["class", "class_"]),
    "keyword_param": Named(params=["import", "import_"]),
    "generated_method": Named(["sanitize"]),
    "generated_method_param": Named(params=["sanitize", "__call__", "__init__"]),
    "nfkc_folded": Named(["ﬁlter", "filter"]),  # Python reads `self.ﬁlter` as `self.filter`
    "fullwidth_unicode": Named(["ｆｃ", "fc", "größe"]),
    "underscore": Named(params=["_scale", "scale"]),  # MLX ignores `_` attributes
    "mlx_internal": Named(consts=["no_grad"]),  # `self._no_grad` is MLX's own
}


@pytest.mark.parametrize("case", sorted(COLLISIONS))
def test_name_collisions_load_strict(case: str, tmp_path: Path) -> None:
    model = COLLISIONS[case].eval()
    x = torch.randn(2, 4)
    conv = assert_converts(model, x)
    assert_roundtrip(model, conv, (x,), tmp_path / "out")


def test_renamed_attributes_stay_readable() -> None:
    conv = fx2mlx.convert(
        Named(["class", "class_", "größe"], ["sanitize", "_scale"]), torch.randn(2, 4)
    )
    for line in ("self.class_ = ", "self.class_2 = ", "self.größe = ", "self.sanitize_ = "):
        assert line in conv.source
    assert "self.scale = " in conv.source


class Holder(nn.Module):
    """A block with an optional child whose torch name is a keyword."""

    def __init__(self, with_child: bool) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.add_module("class", nn.Linear(4, 4) if with_child else None)
        self.add_module("class_", nn.Linear(4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.class_(self.lin(x))
        child = getattr(self, "class")
        return child(x) if child is not None else x


class TwoHolders(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = Holder(True)
        self.b = Holder(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


def test_optional_child_with_a_renamed_name(tmp_path: Path) -> None:
    model = TwoHolders().eval()
    x = torch.randn(2, 4)
    conv = assert_converts(model, x)
    assert_roundtrip(model, conv, (x,), tmp_path / "out")
    assert conv.source.count("class Holder(") == 1  # one class, the child optional


def _renamed(name: str, base: type = Named) -> type:
    return type(name, (base,), {"__module__": "user.models", "__qualname__": name})


class Pair(nn.Module):
    """Children of two classes whose names Python reads as one, and classes named like the
    file's own names."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__()
        self.a = _renamed(first)(["fc"])
        self.b = _renamed(second)(["fc"], params=["w"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


@pytest.mark.parametrize(
    "first, second",
    [("Ｂlock", "Block"), ("path", "Load"), ("true", "none"), ("My-Block", "My_Block")],
)
def test_class_name_collisions(first: str, second: str, tmp_path: Path) -> None:
    model = Pair(first, second).eval()
    x = torch.randn(2, 4)
    conv = assert_converts(model, x)
    assert_roundtrip(model, conv, (x,), tmp_path / "out")
    tree = ast.parse(conv.source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert len(classes) == len({unicodedata.normalize("NFKC", c) for c in classes}) == 3
    assert not {"Path", "True", "None", "load"} & set(classes)


class LayerParam(nn.Module):
    """A forward parameter named like the generated loop variable."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])

    def forward(self, x: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
        for block in self.layers:
            x = block(x)
        return x + layer


def test_parameter_named_like_the_loop_variable(tmp_path: Path) -> None:
    model = LayerParam().eval()
    inputs = (torch.randn(2, 4), torch.randn(2, 4))
    conv = assert_converts(model, inputs)
    assert "for layer in self.layers:" in conv.source
    assert_roundtrip(model, conv, inputs, tmp_path / "out")


class HelperNames(nn.Module):
    """A forward parameter and a local variable named like helpers the body calls."""

    def forward(self, max_pool: torch.Tensor) -> torch.Tensor:
        avg_pool = F.max_pool2d(max_pool, 3, 2, ceil_mode=True)
        return F.avg_pool2d(avg_pool, 2, ceil_mode=True, count_include_pad=False) * 2


def test_helper_names_are_never_taken(tmp_path: Path) -> None:
    model = HelperNames().eval()
    x = torch.randn(1, 2, 9, 9)
    conv = assert_converts(model, x)
    assert "def max_pool(" in conv.source and "def avg_pool(" in conv.source
    assert_roundtrip(model, conv, (x,), tmp_path / "out")


class WithAttention(nn.Module):
    """A user class named like the helper class fx2mlx emits for ``nn.MultiheadAttention``."""

    def __init__(self) -> None:
        super().__init__()
        self.mine = _renamed("MultiheadAttention")(["fc"])
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.mine(x), x, x, need_weights=False)[0]


def test_class_named_like_a_helper_class(tmp_path: Path) -> None:
    model = WithAttention().eval()
    x = torch.randn(2, 3, 4)
    conv = assert_converts(model, x)
    assert_roundtrip(model, conv, (x,), tmp_path / "out")
    classes = [n.name for n in ast.parse(conv.source).body if isinstance(n, ast.ClassDef)]
    assert len(set(classes)) == len(classes) and "MultiheadAttention" in classes
