"""Run the PyTorch model and the generated MLX model on the same inputs and compare."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlx.core as mx
import torch

from .compare import compare, least_precise, tolerance_rule
from .io_layout import ChannelsLastIO
from .precision import Precision, cast_inputs
from .progress import SILENT, Progress
from .report import OutputCheck, Validation
from .tensors import to_mlx
from .weights import save_weights


def load_generated(folder: Path, **load_args: Any) -> Any:
    """Import ``folder/model.py`` under a unique module name and call its ``load()``."""
    name = f"fx2mlx_generated_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        return module.load(**load_args)
    finally:
        sys.modules.pop(name, None)


def run_both(
    model: torch.nn.Module,
    generated: Any,
    inputs: tuple,
    io_layout: ChannelsLastIO | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[Any, Any]:
    """torch's outputs and the generated model's (converted back to torch's layout); float
    inputs reach the generated model in ``dtype`` when given (``convert(dtype=...)``).

    Each side gets its own copy of the inputs, so a forward that writes an input in place
    (``x.add_(1)``) can't change what the other side sees, nor the caller's tensors.
    """
    args = [to_mlx(x) for x in cast_inputs(inputs, dtype)]  # copies, made before torch runs
    with torch.no_grad():
        expected = model(*(_copy(x) for x in inputs))
    if io_layout:
        args = io_layout.arguments(args)
    got = generated(*args)
    if io_layout:
        got = io_layout.results(got)
    mx.eval(got)
    return expected, got


def compute_dtype(model: torch.nn.Module, input_sets: list[tuple]) -> torch.dtype:
    """The least precise float among the model's weights and the inputs."""
    tensors = [*model.parameters(), *model.buffers()]
    tensors += [x for s in input_sets for x in s if isinstance(x, torch.Tensor)]
    return least_precise([t.dtype for t in tensors])


def describe_inputs(kind: str, inputs: tuple) -> str:
    """``kind: (2, 10) int64, (2, 10) float32``: one input set, for the table and manifest."""
    specs = [
        (
            f"{tuple(x.shape)} {str(x.dtype).removeprefix('torch.')}"
            if isinstance(x, torch.Tensor)
            else type(x).__name__
        )
        for x in inputs
    ]
    return f"{kind}: {', '.join(specs)}"


def _worse(new: OutputCheck, old: OutputCheck | None) -> OutputCheck:
    """The row to keep for an output seen on two input sets: a failure over a pass, else the
    larger elementwise error; it passes only if it passed on both."""
    if old is None:
        return new
    keep = new if (not new.ok, new.elem, new.max_abs) > (not old.ok, old.elem, old.max_abs) else old
    keep.ok = new.ok and old.ok
    return keep


def validate_folder(
    model: torch.nn.Module,
    folder: Path,
    input_sets: list[tuple],
    rtol: float = 1e-4,
    atol: float = 1e-3,
    io_layout: ChannelsLastIO | None = None,
    progress: Progress = SILENT,
    labels: list[str] | None = None,
) -> Validation:
    """Compare on every input set; an output's row keeps its worst set's numbers."""
    generated = load_generated(folder)
    return validate_generated(model, generated, input_sets, rtol, atol, io_layout, progress, labels)


def validate_generated(
    model: torch.nn.Module,
    generated: Any,
    input_sets: list[tuple],
    rtol: float = 1e-4,
    atol: float = 1e-3,
    io_layout: ChannelsLastIO | None = None,
    progress: Progress = SILENT,
    labels: list[str] | None = None,
    precision: Precision | None = None,
    reference: torch.nn.Module | None = None,
) -> Validation:
    """:func:`validate_folder` on a generated model already loaded. With ``precision``
    (``convert(dtype=, quantize=)``) ``model`` is the float original: the generated model
    gets the inputs in its dtype and is held to that dtype's tolerance. A quantized model is
    held to it against ``reference`` (torch with the dequantized weights), and its error
    against ``model`` is reported (``float_error``)."""
    labels = labels or [describe_inputs(f"set {i + 1}", s) for i, s in enumerate(input_sets)]
    p = precision or Precision()
    checked, strict = (model, p) if reference is None else (reference, Precision())
    sets = [cast_inputs(s, p.dtype) if reference is not None else s for s in input_sets]
    dtype = p.dtype if reference is None and p.dtype else compute_dtype(checked, sets)
    worst: dict[str, OutputCheck] = {}
    lossy: dict[str, OutputCheck] = {}
    for i in progress.track(range(len(sets)), len(sets), "validation"):
        expected, got = run_both(checked, generated, sets[i], io_layout, p.dtype)
        _keep(worst, compare(expected, got, rtol, atol, dtype, strict), labels[i])
        if reference is not None:  # the generated model's error against the float model
            with torch.no_grad():
                floats = model(*(_copy(x) for x in input_sets[i]))
            _keep(lossy, compare(floats, got, rtol, atol, dtype, p), labels[i])
    result = Validation(
        list(worst.values()), rtol, atol, labels, tolerance=tolerance_rule(dtype, p)
    )
    result.float_error = {c.name: {"rel": c.rel, "max_abs": c.max_abs} for c in lossy.values()}
    return result


def _copy(x: Any) -> Any:
    return x.clone() if isinstance(x, torch.Tensor) else x


def _keep(worst: dict[str, OutputCheck], checks: list[OutputCheck], label: str) -> None:
    """Each output's worst row over the input sets so far."""
    for check in checks:
        check.inputs = label
        worst[check.name] = _worse(check, worst.get(check.name))


@contextlib.contextmanager
def generated_from(source: str, weights: dict[str, mx.array]) -> Iterator[Any]:
    """The generated model, written to a temporary folder and loaded from there."""
    with tempfile.TemporaryDirectory(prefix="fx2mlx-validate-") as tmp:
        folder = Path(tmp)
        (folder / "model.py").write_text(source)
        save_weights(str(folder / "model.safetensors"), weights)
        yield load_generated(folder)


def validate_source(
    model: torch.nn.Module,
    source: str,
    weights: dict[str, mx.array],
    input_sets: list[tuple],
    rtol: float,
    atol: float,
    io_layout: ChannelsLastIO | None = None,
    progress: Progress = SILENT,
    labels: list[str] | None = None,
) -> Validation:
    with generated_from(source, weights) as generated:
        return validate_generated(
            model, generated, input_sets, rtol, atol, io_layout, progress, labels
        )
