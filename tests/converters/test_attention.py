"""Attention against torch: scaled_dot_product_attention, MultiheadAttention, encoder layers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ..helpers import Lambda, assert_converts


def _qkv(lq: int = 5, lk: int = 5, rank: int = 4) -> tuple[torch.Tensor, ...]:
    lead = (2, 3) if rank == 4 else (2,)
    return torch.randn(*lead, lq, 8), torch.randn(*lead, lk, 8), torch.randn(*lead, lk, 8)


@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("lengths", [(5, 5), (4, 6)], ids=str)
@pytest.mark.parametrize("kind", ["none", "scale", "causal", "bool_mask", "float_mask"])
def test_sdpa(kind: str, lengths: tuple, rank: int) -> None:
    lq, lk = lengths
    inputs = _qkv(lq, lk, rank)
    if kind == "none":
        fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
    elif kind == "scale":
        fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=0.3)  # noqa: E731
    elif kind == "causal":
        fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)  # noqa: E731
    else:
        mask_shape = (lq, lk)
        if kind == "bool_mask":
            mask = torch.rand(mask_shape) > 0.3
            mask[:, 0] = True  # no fully masked rows: torch gives NaN there
        else:
            mask = torch.randn(mask_shape)
        fn = lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m)  # noqa: E731
        inputs = (*inputs, mask)
    assert_converts(Lambda(fn), inputs, fresh=0 if kind == "bool_mask" else 1)


def test_sdpa_batched_bool_mask() -> None:
    q, k, v = _qkv(4, 6)
    mask = torch.rand(2, 1, 4, 6) > 0.5
    mask[..., 0] = True
    fn = Lambda(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    assert_converts(fn, (q, k, v, mask), fresh=0)


class MHA(nn.Module):
    def __init__(self, batch_first: bool, masks: str, **kw: object) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=batch_first, **kw)  # type: ignore[arg-type]
        self.masks = masks

    def forward(self, x: torch.Tensor, pad: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        kpm = pad if "kpm" in self.masks else None
        am = causal if "attn" in self.masks else None
        return self.attn(x, x, x, key_padding_mask=kpm, attn_mask=am, need_weights=False)[0]


def _mha_inputs(batch_first: bool, float_masks: bool = False) -> tuple[torch.Tensor, ...]:
    x = torch.randn(2, 6, 16) if batch_first else torch.randn(6, 2, 16)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[0, 4:] = True
    causal = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1)
    if float_masks:
        pad = pad.float() * -1e4
        causal = causal.float() * -1e4
    return x, pad, causal


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "kpm", "attn", "kpm+attn"])
def test_multihead_attention(batch_first: bool, masks: str) -> None:
    assert_converts(MHA(batch_first, masks), _mha_inputs(batch_first), fresh=0)


@pytest.mark.parametrize(
    "kw", [dict(bias=False), dict(add_bias_kv=True), dict(kdim=16, vdim=16)], ids=str
)
def test_multihead_attention_options(kw: dict) -> None:
    assert_converts(MHA(True, "attn", **kw), _mha_inputs(True), fresh=0)


def test_multihead_attention_float_masks() -> None:
    assert_converts(MHA(True, "kpm+attn"), _mha_inputs(True, float_masks=True), fresh=0)


class Cross(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True, kdim=12, vdim=10)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple:
        out, weights = self.attn(q, k, v)
        return out, weights


def test_cross_attention_with_weights() -> None:
    assert_converts(Cross(), (torch.randn(2, 3, 16), torch.randn(2, 5, 12), torch.randn(2, 5, 10)))


class Encoder(nn.Module):
    def __init__(self, norm_first: bool, activation: str, mask: bool) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(
            16, 4, 32, dropout=0.1, activation=activation, batch_first=True, norm_first=norm_first
        )
        self.mask = mask

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        return self.layer(x, src_key_padding_mask=pad if self.mask else None)


@pytest.mark.parametrize("mask", [False, True], ids=["no_mask", "padding_mask"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
def test_transformer_encoder_layer(norm_first: bool, activation: str, mask: bool) -> None:
    x, pad, _ = _mha_inputs(True)
    assert_converts(Encoder(norm_first, activation, mask), (x, pad), fresh=0)


def test_transformer_encoder_stack() -> None:
    model = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 2, 32, batch_first=True),
        num_layers=2,
        enable_nested_tensor=False,
    )
    assert_converts(model, torch.randn(2, 5, 16))


@pytest.mark.xfail(
    reason="torch.fx cannot trace TransformerEncoder: F._none_or_dtype rejects a Proxy mask",
    strict=True,
)
def test_transformer_encoder_fx() -> None:
    model = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 2, 32, batch_first=True),
        num_layers=2,
        enable_nested_tensor=False,
    )
    assert_converts(model, torch.randn(2, 5, 16), frontend="fx")


@pytest.mark.parametrize("masks", ["none", "kpm+attn"])
def test_multihead_attention_fx(masks: str) -> None:
    assert_converts(MHA(True, masks), _mha_inputs(True), frontend="fx", fresh=0)


def test_transformer_encoder_layer_fx() -> None:
    x, pad, _ = _mha_inputs(True)
    assert_converts(Encoder(False, "relu", False), (x, pad), frontend="fx", fresh=0)


@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_are_zero(kind: str, rank: int) -> None:
    # torch gives 0 for a query that may attend to no key (e.g. left padding)
    mask = torch.ones(2, 5, 5, dtype=torch.bool).tril()
    mask[1, :, :2] = False
    if kind == "float":
        mask = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    if rank == 4:
        mask = mask[:, None]
    q, k, v = _qkv(5, 5, rank)
    fn = Lambda(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    assert_converts(fn, (q, k, v, mask), fresh=0)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_row(kind: str) -> None:
    """Minimal repro of GPT-2 (sdpa) with left padding: the pad positions attend to nothing."""
    import torch.nn.functional as F

    mask = torch.ones(2, 1, 5, 5, dtype=torch.bool).tril()
    mask[1, :, :, :2] = False  # sequence 1 is left-padded by two: queries 0 and 1 see no key
    if kind == "float":
        mask = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    q, k, v = (torch.randn(2, 3, 5, 4) for _ in range(3))
    model = Lambda(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    assert_converts(model, (q, k, v, mask), fresh=0)


def test_sdpa_with_broadcast_ranks_is_decomposed() -> None:
    """A rank-3 query against rank-4 keys broadcasts in torch; MLX's kernel refuses it, so
    the op is rewritten as the math torch defines it with (matmul, softmax, matmul)."""
    fn = Lambda(lambda q, k, v: F.scaled_dot_product_attention(q, k, v))
    inputs = (torch.randn(4, 3, 8), torch.randn(4, 4, 6, 8), torch.randn(4, 4, 6, 8))
    conv = assert_converts(fn, inputs)
    assert "scaled_dot_product_attention" not in conv.source
