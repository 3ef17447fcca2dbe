"""Attention masks that mask nothing go, and attention that no query can see fully masked
loses its ``mx.where(mx.any(mask))`` guard (unguard_attention; an all-true factor under the
``where`` that makes an additive mask goes too, true_masks). Hugging Face's eager attention
generates the same code as its sdpa attention. Masks read from an input are kept, guarded."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fx2mlx.examples import zoo

from .helpers import assert_converts

pytest.importorskip("transformers")


def _hf(name: str, impl: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    model, inputs = getattr(zoo, f"make_{name}_tiny")()
    model.config._attn_implementation = impl
    for module in model.modules():
        if getattr(module, "config", None) is not None:
            module.config._attn_implementation = impl
    return model, inputs


@pytest.mark.parametrize("impl", ["sdpa", "eager"])
def test_bert_without_padding_has_no_mask(impl: str) -> None:
    model, (ids, _) = _hf("bert", impl)
    conv = assert_converts(model, (ids,))
    assert "mask=" not in conv.source and "mx.where" not in conv.source, conv.source
    assert "mx.fast.scaled_dot_product_attention" in conv.source


def test_bert_eager_with_padding_keeps_the_mask_without_its_true_factor() -> None:
    conv = assert_converts(*_hf("bert", "eager"), fresh=2)
    assert "mask=attention_mask" in conv.source and ">= 0" not in conv.source, conv.source
    assert "mx.any" not in conv.source  # eager softmax has no zeroing: neither has MLX's


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_eager_attention_generates_the_sdpa_code(name: str) -> None:
    eager = assert_converts(*_hf(name, "eager"))
    sdpa = assert_converts(*_hf(name, "sdpa"))
    body = eager.source[eager.source.index("\nclass ") :]
    assert body == sdpa.source[sdpa.source.index("\nclass ") :]
    assert 'mask="causal"' in body


class _Window(nn.Module):
    """Attention over a band of keys around each query (a mask built from sizes only)."""

    def __init__(self, mask_input: bool = False) -> None:
        super().__init__()
        self.mask_input = mask_input
        self.qkv = nn.Linear(16, 48)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, 2, 8).permute(2, 0, 3, 1, 4).unbind(0)
        pos = torch.arange(n)
        mask = (pos[:, None] - pos[None, :]).abs() <= 2
        if self.mask_input:
            mask = mask & pad[:, None, None, :].bool()
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_a_band_mask_needs_no_guard() -> None:
    conv = assert_converts(_Window(), torch.randn(2, 7, 16), dynamic={0: [1]})
    assert "mask=" in conv.source and "mx.any" not in conv.source, conv.source


def test_a_mask_from_an_input_keeps_its_guard() -> None:
    pad = torch.ones(2, 7, dtype=torch.long)
    pad[1, :] = 0  # a fully padded row: torch gives zeros there
    conv = assert_converts(_Window(mask_input=True), (torch.randn(2, 7, 16), pad))
    assert "mx.any" in conv.source, conv.source
