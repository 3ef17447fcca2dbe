"""Weights keep their shapes and land under the generated parameter paths."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .helpers import assert_converts, assert_roundtrip


class ScaledLinear(nn.Module):
    """A 0-d parameter, as CLIP's ``logit_scale``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.logit_scale = nn.Parameter(torch.tensor(0.7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * self.logit_scale.exp()


def test_scalar_parameter_keeps_its_shape(tmp_path: Path) -> None:
    model = ScaledLinear()
    conv = assert_converts(model, (torch.randn(2, 4),))
    assert conv.weights["logit_scale"].shape == ()
    assert_roundtrip(model, conv, (torch.randn(2, 4),), tmp_path / "out")
