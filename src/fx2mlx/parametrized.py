"""Parametrized layers: ``weight_norm`` and ``spectral_norm``, in both PyTorch forms (the
``torch.nn.utils.parametrizations`` module and the legacy forward pre-hook).

Such a layer computes a tensor (``conv.weight``) from others at every forward
(``parametrizations.weight.original0``/``original1``, or ``weight_g``/``weight_v``). In eval mode
that computation is fixed, so the MLX layer holds the computed tensor under the plain name, and
the generated ``sanitize`` recomputes it from the original keys: a PyTorch checkpoint still
loads. A parametrization of any other kind is not recomputed: its layer is converted op by op.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize
from torch.nn.utils.spectral_norm import SpectralNorm
from torch.nn.utils.weight_norm import WeightNorm

WEIGHT_NORM = "weight_norm"
SPECTRAL_NORM = "spectral_norm"


@dataclass(frozen=True)
class Reparam:
    """One computed tensor of a layer, with the state keys (relative to the layer) it is
    computed from: ``(g, v)`` for weight_norm, ``(weight, u, v)`` for spectral_norm."""

    name: str
    kind: str
    sources: tuple[str, ...]
    dim: int


def reparams_of(module: nn.Module) -> list[Reparam] | None:
    """The tensors ``module`` computes at forward time; None if one of them is computed in a
    way fx2mlx can't redo in ``sanitize``."""
    found = [_legacy(hook) for hook in module._forward_pre_hooks.values()]
    found = [r for r in found if r is not None]
    if parametrize.is_parametrized(module):
        for name, chain in module.parametrizations.items():
            reparam = _parametrization(name, chain)
            if reparam is None:
                return None
            found.append(reparam)
    return found


def _legacy(hook: object) -> Reparam | None:
    if isinstance(hook, WeightNorm):
        return Reparam(hook.name, WEIGHT_NORM, (f"{hook.name}_g", f"{hook.name}_v"), hook.dim)
    if isinstance(hook, SpectralNorm):
        keys = (f"{hook.name}_orig", f"{hook.name}_u", f"{hook.name}_v")
        return Reparam(hook.name, SPECTRAL_NORM, keys, hook.dim)
    return None


def _parametrization(name: str, chain: nn.ModuleList) -> Reparam | None:
    if len(chain) != 1:
        return None  # stacked parametrizations
    p, base = chain[0], f"parametrizations.{name}"
    if isinstance(p, parametrizations._WeightNorm):
        return Reparam(name, WEIGHT_NORM, (f"{base}.original0", f"{base}.original1"), p.dim)
    if isinstance(p, parametrizations._SpectralNorm) and chain.original.dim() > 1:
        keys = (f"{base}.original", f"{base}.0._u", f"{base}.0._v")
        return Reparam(name, SPECTRAL_NORM, keys, p.dim)
    return None  # another kind, or spectral_norm of a vector (a plain normalize)


def computed_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` with each computed tensor in place of its sources."""
    state = module.state_dict()
    for reparam in reparams_of(module) or []:
        for key in reparam.sources:
            state.pop(key, None)
        state[reparam.name] = _computed(module, reparam).detach()
    return state


def _computed(module: nn.Module, reparam: Reparam) -> torch.Tensor:
    with torch.no_grad():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == reparam.name:
                return hook.compute_weight(module)
            if isinstance(hook, SpectralNorm) and hook.name == reparam.name:
                return hook.compute_weight(module, do_power_iteration=False)
        return getattr(module, reparam.name)  # a parametrization computes it on access
