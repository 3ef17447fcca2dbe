"""module_db: every entry but losses, ``Lazy*`` and ``FractionalMaxPool*`` (random by design),
with every parameter and buffer randomized: default init (zero biases, unit running variance)
would let several samples pass even if a layer were dropped."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from torch.testing._internal.common_modules import ModuleInfo, module_db

from .harness import Result, run_sample
from .wrap import wrap


def in_scope(info: ModuleInfo) -> bool:
    name = info.module_cls.__name__
    return not (name.endswith("Loss") or name.startswith(("Lazy", "FractionalMaxPool")))


ENTRIES: dict[str, ModuleInfo] = {i.module_cls.__name__: i for i in module_db if in_scope(i)}
OUT_OF_SCOPE = sorted(i.module_cls.__name__ for i in module_db if not in_scope(i))


@functools.cache
def samples(name: str) -> list[Any]:
    """The entry's float32 CPU eval samples, generated with a fixed seed."""
    info = ENTRIES[name]
    torch.manual_seed(0)
    return list(
        info.module_inputs_func(
            info, device="cpu", dtype=torch.float32, requires_grad=False, training=False
        )
    )


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Every floating parameter and buffer drawn at random; variances stay positive."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in [*module.named_parameters(), *module.named_buffers()]:
            if not t.is_floating_point():
                continue
            drawn = torch.randn(t.shape, generator=gen, dtype=t.dtype) * 0.5
            if name.endswith("running_var"):
                drawn = drawn.abs() + 0.5
            t.copy_(drawn)
    return module


def run_module_sample(name: str, index: int) -> Result:
    sample = samples(name)[index]
    ctor, fwd = sample.constructor_input, sample.forward_input
    torch.manual_seed(index)
    module = randomize(ENTRIES[name].module_cls(*ctor.args, **ctor.kwargs), index).eval()
    model, inputs = wrap(module, fwd.args, fwd.kwargs)
    return run_sample(model, inputs, seed=index)
