"""The default frontend: non-strict ``torch.export`` (pre-decomposition ATen graph)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

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


def _export(model: torch.nn.Module, inputs: tuple, dynamic: bool) -> torch.export.ExportedProgram:
    shapes = None
    if dynamic:
        shapes = tuple(
            {0: torch.export.Dim.AUTO} if isinstance(t, torch.Tensor) and t.dim() > 0 else None
            for t in inputs
        )
    with _no_fastpath(), warnings.catch_warnings():
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
        notes.append(f"batch dimension exported as static: {type(exc).__name__}: {exc}".strip())
        ep = _export(model, inputs, False)
        dynamic_batch = False
    captured = from_exported(ep, model, frontend)
    batch_dynamic = _inputs_have_symbolic_batch(captured)
    if dynamic_batch and not batch_dynamic:
        notes.append("batch dimension was specialized by the model: generated code is static in it")
    captured.dynamic_batch = batch_dynamic
    captured.warnings.extend(notes)
    return captured


def _inputs_have_symbolic_batch(captured: Captured) -> bool:
    vals = [n.meta.get("val") for n in captured.graph.nodes if n.op == "placeholder"]
    tensors = [v for v in vals if isinstance(v, torch.Tensor) and v.dim() > 0]
    return bool(tensors) and all(isinstance(v.shape[0], torch.SymInt) for v in tensors)
