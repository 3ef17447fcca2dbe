"""fuse_rope: rotary embeddings written out (Llama / GPT-NeoX ``rotate_half``) become
``mx.fast.rope`` only where the cos/sin tables are rope's at every length; other frequencies,
positions read from an input, an interleaved rotation or positions on another axis stay as
written. Every model matches torch on fresh random inputs at two sequence lengths."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from .helpers import assert_converts

ROPE = "mx.fast.rope("


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """GPT-J's interleaved rotation: MLX's traditional rope, not rotate_half."""
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)


class _Rotary(nn.Module):
    """q and k projected to (B, heads, L, 8) and rotated as Llama does."""

    def __init__(
        self, base: float = 10000.0, factor: float = 1.0, rotate: object = _rotate_half
    ) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, 8, 2).float() / 8))
        self.register_buffer("inv_freq", inv_freq / factor, persistent=False)
        self.rotate = rotate
        self.q = nn.Linear(16, 16)
        self.k = nn.Linear(16, 16)

    def tables(self, x: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = pos[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        if pos is None:
            pos = torch.arange(n)[None]
        cos, sin = self.tables(x, pos)
        q = self.q(x).view(b, n, 2, 8).transpose(1, 2)
        k = self.k(x).view(b, n, 2, 8).transpose(1, 2)
        q = q * cos + self.rotate(q) * sin  # type: ignore[operator]
        k = k * cos + self.rotate(k) * sin  # type: ignore[operator]
        return q @ k.transpose(-2, -1)


def _x() -> torch.Tensor:
    return torch.randn(2, 6, 16)


@pytest.mark.parametrize(
    "base,factor,want",
    [(10000.0, 1.0, "base=10000.0, scale=1.0"), (500000.0, 4.0, "base=500000.0, scale=0.25")],
    ids=["llama", "linear-scaling"],
)
def test_rotary_embedding_becomes_rope(base: float, factor: float, want: str) -> None:
    conv = assert_converts(_Rotary(base, factor), _x(), dynamic={0: [1]})
    assert conv.source.count(ROPE) == 2, conv.source
    assert want in conv.source and "mx.cos" not in conv.source, conv.source


class _OtherFrequencies(_Rotary):
    def __init__(self) -> None:
        super().__init__()
        self.inv_freq = self.inv_freq * torch.tensor([1.0, 1.0, 0.5, 0.25])  # llama3-like


class _PositionsOnAxis1(_Rotary):
    """Rotation before the heads transpose: positions on axis 1, not rope's axis -2."""

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        cos, sin = self.tables(x, torch.arange(n)[None])
        cos, sin = cos.transpose(1, 2), sin.transpose(1, 2)
        q = self.q(x).view(b, n, 2, 8)
        return q * cos + _rotate_half(q) * sin


@pytest.mark.parametrize(
    "model",
    [_OtherFrequencies(), _Rotary(rotate=_rotate_pairs), _PositionsOnAxis1()],
    ids=["other-inv-freq", "interleaved", "positions-on-axis-1"],
)
def test_near_misses_stay_as_written(model: nn.Module) -> None:
    conv = assert_converts(model, _x(), dynamic={0: [1]})
    assert ROPE not in conv.source and "mx.cos" in conv.source, conv.source


class _Partial(nn.Module):
    """GPT-NeoX / Phi partial rotary: the first 4 of 8 features rotated, the rest passed."""

    def __init__(self, rotated_first: bool = True) -> None:
        super().__init__()
        self.first = rotated_first
        self.q = nn.Linear(16, 16)
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, 4, 2) / 4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        freqs = torch.arange(n)[:, None].float() * self.inv_freq[None]
        emb = torch.cat((freqs, freqs), dim=-1)
        q = self.q(x).view(b, n, 2, 8).transpose(1, 2)
        rot, rest = q[..., :4], q[..., 4:]
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]  # (1, 1, L, 4), as HF
        rot = rot * cos + _rotate_half(rot) * sin
        return torch.cat((rot, rest) if self.first else (rest, rot), dim=-1)


def test_partial_rotary_is_one_rope() -> None:
    conv = assert_converts(_Partial(), _x(), dynamic={0: [1]})
    assert conv.source.count(ROPE) == 1 and "mx.concatenate" not in conv.source, conv.source


def test_partial_rotary_in_the_last_features_keeps_its_concatenation() -> None:
    conv = assert_converts(_Partial(rotated_first=False), _x(), dynamic={0: [1]})
    assert ROPE in conv.source and "mx.concatenate" in conv.source, conv.source


def test_positions_from_an_input_stay_as_written() -> None:
    pos = torch.arange(6)[None].expand(2, 6).contiguous()
    conv = assert_converts(_Rotary(), (_x(), pos))
    assert ROPE not in conv.source, conv.source
