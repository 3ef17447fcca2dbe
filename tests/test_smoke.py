"""End-to-end smoke tests on tiny models (both frontends)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from .helpers import Lambda, assert_converts


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_mlp(frontend: str) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    conv = assert_converts(model, torch.randn(3, 4), frontend=frontend)
    assert conv.report.frontend == frontend


def test_dynamic_batch_runs_at_other_batch_sizes() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    conv = assert_converts(model, torch.randn(2, 3, 8, 8), fresh=0)
    assert conv.report.dynamic_batch
    result = conv.validate([(torch.randn(5, 3, 8, 8),), (torch.randn(1, 3, 8, 8),)])
    assert result.ok, result.table()


def test_elementwise_lambda() -> None:
    assert_converts(
        Lambda(lambda a, b: torch.relu(a) * b + 1.0), (torch.randn(2, 3), torch.randn(2, 3))
    )


@pytest.mark.parametrize("name", ["vad_cnn", "resnet18", "transformer"])
def test_examples_through_the_fx_frontend(name: str) -> None:
    import importlib

    from fx2mlx.examples import EXAMPLES

    module, attr = EXAMPLES[name].split(":")
    model, inputs = getattr(importlib.import_module(module), attr)()
    conv = assert_converts(model, inputs, frontend="fx")
    assert conv.report.frontend == "fx"
    if name != "transformer":  # fx keeps the whole module structure: same file as export
        import fx2mlx

        assert conv.source == fx2mlx.convert(model, inputs, frontend="export").source


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.fc(x))
        return h if y is None else h * y


class _SharedBlock(nn.Module):
    """One module called three times, once with another argument; mixed output structure."""

    def __init__(self) -> None:
        super().__init__()
        self.block = _Block()
        self.register_buffer("scale", torch.tensor([2.0, 3.0, 4.0, 5.0]))

    def forward(self, x: torch.Tensor) -> dict:
        a = self.block(x)
        c = self.block(self.block(a), a)
        return {"out": (c * self.scale, None), "n": x.shape[0], "same": x}


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_module_called_several_ways(frontend: str) -> None:
    conv = assert_converts(_SharedBlock(), torch.randn(3, 4), frontend=frontend)
    assert '"n": x.shape[0]' in conv.source and "None)" in conv.source


class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = _Block()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(self.block(x))


def test_module_called_twice_alike_keeps_its_class() -> None:
    conv = assert_converts(_Twice(), torch.randn(3, 4))
    assert "class Block(nn.Module)" in conv.source and conv.report.classes["Block"] == 2


def test_star_args_forward_keeps_a_dynamic_batch() -> None:
    conv = assert_converts(Lambda(lambda a, b: a * b), (torch.randn(2, 3), torch.randn(2, 3)))
    assert conv.report.dynamic_batch and conv.report.warnings == []
