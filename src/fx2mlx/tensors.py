"""torch -> MLX tensor conversion and random tensors: one definition for weights, validation
and example inputs."""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import torch


def to_mlx(value: Any) -> Any:
    """A torch tensor as an MLX array (anything else unchanged).

    float64 becomes float32 (MLX's CPU/GPU kernels have no float64); bfloat16 goes through
    float32 because numpy has no bfloat16, and comes back exact.
    """
    if not isinstance(value, torch.Tensor):
        return value
    t = value.detach().cpu()
    if t.dtype == torch.float64:
        t = t.float()
    if t.dtype == torch.bfloat16:
        return mx.array(t.float().numpy()).astype(mx.bfloat16)
    return mx.array(t.contiguous().numpy())  # not np.ascontiguousarray: it makes 0-d 1-d


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
