"""Names from the model become safe identifiers; nothing in a model can inject code."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import torch
from torch import nn

import fx2mlx
from fx2mlx.validate import load_generated

from .helpers import assert_converts


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
