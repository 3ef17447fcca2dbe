"""Fresh random inputs shaped like a sample's, drawn so they stay where the sample's values are.

A sample's values often encode a domain (positive for ``log``, in range for indices, -inf in
an additive mask); random values from that same range exercise the generated code on numbers
it was not traced with, without leaving the domain more often than needed.
"""

from __future__ import annotations

import torch


def fresh_inputs(inputs: tuple, seed: int) -> tuple:
    gen = torch.Generator().manual_seed(1000 + seed)
    return tuple(fresh_like(x, gen) for x in inputs)


def fresh_like(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    if x.is_floating_point():
        return _floats(x, gen)
    if x.dtype == torch.bool:
        return _mask(x, gen)
    return _integers(x, gen)


def _floats(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Uniform in [min, max] of the sample's finite values; NaN/inf entries stay in place
    (an additive attention mask keeps its -inf pattern)."""
    finite = torch.isfinite(x)
    values = x[finite]
    if values.numel() == 0:
        return x.clone()
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:  # a constant (zeros, ones): any value is as good as another
        drawn = torch.randn(x.shape, generator=gen, dtype=x.dtype)
    elif values.unique().numel() == values.numel():  # distinct stay distinct: ties sort
        n = x.numel()  # in an unspecified order; a random rank, jittered within its slot
        rank = torch.randperm(n, generator=gen) + 0.5 * torch.rand(n, generator=gen)
        drawn = (lo + (hi - lo) * rank / n).to(x.dtype).reshape(x.shape)
    else:
        drawn = lo + (hi - lo) * torch.rand(x.shape, generator=gen, dtype=x.dtype)
    return torch.where(finite, drawn, x)


def _mask(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random booleans, with the first position of the last axis always False: as an
    attention mask (True = masked) every query keeps at least one key."""
    drawn = torch.rand(x.shape, generator=gen) > 0.5
    if x.dim() and x.shape[-1]:
        drawn[..., 0] = False
    return drawn


def _integers(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Uniform in [min, max] of the sample's values (indices stay valid)."""
    if x.numel() == 0:
        return x.clone()
    lo, hi = int(x.min()), int(x.max())
    return torch.randint(lo, hi + 1, x.shape, generator=gen, dtype=x.dtype)
