"""Pass: rotary embeddings written out become ``mx.fast.rope`` where exactly equivalent.

Llama and GPT-NeoX rotate queries and keys as ``x * cos + rotate_half(x) * sin`` with
``rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2])`` and cos/sin tables built from position
ids and ``inv_freq``. That is MLX's ``mx.fast.rope(x, d, traditional=False, base, scale)`` if
and only if the tables are ``cos/sin(scale * p * base ** (-2i / d))`` at position ``p`` along
``x``'s axis -2. Two proofs, both required:
- the rotation: the subgraph from ``x``, ``cos`` and ``sin`` equals the formula above on
  random values of all three (``fusion_proof``);
- the tables: they depend on input sizes only (``size_only``) and equal rope's at the
  example's sizes and at several others, with ``base`` and ``scale`` read from the table and
  then checked everywhere (a scaled or otherwise non-standard ``inv_freq`` is refused).
"""

from __future__ import annotations

import math

import torch
from torch import fx

from ..capture import Captured
from ..capture.graph import size_expr
from .fusion_proof import replace, same_function
from .size_only import holds_at_every_size, val

aten = torch.ops.aten


def fuse_rope(captured: Captured) -> int:
    """Rewrite each written-out rotary embedding that provably is rope; returns how many."""
    target = getattr(getattr(torch.ops, "fx2mlx", None), "rope", None)  # converters/rope.py
    tables: dict[tuple[fx.Node, fx.Node], tuple[float, float] | None] = {}  # q, k share them
    done = 0
    for node in list(captured.graph.nodes):
        if node.op == "call_function" and node.target is aten.add.Tensor and target is not None:
            done += _fuse(captured, node, target.default, tables)
    for node in list(captured.graph.nodes) if done else []:
        if node.op == "call_function" and node.target is aten.cat.default:
            _merge_partial(captured, node, target.default)
    return done


def _merge_partial(captured: Captured, cat: fx.Node, target: object) -> bool:
    """Partial rotary (GPT-NeoX, Phi): ``cat(rope(x[..., :r], r), x[..., r:])`` is
    ``rope(x, r)``, which leaves the features past ``r`` as they are."""
    pieces = cat.args[0]
    if len(pieces) != 2 or not all(isinstance(p, fx.Node) for p in pieces):
        return False
    rot, rest = pieces
    if rot.target is not target or rest.target is not aten.slice.Tensor:
        return False
    sliced, dims, base, scale = rot.args
    if not isinstance(sliced, fx.Node) or sliced.target is not aten.slice.Tensor:
        return False
    x = sliced.args[0]
    if rest.args[0] is not x or not same_function(
        captured, [x], cat, lambda v: target(v, dims, base, scale)
    ):
        return False
    replace(captured, cat, target, (x, dims, base, scale), {})
    return True


def _fuse(captured: Captured, out: fx.Node, target: object, tables: dict) -> bool:
    parts = _rotation(out)
    if parts is None:
        return False
    x, cos, sin = parts
    dims = val(x).shape[-1]
    if not isinstance(dims, int) or dims % 2 or not _tables_fit(x, cos, sin):
        return False
    if not same_function(captured, [x, cos, sin], out, _written_out):
        return False
    if (cos, sin) not in tables:
        tables[cos, sin] = _frequencies(captured, cos, sin)
    freq = tables[cos, sin]
    if freq is None:
        return False
    base, scale = freq
    replace(captured, out, target, (x, dims, base, scale), {})
    return True


def _written_out(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


def _rotation(out: fx.Node) -> tuple[fx.Node, fx.Node, fx.Node] | None:
    """``(x, cos, sin)`` for ``x * cos + rotated(x) * sin`` (factors in either order), where
    ``rotated`` is a ``cat`` reading ``x``; the proof decides whether it is ``rotate_half``."""
    if out.kwargs or len(out.args) != 2:
        return None
    terms = [_factors(t) for t in out.args]
    if None in terms:
        return None
    for (a, b), (c, d) in (terms, terms[::-1]):
        for x, cos in ((a, b), (b, a)):
            for rot, sin in ((c, d), (d, c)):
                if _is_rotated(rot, x):
                    return x, cos, sin
    return None


def _factors(node: object) -> tuple[fx.Node, fx.Node] | None:
    if not isinstance(node, fx.Node) or node.target is not aten.mul.Tensor or node.kwargs:
        return None
    a, b = node.args[:2]
    return (a, b) if isinstance(a, fx.Node) and isinstance(b, fx.Node) else None


def _is_rotated(node: fx.Node, x: fx.Node) -> bool:
    """A last-axis ``cat`` of pieces of ``x`` (a slice, or the negation of one)."""
    if node.target is not aten.cat.default or len(node.args[0]) != 2:
        return False
    pieces = [p.args[0] if p.target is aten.neg.default else p for p in node.args[0]]
    return all(p.target is aten.slice.Tensor and p.args[0] is x for p in pieces)


def _tables_fit(x: fx.Node, cos: fx.Node, sin: fx.Node) -> bool:
    """cos and sin have ``x``'s rank, its last dim, and its axis -2 (the positions)."""
    shape = val(x).shape
    for table in (cos, sin):
        t = val(table).shape
        if len(t) != len(shape) or t[-1] != shape[-1]:
            return False
        if size_expr(t[-2]) != size_expr(shape[-2]):
            return False
    return True


def _frequencies(captured: Captured, cos: fx.Node, sin: fx.Node) -> tuple[float, float] | None:
    """``(base, scale)`` of rope's tables if ``cos`` and ``sin`` are them at every size."""
    found: list[tuple[float, float]] = []

    def sin_holds(table: object) -> bool:
        # read at the first size with two positions (asin reads small angles well)
        if not _float(table):
            return False
        n = table.shape[-2]
        if not found and n > 1 and (read := _read(table.reshape(-1, n, table.shape[-1])[0, 1])):
            found.append(read)
        return _matches(table, found[0] if found else None, torch.sin)

    def cos_holds(table: object) -> bool:
        return _float(table) and bool(found) and _matches(table, found[0], torch.cos)

    if not holds_at_every_size(captured, sin, sin_holds) or not found:
        return None
    return found[0] if holds_at_every_size(captured, cos, cos_holds) else None


def _float(table: object) -> bool:
    return isinstance(table, torch.Tensor) and table.is_floating_point() and table.dim() >= 2


def _matches(table: torch.Tensor, params: tuple[float, float] | None, fn: object) -> bool:
    """``table`` is ``fn`` of rope's angles with ``params`` (all 0 without), to rounding."""
    n, dims = table.shape[-2], table.shape[-1]
    base, scale = params or (1.0, 0.0)
    inv = base ** (-torch.arange(0, dims // 2, dtype=torch.float64) * 2 / dims)
    angles = torch.arange(n, dtype=torch.float64)[:, None] * scale * torch.cat([inv, inv])
    tol = 1e-5 + 4 * torch.finfo(table.dtype).eps * max(n, 1)
    return bool(((table.double() - fn(angles)).abs() <= tol).all())


def _read(row: torch.Tensor) -> tuple[float, float] | None:
    """``(base, scale)`` from a sin row of angles ``scale * base ** (-2i / d)``."""
    theta = torch.asin(row.double().clamp(-1, 1))
    scale, second = float(theta[0]), float(theta[1]) if len(theta) > 2 else 0.0
    if scale <= 0 or second <= 0:
        return None
    return _nice((second / scale) ** (-len(theta) / 2)), _nice(scale)


def _nice(x: float) -> float:
    """``x`` rounded to 4 significant digits when that is within float32 reading error."""
    if x <= 0 or not math.isfinite(x):
        return x
    digits = 3 - math.floor(math.log10(x))
    rounded = round(x, digits)
    return rounded if abs(rounded - x) <= 1e-3 * x else x
