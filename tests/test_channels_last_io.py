"""``channels_last_io``: the inputs convolutions read and the outputs they write are
channels-last; every other input and output keeps PyTorch's layout (``io_layout.py``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlx.core as mx
import numpy as np
import torch
from torch import nn

from fx2mlx.validate import load_generated

from .helpers import assert_converts


class AudioEncoder(nn.Module):
    """Whisper's shape: a conv front end on (N, mels, T), then tokens (N, T, C) to the end."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(8, 16, 3, padding=1)
        self.norm = nn.LayerNorm(16)
        self.proj = nn.Linear(16, 16)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(mels)).permute(0, 2, 1)
        return self.proj(self.norm(x))


class MapAndVector(nn.Module):
    """A feature map (written by a conv) and a pooled vector; a second input of tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.tok = nn.Linear(5, 6)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> tuple:
        fmap = self.conv(image)
        seq = self.tok(tokens)  # (N, T, 6): not a feature map
        return fmap, fmap.mean((2, 3)), seq


def _forward_transposes(source: str) -> int:
    body = source[: source.index("def sanitize")]
    return len(re.findall(r"\.transpose\(|\.swapaxes\(|mx\.moveaxis\(", body))


def test_audio_encoder_takes_mels_channels_last_and_returns_tokens_as_torch(
    tmp_path: Path,
) -> None:
    model = AudioEncoder()
    conv = assert_converts(model, torch.randn(2, 8, 12), channels_last_io=True)
    assert _forward_transposes(conv.source) == 0, conv.source  # the permute is the layout's
    assert "mels: (2, 12, 8) float32, axes (N, L, C)" in conv.source
    assert "The output is channels-last" not in conv.source
    conv.save(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "fx2mlx.json").read_text())
    assert manifest["channels_last"] == {"inputs": [0], "outputs": []}
    x = torch.randn(3, 8, 7)  # another batch and length
    got = load_generated(tmp_path / "out")(mx.array(x.permute(0, 2, 1).numpy()))
    with torch.no_grad():
        want = model.eval()(x)  # (N, T, C): the generated module returns it as it is
    np.testing.assert_allclose(np.array(got), want.numpy(), rtol=1e-4, atol=1e-5)


def test_only_feature_maps_change_layout(tmp_path: Path) -> None:
    inputs = (torch.randn(2, 3, 8, 8), torch.randn(2, 4, 5))
    conv = assert_converts(MapAndVector(), inputs, channels_last_io=True)
    conv.save(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "fx2mlx.json").read_text())
    assert manifest["channels_last"] == {"inputs": [0], "outputs": [0]}
    assert "image: (2, 8, 8, 3) float32, axes (N, H, W, C)" in conv.source
    assert "tokens: (2, 4, 5) float32," in conv.source
    assert "Outputs 0 (in order) are channels-last" in conv.source
    assert _forward_transposes(conv.source) == 0, conv.source


def test_without_the_option_nothing_is_channels_last(tmp_path: Path) -> None:
    conv = assert_converts(MapAndVector(), (torch.randn(2, 3, 8, 8), torch.randn(2, 4, 5)))
    conv.save(tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "fx2mlx.json").read_text())
    assert manifest["channels_last"] == {"inputs": [], "outputs": []}
    assert "Inputs and outputs keep PyTorch's layout." in conv.source
