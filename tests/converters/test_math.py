"""math.py: diff (prepend/append, any dim, channels-last input), against torch."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from fx2mlx.capture import capture
from fx2mlx.converters import is_layer

from ..helpers import Lambda, assert_converts, assert_op_converts, bools, ints

aten = torch.ops.aten


# -- diff ----------------------------------------------------------------------------------

DIFF = {aten.diff.default}


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(dim=0),
        dict(dim=1),
        dict(n=2),
        dict(n=3, dim=0),
    ],
    ids=["default", "dim0", "dim1", "n2", "n3-dim0"],
)
@pytest.mark.parametrize("make", [lambda *s: torch.randn(s), ints], ids=["float", "int"])
def test_diff(kwargs: dict[str, Any], make: Any) -> None:
    assert_op_converts(lambda x: torch.diff(x, **kwargs), (make(4, 5, 6),), DIFF)


@pytest.mark.parametrize("where", ["prepend", "append", "both"])
@pytest.mark.parametrize("dim", [-1, 0])
def test_diff_prepend_append(where: str, dim: int) -> None:
    def fn(x: torch.Tensor, p: torch.Tensor, *q: torch.Tensor) -> torch.Tensor:
        kw = {"prepend": p, "append": q[0]} if where == "both" else {where: p}
        return torch.diff(x, dim=dim, **kw)

    x = torch.randn(4, 6)
    p, q = (
        (torch.randn(4, 2), torch.randn(4, 3))
        if dim == -1
        else (torch.randn(3, 6), torch.randn(1, 6))
    )
    assert_op_converts(fn, (x, p, q) if where == "both" else (x, p), DIFF)


def test_diff_prepend_slice_like_transformers() -> None:
    """masking_utils.find_packed_sequence_indices: diff with a prepended first column - 1."""

    def fn(pos: torch.Tensor) -> torch.Tensor:
        d = torch.diff(pos, prepend=pos[:, :1] - 1, dim=-1)
        return (d != 1).cumsum(-1)

    pos = torch.tensor([[0, 1, 2, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6]])
    assert_op_converts(fn, (pos,), DIFF, fresh=0)
    assert_converts(Lambda(fn), (torch.randint(0, 4, (3, 7)),), fresh=0)


def test_diff_on_channels_last_tensor() -> None:
    """diff along channels after a conv (stored NHWC): the axis must be remapped."""

    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 5, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return torch.diff(y, dim=1).relu()

    assert_op_converts(M(), (torch.randn(2, 3, 6, 6),), DIFF)


def test_diff_on_bool_is_reported() -> None:
    from fx2mlx.converters.math import check_diff

    graph = capture(
        Lambda(lambda x: torch.diff(x)).eval(), (bools(3, 4),), is_layer, "export"
    ).graph
    node = next(n for n in graph.nodes if n.target in DIFF)
    assert check_diff(node) is not None


def test_diff_n0_ignores_prepend_and_append() -> None:
    """torch.diff with n=0 returns the input as it is."""
    pre, post = torch.randn(1, 5), torch.randn(2, 5)
    fn = Lambda(lambda x: torch.diff(x, 0, 0, pre, post) * 2)
    assert_converts(fn, torch.randn(5, 5))
