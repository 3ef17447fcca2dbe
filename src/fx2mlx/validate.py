"""Run the PyTorch model and the generated MLX model on the same inputs and compare."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import torch
from torch.utils import _pytree as pytree

from .progress import SILENT, Progress
from .report import OutputCheck, Validation
from .tensors import to_mlx
from .weights import save_weights


def load_generated(folder: Path) -> Any:
    """Import ``folder/model.py`` under a unique module name and call its ``load()``."""
    name = f"fx2mlx_generated_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        return module.load()
    finally:
        sys.modules.pop(name, None)


def _mlx_leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _mlx_leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _mlx_leaves(v)]
    return [value]


def _torch_leaves(value: Any) -> list[tuple[str, Any]]:
    leaves, _ = pytree.tree_flatten_with_path(value)
    return [(pytree.keystr(path) or "output", leaf) for path, leaf in leaves]


def compare(torch_out: Any, mlx_out: Any, rtol: float, atol: float) -> list[OutputCheck]:
    """Per leaf: ``‖mlx − torch‖/‖torch‖ ≤ rtol`` and ``max|mlx − torch| ≤ atol·max(1, max|torch|)``."""
    expected = [(n, v) for n, v in _torch_leaves(torch_out) if isinstance(v, torch.Tensor)]
    got = [v for v in _mlx_leaves(mlx_out) if isinstance(v, mx.array)]
    if len(expected) != len(got):
        return [OutputCheck("structure", [len(expected)], float("inf"), float("inf"), False)]
    checks = []
    for (name, ref), out in zip(expected, got):
        a = ref.detach().double().numpy()
        b = np.array(out.astype(mx.float32) if out.dtype == mx.bfloat16 else out).astype(np.float64)
        if a.shape != b.shape:
            checks.append(OutputCheck(name, list(a.shape), float("inf"), float("inf"), False))
            continue
        diff = np.abs(a - b)
        max_abs = float(diff.max()) if diff.size else 0.0
        denom = float(np.linalg.norm(a))
        rel = float(np.linalg.norm(a - b)) / denom if denom > 0 else max_abs
        scale = max(1.0, float(np.abs(a).max()) if a.size else 1.0)
        ok = rel <= rtol and max_abs <= atol * scale
        checks.append(OutputCheck(name, list(a.shape), max_abs, rel, ok))
    return checks


def _channels_last(x: Any) -> Any:
    return mx.moveaxis(x, 1, -1) if isinstance(x, mx.array) and x.ndim in (3, 4, 5) else x


def _channels_first(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _channels_first(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_channels_first(v) for v in value)
    return (
        mx.moveaxis(value, -1, 1)
        if isinstance(value, mx.array) and value.ndim in (3, 4, 5)
        else value
    )


def run_both(
    model: torch.nn.Module, generated: Any, inputs: tuple, channels_last_io: bool = False
) -> tuple[Any, Any]:
    """torch's outputs and the generated model's (converted back to torch's layout)."""
    args = [to_mlx(x) for x in inputs]  # before torch runs: a forward may write its inputs
    with torch.no_grad():
        expected = model(*(x.clone() for x in inputs))
    if channels_last_io:
        args = [_channels_last(a) for a in args]
    got = generated(*args)
    if channels_last_io:
        got = _channels_first(got)
    mx.eval(got)
    return expected, got


def validate_folder(
    model: torch.nn.Module,
    folder: Path,
    input_sets: list[tuple],
    rtol: float = 1e-4,
    atol: float = 1e-3,
    channels_last_io: bool = False,
    progress: Progress = SILENT,
) -> Validation:
    """Compare on every input set; an output's row keeps its worst errors."""
    generated = load_generated(folder)
    worst: dict[str, OutputCheck] = {}
    for inputs in progress.track(input_sets, len(input_sets), "validation"):
        expected, got = run_both(model, generated, inputs, channels_last_io)
        for check in compare(expected, got, rtol, atol):
            prev = worst.get(check.name)
            if prev is not None:
                check.ok = check.ok and prev.ok  # an output passes only if it passed every time
                if prev.max_abs > check.max_abs:
                    check.max_abs, check.rel, check.shape = prev.max_abs, prev.rel, prev.shape
            worst[check.name] = check
    return Validation(list(worst.values()), rtol, atol)


def validate_source(
    model: torch.nn.Module,
    source: str,
    weights: dict[str, mx.array],
    input_sets: list[tuple],
    rtol: float,
    atol: float,
    channels_last_io: bool = False,
    progress: Progress = SILENT,
) -> Validation:
    with tempfile.TemporaryDirectory(prefix="fx2mlx-validate-") as tmp:
        folder = Path(tmp)
        (folder / "model.py").write_text(source)
        save_weights(str(folder / "model.safetensors"), weights)
        return validate_folder(model, folder, input_sets, rtol, atol, channels_last_io, progress)
