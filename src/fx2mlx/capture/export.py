"""The default frontend: non-strict ``torch.export`` (pre-decomposition ATen graph)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

from ..errors import Fx2MlxError
from .dynamic import Dynamic, input_names, plan
from .fastpath import eager_encoder_padding
from .graph import Captured, from_exported, input_vals, is_symbolic
from .probe import probe
from .rnn_shapes import rnn_shapes


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


def _export(model: torch.nn.Module, inputs: tuple, shapes: object) -> torch.export.ExportedProgram:
    with eager_encoder_padding(), _no_fastpath(), rnn_shapes(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.export.export(model, inputs, dynamic_shapes=shapes, strict=False)


WIDENED = "captured from the example with its size-1 dynamic dims repeated to 2"


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"


def _export_dynamic(
    model: torch.nn.Module, inputs: tuple, dynamic: Dynamic, notes: list[str]
) -> torch.export.ExportedProgram:
    """Export with the dynamic dims: from the widened example (size-1 dims repeated to 2),
    then the example itself, then with every dim static; what failed is noted."""
    shapes = dynamic.shapes(model)
    tries = [(dynamic.widened(inputs), shapes), (inputs, shapes), (inputs, None)]
    tries = [t for i, t in enumerate(tries) if i != 0 or t[0] is not inputs]
    for i, (example, spec) in enumerate(tries):
        try:
            ep = _export(model, example, spec)
            if example is not inputs:
                notes.append(WIDENED)
            return ep
        except Exception as exc:  # noqa: BLE001 - export's errors are many; try the next way
            if i + 1 == len(tries):
                raise
            if spec is not None and tries[i + 1][1] is None:
                notes.append(f"every input dimension exported as static ({_first_line(exc)})")
    raise AssertionError("unreachable")


def capture_export(
    model: torch.nn.Module,
    inputs: tuple,
    dynamic: Dynamic | None = None,
    frontend: str = "export",
) -> Captured:
    """Capture ``model`` with ``torch.export``, the dims ``dynamic`` names dynamic where the
    model allows (the batch and token sequence by default)."""
    dynamic = dynamic or plan(model, inputs)
    notes: list[str] = []
    ep = _export_dynamic(model, inputs, dynamic, notes)
    captured = from_exported(ep, model, frontend)
    captured.program = ep
    fixed = _fixed_dims(captured, dynamic)
    captured.fixed = [(i, d, int(inputs[i].shape[d])) for i, f in enumerate(fixed) for d in f]
    _refuse_declared(model, inputs, dynamic, fixed, notes)
    notes += _static_notes(model, inputs, fixed, _WHO_FIXES.get(frontend, "the model fixes"))
    captured.dynamic_batch = _inputs_have_symbolic_batch(captured)
    captured.widened = WIDENED in notes
    captured.warnings.extend(n for n in notes if n != WIDENED)
    if frontend != "trace":  # a recorded graph holds the example's sizes: nothing to probe
        probe(model, inputs, dynamic, captured, _export)
    return captured


def _fixed_dims(captured: Captured, dynamic: Dynamic) -> list[set[int]]:
    """Per input, the dims meant to be dynamic that came out static."""
    vals = input_vals(captured)
    if dynamic.passthrough is not None or len(vals) != len(dynamic.dims):
        return [set() for _ in dynamic.dims]
    return [{d for d in dims if not is_symbolic(v.shape[d])} for v, dims in zip(vals, dynamic.dims)]


def _refuse_declared(
    model: torch.nn.Module, inputs: tuple, dynamic: Dynamic, fixed: list[set[int]], notes: list
) -> None:
    names = input_names(model, len(inputs))
    refused = [
        f"{names[i]} dim {d}" for i, f in enumerate(fixed) for d in sorted(f & dynamic.declared[i])
    ]
    if refused:
        why = f" ({'; '.join(notes)})" if notes else ""
        raise Fx2MlxError(
            f"declared dynamic, but the model fixes the size of: {', '.join(refused)}{why}"
        )


# the trace frontend's recording writes every size it read as a number
_WHO_FIXES = {"trace": "the trace recorded sizes as numbers, which fixes"}


def _static_notes(
    model: torch.nn.Module, inputs: tuple, fixed: list[set[int]], who: str
) -> list[str]:
    names = input_names(model, len(inputs))
    notes = []
    if any(0 in f for f in fixed):
        notes.append(
            f"batch dimension is static: {who} it; the generated code takes only this size"
        )
    seq = [f"{names[i]} dim {d}" for i, f in enumerate(fixed) for d in sorted(f - {0})]
    if seq:
        notes.append(
            f"static ({who} them; the generated code takes only this size): {', '.join(seq)}"
        )
    return notes


def _inputs_have_symbolic_batch(captured: Captured) -> bool:
    tensors = [v for v in input_vals(captured) if v.dim() > 0]
    return bool(tensors) and all(is_symbolic(v.shape[0]) for v in tensors)
