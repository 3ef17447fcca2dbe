"""The generated ``__call__``'s return annotation states the real output types: checked as text
and against what the generated model actually returns."""

from __future__ import annotations

import ast
from collections import namedtuple
from typing import Any

import mlx.core as mx
import pytest
import torch
from torch import nn

import fx2mlx

Pair = namedtuple("Pair", ["hidden", "size"])


class Mixed(nn.Module):
    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> Any:
        return self.fn(x)


CASES = {
    "tensor": (lambda x: x * 2, "mx.array"),
    "tensor-and-int": (lambda x: (x * 2, 3), "tuple[mx.array, int]"),
    "one-tuple": (lambda x: (x,), "tuple[mx.array]"),
    "static-size": (lambda x: (x + 1, x.shape[1], True), "tuple[mx.array, int, bool]"),
    "dynamic-size": (
        lambda x: [x, (x.sum(1), x.shape[0])],
        "list[mx.array | tuple[mx.array, int]]",
    ),
    "dict": (
        lambda x: {"a": x + 1, "b": [x * 2, 2.5], "c": None},
        "dict[str, mx.array | list[mx.array | float] | None]",
    ),
    "namedtuple": (lambda x: Pair(x - 1, 7), "tuple[mx.array, int]"),
}


def _conforms(value: Any, note: ast.expr) -> bool:
    """Does ``value`` have the type the annotation ``note`` states?"""
    if isinstance(note, ast.BinOp) and isinstance(note.op, ast.BitOr):
        return _conforms(value, note.left) or _conforms(value, note.right)
    if isinstance(note, ast.Constant) and note.value is None:
        return value is None
    if not isinstance(note, ast.Subscript):
        kinds = {"mx.array": mx.array, "int": int, "float": float, "bool": bool, "str": str}
        kind = kinds[ast.unparse(note)]
        return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    head, args = ast.unparse(note.value), note.slice
    if head == "tuple":
        elts = args.elts if isinstance(args, ast.Tuple) else [args]
        same = isinstance(value, tuple) and len(value) == len(elts)
        return same and all(_conforms(v, e) for v, e in zip(value, elts))
    if head == "list":
        return isinstance(value, list) and all(_conforms(v, args) for v in value)
    assert head == "dict" and isinstance(args, ast.Tuple), ast.unparse(note)
    key, val = args.elts
    return isinstance(value, dict) and all(
        _conforms(k, key) and _conforms(v, val) for k, v in value.items()
    )


def _returns(source: str, cls: str) -> ast.expr:
    tree = ast.parse(source)
    top = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    call = next(n for n in top.body if isinstance(n, ast.FunctionDef) and n.name == "__call__")
    assert call.returns is not None
    return call.returns


@pytest.mark.parametrize("frontend", ["export", "fx"])
@pytest.mark.parametrize("case", list(CASES))
def test_return_annotation_is_true(case: str, frontend: str) -> None:
    fn, expected = CASES[case]
    model = Mixed(fn).eval()
    x = torch.randn(2, 3)
    conv = fx2mlx.convert(model, (x,), frontend=frontend)
    note = _returns(conv.source, "Mixed")
    assert ast.unparse(note) == expected
    namespace: dict[str, Any] = {}
    exec(compile(conv.source, "model.py", "exec"), namespace)  # noqa: S102 - our own output
    got = namespace["Mixed"]()(mx.array(x.numpy()))
    assert _conforms(got, note), (got, expected)
