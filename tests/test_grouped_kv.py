"""The grouped_kv pass: attention reads shared key/value heads directly instead of a copy
repeated per query group (MLX's attention does that grouping itself)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from .helpers import assert_converts


def _repeat_kv(x: torch.Tensor, n: int) -> torch.Tensor:
    b, h, length, d = x.shape
    return x[:, :, None, :, :].expand(b, h, n, length, d).reshape(b, h * n, length, d)


def _tile_kv(x: torch.Tensor, n: int) -> torch.Tensor:
    """Whole blocks repeated (head h uses k/v head h % H): not MLX's grouping."""
    b, h, length, d = x.shape
    return x[:, None].expand(b, n, h, length, d).reshape(b, h * n, length, d)


class _Grouped(nn.Module):
    def __init__(self, repeat: object, kv_heads: int = 2, groups: int = 2) -> None:
        super().__init__()
        self.repeat, self.kv, self.n = repeat, kv_heads, groups
        self.q = nn.Linear(16, kv_heads * groups * 4)
        self.k = nn.Linear(16, kv_heads * 4)
        self.v = nn.Linear(16, kv_heads * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape
        q = self.q(x).view(b, length, -1, 4).transpose(1, 2)
        k = self.k(x).view(b, length, -1, 4).transpose(1, 2)
        v = self.v(x).view(b, length, -1, 4).transpose(1, 2)
        k, v = self.repeat(k, self.n), self.repeat(v, self.n)  # type: ignore[operator]
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


@pytest.mark.parametrize("kv_heads,groups", [(2, 2), (1, 4), (3, 1)])
def test_repeated_kv_heads_are_read_directly(kv_heads: int, groups: int) -> None:
    model = _Grouped(_repeat_kv, kv_heads, groups)
    conv = assert_converts(model, torch.randn(2, 5, 16))
    assert "broadcast_to" not in conv.source, conv.source


def test_other_repetitions_are_kept() -> None:
    conv = assert_converts(_Grouped(_tile_kv), torch.randn(2, 5, 16))
    assert "broadcast_to" in conv.source
