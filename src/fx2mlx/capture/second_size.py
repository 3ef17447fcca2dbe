"""The second input size validation runs at: every dynamic dim at another size.

A dim may be an expression of the captured program's size symbols (``2*s0``), and several
inputs share a symbol (token ids and their mask share the sequence), so a new value is
picked per symbol, within the range ``torch.export`` recorded for it, and every shape is
evaluated from the symbols.
"""

from __future__ import annotations

import sympy

from .graph import Captured, input_vals, size_expr

_STEP_CAP = 16  # the step keeps the size divisible by up to 16 (a U-Net's downsamplings)


def second_shapes(captured: Captured, inputs: tuple) -> list[list[int]] | None:
    """Per input, a shape with every dynamic dim at another size; None if none is dynamic."""
    vals = input_vals(captured)
    if len(vals) != len(inputs):
        return None
    example: dict[sympy.Symbol, int] = {}
    batch: set[sympy.Symbol] = set()
    for v, x in zip(vals, inputs):
        for d, size in enumerate(v.shape):
            expr = size_expr(size)
            if isinstance(expr, sympy.Symbol):
                example.setdefault(expr, int(x.shape[d]))
                if d == 0:
                    batch.add(expr)
    if not example:
        return None
    ranges = getattr(captured.program, "range_constraints", None) or {}
    new = {s: _other(v, s in batch, ranges.get(s)) for s, v in example.items()}
    shapes = [[_value(size, new) for size in v.shape] for v in vals]
    return shapes if shapes != [list(x.shape) for x in inputs] else None


def _value(size: object, new: dict) -> int:
    expr = size_expr(size)
    return int(expr.subs(new)) if isinstance(expr, sympy.Expr) else int(expr)


def _other(value: int, is_batch: bool, bounds: object) -> int:
    """Batch: one more (odd sizes find more bugs). Others: one step of the largest power of
    two (up to 16) that divides the size, up if the recorded range allows, else down."""
    step = 1 if is_batch else min(value & -value, _STEP_CAP) if value else 1
    lower, upper = (bounds.lower, bounds.upper) if bounds is not None else (1, None)
    if upper is None or bool(upper >= value + step):  # upper may be int_oo: compare in sympy
        return value + step
    return value - step if bool(value - step >= lower) and value - step >= 1 else value
