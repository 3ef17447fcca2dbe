"""Converters added for the model zoo (bitwise.py, math.py), against torch on random inputs.

Each case also asserts that the op under test is really in the captured graph, so a change in
how torch decomposes it can't turn the test into one that passes without exercising it.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from fx2mlx.capture import capture
from fx2mlx.converters import OPS, is_layer

from .helpers import Lambda, assert_converts

aten = torch.ops.aten


def assert_op_converts(fn: Any, inputs: tuple, targets: set[object], fresh: int = 2) -> None:
    model = fn if isinstance(fn, nn.Module) else Lambda(fn)
    graph = capture(model.eval(), inputs, is_layer, "export").graph
    found = {n.target for n in graph.nodes if n.op == "call_function"}
    assert targets & found, f"none of {targets} in {sorted(map(str, found))}"
    assert targets <= set(OPS)
    assert_converts(model, inputs, fresh=fresh)


def ints(*shape: int, hi: int = 16) -> torch.Tensor:
    return torch.randint(-hi, hi, shape)


def bools(*shape: int) -> torch.Tensor:
    return torch.rand(shape) > 0.5


# -- bitwise / logical ---------------------------------------------------------------------

AND = {aten.__and__.Tensor, aten.bitwise_and.Tensor}
OR = {aten.__or__.Tensor, aten.bitwise_or.Tensor}
XOR = {aten.__xor__.Tensor, aten.bitwise_xor.Tensor}


@pytest.mark.parametrize("make", [bools, ints], ids=["bool", "int"])
@pytest.mark.parametrize(
    "op,targets",
    [
        (lambda a, b: a & b, AND),
        (lambda a, b: a | b, OR),
        (lambda a, b: a ^ b, XOR),
        (lambda a, b: torch.bitwise_xor(a, b), XOR),
    ],
    ids=["and", "or", "xor", "bitwise_xor"],
)
def test_bitwise_tensor(make: Any, op: Any, targets: set[object]) -> None:
    assert_op_converts(op, (make(3, 5), make(3, 5)), targets & set(OPS))


def test_bitwise_broadcast() -> None:
    assert_op_converts(lambda a, b: a & b, (bools(2, 1, 5), bools(4, 1)), AND & set(OPS))


@pytest.mark.parametrize(
    "op,targets",
    [
        (lambda a, b: (a > 0) & (b < 2) | (a == b), AND | OR),
        (lambda a, b: (a ^ b) == (b & a), XOR | AND),
    ],
    ids=["compare-and-or", "xor-eq-and"],
)
def test_bitwise_with_comparisons(op: Any, targets: set[object]) -> None:
    assert_op_converts(op, (ints(4, 6), ints(4, 6)), targets & set(OPS))


@pytest.mark.parametrize(
    "op,targets",
    [
        (lambda a, b: (a & b) + 1, AND),
        (lambda a, b: (a - 1) & (b + 1), AND),
        (lambda a, b: (a | b) * 3, OR),
        (lambda a, b: a ^ (a - b), XOR),
        (lambda a, b: (a & b) | (a ^ b), AND | OR | XOR),
        (lambda a, b: a & (a | b), AND | OR),
        (lambda a, b: a ^ (a & b) ^ b, AND | XOR),
    ],
    ids=[
        "and-then-add",
        "add-then-and",
        "or-then-mul",
        "sub-then-xor",
        "or-of-and-xor",
        "and-of-or",
        "xor-chain",
    ],
)
def test_bitwise_precedence(op: Any, targets: set[object]) -> None:
    """Python binds | < ^ < & < +: the emitted parentheses must keep torch's grouping.

    Each lambda reads its inputs in signature order (as the first version of the root's
    input naming required; see test_second_input_read_first).
    """
    assert_op_converts(op, (ints(3, 4), ints(3, 4)), targets & set(OPS))


@pytest.mark.parametrize(
    "op,targets",
    [
        (lambda a: a & 6, {aten.bitwise_and.Scalar, aten.__and__.Scalar}),
        (lambda a: a | 5, {aten.bitwise_or.Scalar, aten.__or__.Scalar}),
        (lambda a: a ^ 3, {aten.bitwise_xor.Scalar, aten.__xor__.Scalar}),
    ],
    ids=["and", "or", "xor"],
)
def test_bitwise_scalar(op: Any, targets: set[object]) -> None:
    assert_op_converts(op, (ints(3, 4),), targets & set(OPS))


@pytest.mark.parametrize("make", [bools, ints], ids=["bool", "int"])
def test_bitwise_not(make: Any) -> None:
    assert_op_converts(lambda a: ~a, (make(3, 4),), {aten.bitwise_not.default})


def test_bitwise_not_of_and() -> None:
    assert_op_converts(
        lambda a, b: ~(a & b) + a, (ints(3, 4), ints(3, 4)), {aten.bitwise_not.default}
    )


@pytest.mark.parametrize(
    "make", [lambda *s: torch.randn(s), ints, bools], ids=["float", "int", "bool"]
)
def test_logical_xor(make: Any) -> None:
    a, b = make(3, 5), make(3, 5)
    if a.dtype != torch.bool:
        a[0, :2] = 0  # zeros are False: make sure some are present
        b[0, 1:3] = 0
    assert_op_converts(lambda x, y: torch.logical_xor(x, y), (a, b), {aten.logical_xor.default})


def test_bitwise_on_float_is_reported() -> None:
    # torch itself rejects `&` on floats; the check keeps a float bitwise op from being emitted
    from fx2mlx.converters.bitwise import check_bitwise

    graph = capture(
        Lambda(lambda a, b: (a.int() & b.int()).float()).eval(),
        (torch.randn(2, 3), torch.randn(2, 3)),
        is_layer,
        "export",
    ).graph
    node = next(n for n in graph.nodes if n.target in AND)
    assert check_bitwise(node) is None
    node.args = (node.args[0].args[0], node.args[1])  # the float input, before its cast
    assert check_bitwise(node) is not None


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


def test_second_input_read_first() -> None:
    """Regression: the root's inputs once took first-use order (broke BertModel with a mask)."""
    assert_converts(Lambda(lambda a, b: a - (b + 1)), (torch.randn(3, 4), torch.randn(3, 4)))


def test_unused_input_kept_in_signature() -> None:
    """Regression: an input forward() never reads stays in the drop-in signature."""
    assert_converts(Lambda(lambda a, b: a * 2), (torch.randn(3, 4), torch.randn(2, 2)))


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


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: torch.bitwise_and(a, b) + 1,
        lambda a, b: torch.bitwise_or(a, b) - 2,
        lambda a, b: torch.logical_and(a > 0, b > 0) + 1,
        lambda a, b: torch.logical_or(a > 0, b < 0) + 1,
    ],
    ids=["bitwise_and-add", "bitwise_or-sub", "logical_and-add", "logical_or-add"],
)
def test_elementwise_bitwise_precedence(op: Any) -> None:
    assert_converts(Lambda(op), (ints(3, 4), ints(3, 4)), fresh=2)


@pytest.mark.parametrize("fn", [torch.logical_and, torch.logical_or], ids=["and", "or"])
@pytest.mark.parametrize("make", [lambda *s: torch.randn(s).relu(), ints], ids=["float", "int"])
def test_logical_and_or_on_non_bool(fn: Any, make: Any) -> None:
    a, b = make(3, 5), make(3, 5)
    a[0, :2] = 0  # zeros are False: make sure some are present
    b[1, 1:4] = 0
    assert_converts(Lambda(fn), (a, b), fresh=2)
