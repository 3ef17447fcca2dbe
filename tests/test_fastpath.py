"""nn.TransformerEncoder as eager runs it: padded positions zeroed by the nested-tensor fast
path, and masks given as inputs (capture/fastpath.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from .helpers import assert_converts


class Encoder(nn.Module):
    """An encoder called with a padding mask (or an attention mask) given as an input."""

    def __init__(self, batch_first: bool, norm: bool, mask_check: bool = True) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first)
        self.encoder = nn.TransformerEncoder(
            layer, 2, norm=nn.LayerNorm(8) if norm else None, enable_nested_tensor=True
        )
        self.encoder.mask_check = mask_check
        for p in self.parameters():
            nn.init.normal_(p, std=0.3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if mask.dim() == 2 and mask.shape[0] == mask.shape[1] == x.shape[-2]:
            return self.encoder(x, mask=mask)
        return self.encoder(x, src_key_padding_mask=mask)


def _padding(lengths: list[int], seq: int, aligned: bool) -> torch.Tensor:
    mask = torch.arange(seq)[None, :] >= torch.tensor(lengths)[:, None]  # True: padded
    return mask if aligned else mask.flip(1)  # padding first: not left-aligned


@pytest.mark.parametrize("float_mask", [False, True], ids=["bool", "float"])
@pytest.mark.parametrize("norm", [True, False], ids=["norm", "no_norm"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "seq_first"])
def test_padded_positions_come_out_as_eager_gives_them(
    batch_first: bool, norm: bool, float_mask: bool
) -> None:
    model = Encoder(batch_first, norm).eval()
    mask = _padding([5, 3, 4], 5, aligned=True)
    if float_mask:
        mask = torch.zeros(mask.shape).masked_fill(mask, float("-inf"))
    x = torch.randn(3, 5, 8) if batch_first else torch.randn(5, 3, 8)
    with torch.no_grad():
        out = model(x, mask)
    padded = mask.bool() if not float_mask else mask != 0
    at_pad = out[padded] if batch_first else out.transpose(0, 1)[padded]
    # eager's fast path needs batch_first layers (TransformerEncoder's init checks it)
    assert (at_pad == 0).all() == (batch_first and not norm)
    assert_converts(model, (x, mask), fresh=0)  # fresh masks would pad anywhere


@pytest.mark.parametrize(
    "mask_check,aligned", [(True, True), (True, False), (False, True)], ids=str
)
def test_alignment_check(mask_check: bool, aligned: bool) -> None:
    """eager checks alignment (when mask_check) and skips the fast path if it fails; without
    the check, torch trusts the mask to be aligned (unaligned padding is unspecified)."""
    model = Encoder(True, False, mask_check).eval()
    mask = _padding([5, 3, 4], 5, aligned=aligned)
    assert_converts(model, (torch.randn(3, 5, 8), mask), fresh=0)


def test_attention_mask_given_as_an_input() -> None:
    """The causal-mask detection compares the input with a causal mask: data-dependent."""
    model = Encoder(True, True).eval()
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    conv = assert_converts(model, (torch.randn(3, 5, 8), causal), fresh=0)
    blocked = (torch.rand(5, 5) > 0.5).fill_diagonal_(False)  # True: may not attend
    assert_converts(model, (torch.randn(3, 5, 8), blocked), fresh=0)
    # the loop's variable never takes the name of the mask every iteration reads
    assert "output = layer(output, " in conv.source
