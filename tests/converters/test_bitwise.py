"""bitwise.py: &, |, ^, ~ and logical ops on bool and int tensors, against torch."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from fx2mlx.capture import capture
from fx2mlx.converters import OPS, is_layer

from ..helpers import Lambda, assert_converts, assert_op_converts, bools, ints

aten = torch.ops.aten


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
