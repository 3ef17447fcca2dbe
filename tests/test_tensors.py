"""tensors.py: the one torch -> MLX conversion keeps shape, dtype and values exactly."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch

from fx2mlx.tensors import random_tensor, to_mlx


@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.bool]
)
def test_to_mlx_keeps_shape_dtype_and_values(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    t = random_tensor(shape, dtype, torch.Generator().manual_seed(0), -5, 5)
    got = to_mlx(t)
    assert tuple(got.shape) == shape
    name = str(dtype).removeprefix("torch.")
    assert got.dtype == getattr(mx, "bool_" if name == "bool" else name)
    assert np.array_equal(np.array(got.astype(mx.float32)), t.float().numpy())


def test_to_mlx_of_a_non_contiguous_view() -> None:
    t = torch.arange(12.0).reshape(3, 4).T
    assert np.array_equal(np.array(to_mlx(t)), t.numpy())


def test_float64_becomes_float32_and_other_values_pass_through() -> None:
    assert to_mlx(torch.ones(2, dtype=torch.float64)).dtype == mx.float32
    assert to_mlx(3) == 3 and to_mlx(None) is None
