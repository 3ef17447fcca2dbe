"""The default frontend: non-strict ``torch.export`` (pre-decomposition ATen graph)."""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Iterator

import torch

from .fastpath import eager_encoder_padding
from .graph import Captured, from_exported


@contextlib.contextmanager
def _no_fastpath() -> Iterator[None]:
    # nn.MultiheadAttention / TransformerEncoderLayer take fused native kernels in eval mode;
    # the plain path traces into ops we can convert.
    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        yield
        return
    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


def _batch_dynamic_shapes(model: torch.nn.Module, inputs: tuple) -> tuple:
    """``dynamic_shapes`` with dim 0 of every input dynamic, shaped like ``forward``'s
    signature (inputs caught by ``*args`` form one nested tuple)."""
    per_input = tuple(
        {0: torch.export.Dim.AUTO} if isinstance(t, torch.Tensor) and t.dim() > 0 else None
        for t in inputs
    )
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return per_input
    fixed = 0
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            return per_input[:fixed] + (per_input[fixed:],)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            fixed += 1
    return per_input


def _export(model: torch.nn.Module, inputs: tuple, dynamic: bool) -> torch.export.ExportedProgram:
    shapes = _batch_dynamic_shapes(model, inputs) if dynamic else None
    with eager_encoder_padding(), _no_fastpath(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(model, inputs, dynamic_shapes=shapes, strict=False)


def capture_export(
    model: torch.nn.Module, inputs: tuple, dynamic_batch: bool = True, frontend: str = "export"
) -> Captured:
    """Capture ``model`` with ``torch.export`` and a dynamic batch dimension when possible."""
    notes: list[str] = []
    try:
        ep = _export(model, inputs, dynamic_batch)
    except Exception as exc:  # noqa: BLE001 - export's errors are many; retry static once
        if not dynamic_batch:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        notes.append(f"batch dimension exported as static ({type(exc).__name__}: {first})")
        ep = _export(model, inputs, False)
        dynamic_batch = False
    captured = from_exported(ep, model, frontend)
    captured.program = ep
    batch_dynamic = _inputs_have_symbolic_batch(captured)
    if dynamic_batch and not batch_dynamic:
        ones = all(t.shape[0] == 1 for t in inputs if isinstance(t, torch.Tensor) and t.dim())
        why = (
            "the example batch size is 1 (give 2 or more to keep it dynamic)"
            if ones
            else "the model fixes it"
        )
        notes.append(f"batch dimension is static: {why}; the generated code takes only this size")
    captured.dynamic_batch = batch_dynamic
    captured.warnings.extend(notes)
    return captured


def _inputs_have_symbolic_batch(captured: Captured) -> bool:
    vals = [n.meta.get("val") for n in captured.graph.nodes if n.op == "placeholder"]
    tensors = [v for v in vals if isinstance(v, torch.Tensor) and v.dim() > 0]
    return bool(tensors) and all(isinstance(v.shape[0], torch.SymInt) for v in tensors)
