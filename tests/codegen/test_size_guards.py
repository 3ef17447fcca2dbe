"""The generated model refuses input sizes it took as constants (codegen/size_guards.py)."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import pytest
import torch

import fx2mlx
from fx2mlx.validate import load_generated

from ..helpers import Lambda, assert_converts


def _swap(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], x.shape[2], x.shape[1]) * 2


def test_a_baked_size_is_checked_on_entry(tmp_path: Path) -> None:
    conv = assert_converts(Lambda(_swap), torch.randn(2, 3, 4))
    assert {(b.dim, b.value) for b in conv.report.baked_dims} == {(1, 3), (2, 4)}
    assert "if args_0.shape[1] != 3:" in conv.source
    conv.save(tmp_path / "out")
    model = load_generated(tmp_path / "out")
    assert model(mx.zeros((5, 3, 4))).shape == (5, 4, 3)  # the batch stays dynamic
    with pytest.raises(ValueError, match=r"args_0\.shape\[2\] is 6: model.py takes 4 only"):
        model(mx.zeros((5, 3, 6)))


def test_no_check_without_baked_sizes() -> None:
    conv = fx2mlx.convert(Lambda(lambda x: x.flatten(1) * 2), torch.randn(2, 3, 4))
    assert not conv.report.baked_dims and "raise ValueError" not in conv.source


def test_channels_last_input_is_checked_where_it_holds_the_dim() -> None:
    """With channels-last I/O the generated model takes (N, H, W, C): torch's dims 2 and 3
    are axes 1 and 2. Dim 1, the channels, is fixed by the conv's weight (the probe capture
    shows it can't vary): not a baked size, but checked on axis 3 as the model checks it."""

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return y.reshape(y.shape[0], x.shape[3], x.shape[2], x.shape[1])

    conv = fx2mlx.convert(Model(), torch.randn(2, 3, 8, 6), channels_last_io=True)
    assert conv.validate().ok
    assert {b.dim for b in conv.report.baked_dims if not b.by_model} == {2, 3}
    assert [b.dim for b in conv.report.baked_dims if b.by_model] == [1]
    for b in conv.report.baked_dims:
        axis = {1: 3, 2: 1, 3: 2}[b.dim]
        assert f"x.shape[{axis}] != {b.value}" in conv.source
