"""Does the generated module work under ``mx.compile(..., shapeless=True)``?

A shapeless compile traces the model once and reuses the graph for inputs of other shapes,
so code that turned a size into a Python number (``reshape(2, 10, -1)``) silently computes
the wrong thing there. The check runs the compiled model at the example's sizes and then at
the second size validation uses, and compares with the model run eagerly at each.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import numpy as np

from .compare import mlx_leaves
from .tensors import mlx_to_numpy, to_mlx


def works_shapeless(model: Any, input_sets: list[tuple]) -> bool:
    """True when the compiled ``model`` (a loaded generated module) matches the eager one at
    every input set (two sizes at least), False when it differs or fails."""
    compiled = mx.compile(lambda *xs: model(*xs), shapeless=True)
    try:
        for inputs in input_sets:
            args = [to_mlx(x) for x in inputs]
            if not _same(model(*args), compiled(*args)):
                return False
    except Exception:  # noqa: BLE001 - failing under shapeless compile is the answer
        return False
    return True


def _same(eager: Any, compiled: Any) -> bool:
    a = [x for x in mlx_leaves(eager) if isinstance(x, mx.array)]
    b = [x for x in mlx_leaves(compiled) if isinstance(x, mx.array)]
    mx.eval(a, b)
    return len(a) == len(b) and all(
        x.shape == y.shape
        and np.allclose(mlx_to_numpy(x), mlx_to_numpy(y), rtol=1e-5, atol=1e-6, equal_nan=True)
        for x, y in zip(a, b)
    )
