"""Attention masks read like a person wrote them: a mask proven equal to the causal triangle
becomes ``mask="causal"`` (causal_masks), a gather at ``arange`` positions becomes a view
(position_gathers), an all-true factor of a mask goes (true_masks); any other mask, or one
that reads input values where a size-only one is needed, is kept as it is."""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from .helpers import assert_converts

MaskFn = Callable[[torch.Tensor], torch.Tensor]


def _tril(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[1]
    return torch.ones(n, n, dtype=torch.bool).tril()


def _from_positions(x: torch.Tensor) -> torch.Tensor:
    """As Hugging Face builds it: position ids compared through gathers, per batch row."""
    b, n = x.shape[0], x.shape[1]
    pos = torch.arange(n).expand(b, n)
    rows = torch.arange(b)[:, None, None, None]
    q, k = torch.arange(n)[None, None, :, None], torch.arange(n)[None, None, None, :]
    return pos[rows, k] <= pos[rows, q]


def _additive(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[1]
    allowed = torch.ones(n, n, dtype=torch.bool).tril()
    return torch.zeros(n, n).masked_fill(~allowed, torch.finfo(torch.float32).min)


def _window(x: torch.Tensor) -> torch.Tensor:
    """Causal with a window of 2: equal to causal at length 1 and 2, not beyond."""
    n = x.shape[1]
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    return (j <= i) & (i - j < 2)


def _upper(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[1]
    return torch.ones(n, n, dtype=torch.bool).triu()


class _Attend(nn.Module):
    """Self-attention over (batch, length, 8) with the mask ``make`` builds from ``x``."""

    def __init__(self, make: MaskFn) -> None:
        super().__init__()
        self.make = make
        self.qkv = nn.Linear(8, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, 2, 4).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.make(x))


class _DataMask(nn.Module):
    """A mask from the values of an input: never a size-only mask."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(8, 24)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, 2, 4).permute(2, 0, 3, 1, 4)
        mask = _tril(x) & (keep[:, None, None, :] > 0)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize("make", [_tril, _from_positions, _additive], ids=lambda f: f.__name__)
def test_causal_masks_become_mlx_causal(make: MaskFn) -> None:
    conv = assert_converts(_Attend(make), torch.randn(2, 6, 8), dynamic={"x": [1]})
    assert 'mask="causal"' in conv.source and "arange" not in conv.source, conv.source
    result = conv.validate([(torch.randn(1, 1, 8),), (torch.randn(3, 13, 8),)])
    assert result.ok, result.table()


@pytest.mark.parametrize("make", [_window, _upper], ids=lambda f: f.__name__)
def test_other_size_only_masks_are_kept(make: MaskFn) -> None:
    conv = assert_converts(_Attend(make), torch.randn(2, 6, 8), dynamic={"x": [1]})
    assert 'mask="causal"' not in conv.source


def _all_true_rows(x: torch.Tensor) -> torch.Tensor:
    """As a BERT called without padding builds it: true everywhere, broadcast per batch."""
    b, n = x.shape[0], x.shape[1]
    return (torch.arange(n)[None, None, None, :] >= 0).expand(b, 1, n, n)


def test_an_all_true_mask_goes() -> None:
    conv = assert_converts(_Attend(_all_true_rows), torch.randn(2, 6, 8), dynamic={"x": [1]})
    assert "mask=" not in conv.source and "mx.where" not in conv.source, conv.source
    assert "arange" not in conv.source, conv.source
    result = conv.validate([(torch.randn(1, 1, 8),), (torch.randn(3, 13, 8),)])
    assert result.ok, result.table()


def test_a_mask_from_input_values_is_kept() -> None:
    keep = torch.ones(2, 6, dtype=torch.long)
    keep[1, 4:] = 0
    conv = assert_converts(_DataMask(), (torch.randn(2, 6, 8), keep))
    assert 'mask="causal"' not in conv.source


class _Gather(nn.Module):
    """A padding mask expanded by gathers at positions, and ANDed with an all-true term."""

    def __init__(self, flip: bool = False) -> None:
        super().__init__()
        self.qkv = nn.Linear(8, 24)
        self.flip = flip

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, 2, 4).permute(2, 0, 3, 1, 4)
        rows, cols = torch.arange(b), torch.arange(n)
        cols = cols.flip(0) if self.flip else cols
        mask = keep.bool()[rows[:, None, None, None], cols[None, None, None, :]]
        mask = (torch.arange(n)[None, None, :, None] >= 0) & mask
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _keep(batch: int, n: int) -> torch.Tensor:
    keep = torch.ones(batch, n, dtype=torch.long)
    keep[-1, n // 2 :] = 0
    return keep


def test_gathers_at_positions_become_a_view() -> None:
    conv = assert_converts(_Gather(), (torch.randn(2, 6, 8), _keep(2, 6)), dynamic={"x": [1]})
    assert "arange" not in conv.source and ">= 0" not in conv.source, conv.source
    result = conv.validate([(torch.randn(3, 9, 8), _keep(3, 9))])
    assert result.ok, result.table()


def test_a_gather_at_other_positions_is_kept() -> None:
    conv = assert_converts(_Gather(flip=True), (torch.randn(2, 6, 8), _keep(2, 6)))
    assert "arange" in conv.source


transformers = pytest.importorskip("transformers")
from fx2mlx.examples.hf_zoo import text  # noqa: E402 - needs transformers


def _call_lines(source: str, cls: str) -> int:
    """Statements in the body of ``cls.__call__`` (the docstring not counted)."""
    tree = ast.parse(source)
    found = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    call = next(n for n in found.body if isinstance(n, ast.FunctionDef) and n.name == "__call__")
    end = call.body[-1].end_lineno or call.body[-1].lineno
    return end - call.body[0].lineno + 1


@pytest.mark.zoo
@pytest.mark.parametrize(
    "make,root", [(text.make_gpt2, "GPT2Model"), (text.make_llama, "LlamaModel")]
)
def test_decoder_roots_read_like_hand_written_mlx(make: Callable, root: str) -> None:
    model, inputs = make()
    conv = assert_converts(model, inputs)
    assert 'mask="causal"' in conv.source
    assert _call_lines(conv.source, root) < 10, conv.source


@pytest.mark.zoo
def test_a_padding_mask_is_one_expression() -> None:
    model, inputs = text.make_bert()
    conv = assert_converts(model, inputs)
    root = conv.source[conv.source.index("class BertModel") :]
    assert "arange" not in root and _call_lines(conv.source, "BertModel") <= 4, root
