"""torch -> MLX tensor conversion and random tensors: one definition for weights, validation
and example inputs."""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import numpy as np
import torch

# The MLX dtype each torch dtype becomes, in the weights, the inputs and the generated code
# (``emit_ctx.dtype_expr`` spells the same table). float64 becomes float32: MLX's kernels have no
# float64 (on GPU at all, on CPU for most ops); complex128 likewise becomes complex64.
MLX_DTYPES: dict[torch.dtype, mx.Dtype] = {
    torch.float32: mx.float32,
    torch.float64: mx.float32,
    torch.float16: mx.float16,
    torch.bfloat16: mx.bfloat16,
    torch.complex64: mx.complex64,
    torch.complex128: mx.complex64,
    torch.int64: mx.int64,
    torch.int32: mx.int32,
    torch.int16: mx.int16,
    torch.int8: mx.int8,
    torch.uint8: mx.uint8,
    torch.uint16: mx.uint16,
    torch.uint32: mx.uint32,
    torch.uint64: mx.uint64,
    torch.bool: mx.bool_,
}


def mlx_dtype(dtype: torch.dtype) -> mx.Dtype:
    """The MLX dtype a torch dtype becomes (see ``MLX_DTYPES``)."""
    if dtype not in MLX_DTYPES:
        raise TypeError(f"no MLX dtype for {dtype}")
    return MLX_DTYPES[dtype]


def torch_to_numpy(t: torch.Tensor) -> np.ndarray:
    """A torch tensor's values as numpy; bfloat16 as float32 (numpy has no bfloat16, and
    float32 holds every bfloat16 exactly)."""
    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).contiguous().numpy()


def mlx_to_numpy(x: mx.array) -> np.ndarray:
    """An MLX array's values as numpy; bfloat16 as float32, exactly, as above."""
    return np.array(x.astype(mx.float32) if x.dtype == mx.bfloat16 else x)


def to_mlx(value: Any) -> Any:
    """A torch tensor as an MLX array (anything else unchanged).

    float64 becomes float32 (MLX's CPU/GPU kernels have no float64); bfloat16 goes through
    float32 because numpy has no bfloat16, and comes back exact.
    """
    if not isinstance(value, torch.Tensor):
        return value
    t = value.detach().cpu()
    if t.dtype in (torch.float64, torch.complex128):
        t = t.to(torch.complex64 if t.is_complex() else torch.float32)
    # mx.array copies: the array never shares memory with the tensor (validation relies on it)
    return mx.array(torch_to_numpy(t)).astype(mlx_dtype(t.dtype))


def random_tensor(
    shape: tuple[int, ...] | list[int],
    dtype: torch.dtype,
    gen: torch.Generator,
    lo: int = 0,
    hi: int = 2,
) -> torch.Tensor:
    """Floats from a normal, booleans fair coins, integers uniform in ``[lo, hi)``."""
    if dtype.is_floating_point:
        return torch.randn(list(shape), generator=gen, dtype=dtype)
    if dtype == torch.bool:
        return torch.rand(list(shape), generator=gen) > 0.5
    return torch.randint(lo, hi, list(shape), generator=gen, dtype=dtype)
