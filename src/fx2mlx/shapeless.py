"""Does the generated module work under ``mx.compile(..., shapeless=True)``?

A shapeless compile traces the model once and reuses the graph for inputs of other shapes,
so code that turned a size into a Python number (``reshape(2, 10, -1)``) silently computes
the wrong thing there. The check runs the compiled model at the example's sizes and then at
the second size validation uses, and compares with the model run eagerly at each.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np

from .tensors import to_mlx
from .validate import load_generated
from .weights import save_weights


def works_shapeless(source: str, weights: dict[str, mx.array], input_sets: list[tuple]) -> bool:
    """True when the compiled model matches the eager one at every input set (two sizes at
    least), False when it differs or fails."""
    with tempfile.TemporaryDirectory(prefix="fx2mlx-shapeless-") as tmp:
        folder = Path(tmp)
        (folder / "model.py").write_text(source)
        save_weights(str(folder / "model.safetensors"), weights)
        model = load_generated(folder)
        compiled = mx.compile(lambda *xs: model(*xs), shapeless=True)
        try:
            for inputs in input_sets:
                args = [to_mlx(x) for x in inputs]
                if not _same(model(*args), compiled(*args)):
                    return False
        except Exception:  # noqa: BLE001 - failing under shapeless compile is the answer
            return False
    return True


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _leaves(v)]
    return [value] if isinstance(value, mx.array) else []


def _same(eager: Any, compiled: Any) -> bool:
    a, b = _leaves(eager), _leaves(compiled)
    mx.eval(a, b)
    return len(a) == len(b) and all(
        x.shape == y.shape and np.allclose(_np(x), _np(y), rtol=1e-5, atol=1e-6, equal_nan=True)
        for x, y in zip(a, b)
    )


def _np(x: mx.array) -> np.ndarray:
    return np.array(x.astype(mx.float32) if x.dtype == mx.bfloat16 else x)
