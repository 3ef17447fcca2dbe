"""Parametrized layers (weight_norm, spectral_norm; parametrizations and legacy hooks): the
MLX layer holds the computed weight, and ``sanitize`` recomputes it from PyTorch's keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.utils as legacy
from torch import nn
from torch.nn.utils import parametrizations, parametrize

from .helpers import assert_converts, assert_roundtrip

Wrap = Callable[[nn.Module], nn.Module]

WRAPS: dict[str, Wrap] = {
    "weight_norm": lambda m: parametrizations.weight_norm(m),
    "weight_norm_dim2": lambda m: parametrizations.weight_norm(m, dim=2),  # Wav2Vec2's
    "weight_norm_whole": lambda m: parametrizations.weight_norm(m, dim=None),
    "legacy_weight_norm": lambda m: legacy.weight_norm(m),
    "legacy_weight_norm_dim2": lambda m: legacy.weight_norm(m, dim=2),
    "spectral_norm": lambda m: parametrizations.spectral_norm(m),
    "legacy_spectral_norm": lambda m: legacy.spectral_norm(m),
}
# every kind on a conv; on a linear (2-D weight), the kinds whose reshaping differs
CASES = [("conv", k) for k in WRAPS] + [
    ("linear", k) for k in ("weight_norm", "spectral_norm", "legacy_spectral_norm")
]


class ConvThenLinear(nn.Module):
    def __init__(self, conv: nn.Module, linear: nn.Module) -> None:
        super().__init__()
        self.conv = conv
        self.linear = linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.relu(self.conv(x)).transpose(1, 2))


def _trained(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Move every original tensor away from its init, and let spectral_norm's power
    iteration run (training mode), so the computed weight is no identity of its sources."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 + 0.5 * torch.rand_like(p))
        model.train()(x)
    return model.eval()


@pytest.mark.parametrize("where,kind", CASES)
def test_parametrized_layer(where: str, kind: str, tmp_path: Path) -> None:
    conv, linear = nn.Conv1d(4, 6, 3, padding=1), nn.Linear(6, 5)
    if where == "conv":
        conv = WRAPS[kind](conv)
    else:
        linear = WRAPS[kind](linear)
    x = torch.randn(2, 4, 9)
    model = _trained(ConvThenLinear(conv, linear), x)
    conv_ = assert_converts(model, (x,), fresh=2)
    assert "Parametrized" not in conv_.source
    assert f"self.{where} = nn.{'Conv1d' if where == 'conv' else 'Linear'}(" in conv_.source
    assert_roundtrip(model, conv_, (x,), tmp_path / "out")  # sanitize on the torch keys


def test_weight_normed_conv_transpose(tmp_path: Path) -> None:
    """EnCodec's decoder: the MLX layer is named for the original class, not torch's
    ``ParametrizedConvTranspose1d``."""
    up = parametrizations.weight_norm(nn.ConvTranspose1d(4, 6, 4, stride=2))
    x = torch.randn(2, 4, 9)
    model = _trained(ConvThenLinear(up, nn.Linear(6, 5)), x)
    conv_ = assert_converts(model, (x,), fresh=2)
    assert "self.conv = nn.ConvTranspose1d(4, 6, kernel_size=4, stride=2)" in conv_.source
    assert_roundtrip(model, conv_, (x,), tmp_path / "out")


class Doubled(nn.Module):
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * 2


def test_other_parametrizations_convert_op_by_op(tmp_path: Path) -> None:
    """A parametrization sanitize can't redo: the layer's ops, with its own keys."""
    linear = nn.Linear(4, 3)
    parametrize.register_parametrization(linear, "weight", Doubled())
    model = nn.Sequential(linear, nn.Tanh()).eval()
    x = torch.randn(2, 4)
    conv = assert_converts(model, (x,))
    assert "nn.Linear(" not in conv.source
    assert_roundtrip(model, conv, (x,), tmp_path / "out")
