"""What a converter sees of a node: its arguments, layouts, shapes, and how to refer to values."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import fx

from .expr import LOWEST, hole, operand
from .layout import Perm, identity
from .meta import LAYOUT

_MISSING = object()

OPEN_END = 2**62
"""ATen writes an open slice end (``x[2:]``) as a huge int (``sys.maxsize``); an end at least
this large means "to the end"."""


class EmitCtx:
    """Context handed to ``OpConverter.emit``; one per node."""

    def __init__(self, node: fx.Node, helpers: set[str]) -> None:
        self.node = node
        self._helpers = helpers
        self.comments: list[str] = []
        self.args = op_args(node)

    # -- arguments -------------------------------------------------------------------------
    def arg(self, name: str, default: Any = _MISSING) -> Any:
        """The raw argument ``name`` (a Node, a constant, or a list), as :func:`op_args` has it.

        ``default`` is for an argument that some of the converter's targets lack (``alpha`` of
        ``add`` but not of ``mul``); the schema's own defaults are already filled in.
        """
        if not isinstance(name, str):
            raise TypeError(f"arguments are read by schema name, not {name!r}")
        if name in self.args:
            return self.args[name]
        if default is _MISSING:
            raise KeyError(f"{self.node.target} has no argument {name!r}")
        return default

    def x(self, value: Any, prec: int = LOWEST) -> str:
        """Source text for a value: a hole for a graph value, ``repr`` for a constant."""
        if isinstance(value, fx.Node):
            return hole(value, prec)
        if isinstance(value, (list, tuple)):
            inner = ", ".join(self.x(v) for v in value)
            return (
                f"[{inner}]"
                if isinstance(value, list)
                else f"({inner}{',' if len(value) == 1 else ''})"
            )
        if isinstance(value, torch.dtype):
            return dtype_expr(value)
        return operand(value, prec)  # a negative number takes parentheses where needed

    def a(self, name: str, prec: int = LOWEST, default: Any = _MISSING) -> str:
        """``self.x(self.arg(name))``: the argument rendered as source text."""
        return self.x(self.arg(name, default), prec)

    # -- layout and shape ------------------------------------------------------------------
    def perm(self, node: fx.Node | None = None) -> Perm:
        node = node or self.node
        p = node.meta.get(LAYOUT)
        if p is None:
            r = self.rank(node)
            return identity(r)
        return p

    def rank(self, node: fx.Node | None = None) -> int:
        val = (node or self.node).meta.get("val")
        if isinstance(val, (list, tuple)):
            val = val[0]
        return val.dim()

    def shape(self, node: fx.Node | None = None) -> list[Any]:
        """The PyTorch (not stored) shape; entries may be SymInts."""
        val = (node or self.node).meta.get("val")
        if isinstance(val, (list, tuple)):
            val = val[0]
        return list(val.shape)

    def dtype(self, node: fx.Node | None = None) -> torch.dtype:
        val = (node or self.node).meta.get("val")
        if isinstance(val, (list, tuple)):
            val = val[0]
        return val.dtype

    def axis(self, node: fx.Node, dim: int) -> int:
        """The stored axis of PyTorch dimension ``dim`` (negative dims allowed) of ``node``."""
        r = self.rank(node)
        d = dim + r if dim < 0 else dim
        return self.perm(node).index(d)

    def axes(self, node: fx.Node, dims: Any) -> list[int]:
        if isinstance(dims, int):
            dims = [dims]
        return [self.axis(node, d) for d in dims]

    # -- file-level needs ------------------------------------------------------------------
    def helper(self, name: str) -> str:
        """Ask for a module-level helper function (see converters/helpers.py); returns its name."""
        self._helpers.add(name)
        return name

    def comment(self, text: str) -> None:
        """A one-line comment to put on the emitted statement (why MLX differs from torch)."""
        self.comments.append(text)


def op_args(node: fx.Node) -> dict[str, Any]:
    """The node's arguments by name, defaults filled in: ``op_args(node)["stride"]``.

    Names come from the ATen schema (``print(torch.ops.aten.conv2d.default._schema)``), or from
    the Python signature for other targets (``operator.getitem(a, b)``). An argument the call
    leaves out takes its default; one without a default is absent.
    """
    out: dict[str, Any] = {}
    for i, (name, positional, default) in enumerate(_params(node.target)):
        if positional and i < len(node.args):
            out[name] = node.args[i]
        elif name in node.kwargs:
            out[name] = node.kwargs[name]
        elif default is not _MISSING:
            out[name] = default
    return out


def _params(target: Any) -> tuple[tuple[str, bool, Any], ...]:
    """``(name, may be positional, default or _MISSING)`` for each parameter of ``target``."""
    schema = getattr(target, "_schema", None)
    if schema is not None:
        return tuple(
            (a.name, not a.kwarg_only, a.default_value if a.has_default_value() else _MISSING)
            for a in schema.arguments
        )
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(
        (p.name, p.kind in positional, _MISSING if p.default is p.empty else p.default)
        for p in params
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )


_DTYPES = {
    torch.float32: "mx.float32",
    torch.float16: "mx.float16",
    torch.bfloat16: "mx.bfloat16",
    torch.float64: "mx.float32",
    torch.int64: "mx.int64",
    torch.int32: "mx.int32",
    torch.int16: "mx.int16",
    torch.int8: "mx.int8",
    torch.uint8: "mx.uint8",
    torch.bool: "mx.bool_",
}


def dtype_expr(dtype: torch.dtype) -> str:
    """The MLX dtype for a torch dtype (float64 becomes float32: MLX has no float64 on GPU)."""
    if dtype not in _DTYPES:
        raise TypeError(f"no MLX dtype for {dtype}")
    return _DTYPES[dtype]
