"""Conformance against PyTorch's own module test database (``common_modules.module_db``).

Each float32 CPU eval sample becomes a tiny module whose forward takes only the sample's
tensors (everything else is baked in as constants); it is converted and compared with torch.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch
from torch import nn

from .helpers import assert_converts

pytest.importorskip("expecttest")
from torch.testing._internal.common_modules import module_db  # noqa: E402

pytestmark = pytest.mark.conformance

MODULES = [
    "Conv1d",
    "Conv2d",
    "Linear",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "ReLU",
    "ReLU6",
    "GELU",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Hardswish",
    "Hardsigmoid",
    "LeakyReLU",
    "Softmax",
    "LogSoftmax",
    "MaxPool1d",
    "MaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "Embedding",
    "MultiheadAttention",
    "TransformerEncoderLayer",
]
INFOS = {i.module_cls.__name__: i for i in module_db if i.module_cls.__name__ in MODULES}


@functools.cache
def samples(name: str) -> list[Any]:
    """The database's samples for one module, generated with a fixed seed."""
    info = INFOS[name]
    torch.manual_seed(0)
    return list(
        info.module_inputs_func(
            info, device="cpu", dtype=torch.float32, requires_grad=False, training=False
        )
    )


class Sample(nn.Module):
    """Calls ``module`` with the sample's arguments; only its tensors are inputs."""

    def __init__(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        super().__init__()
        self.module = module
        self.args = args
        self.kwargs = kwargs

    def forward(self, *tensors: torch.Tensor) -> Any:
        it = iter(tensors)
        args = [next(it) if isinstance(a, torch.Tensor) else a for a in self.args]
        kwargs = {k: next(it) if isinstance(v, torch.Tensor) else v for k, v in self.kwargs.items()}
        out = self.module(*args, **kwargs)
        if isinstance(out, tuple):  # MultiheadAttention returns (output, None) without weights
            return tuple(o for o in out if o is not None)
        return out


def _tensors(fwd: Any) -> tuple[torch.Tensor, ...]:
    found = [a for a in fwd.args if isinstance(a, torch.Tensor)]
    return tuple(found + [v for v in fwd.kwargs.values() if isinstance(v, torch.Tensor)])


def _case(name: str, index: int) -> Any:
    # every sample must convert and match: none is out of scope today
    return pytest.param(name, index, id=f"{name}-{index}")


CASES = [_case(name, i) for name in MODULES if name in INFOS for i in range(len(samples(name)))]


@pytest.mark.parametrize("name,index", CASES)
def test_module_db(name: str, index: int) -> None:
    sample = samples(name)[index]
    ctor, fwd = sample.constructor_input, sample.forward_input
    torch.manual_seed(index)
    module = INFOS[name].module_cls(*ctor.args, **ctor.kwargs).eval()
    inputs = _tensors(fwd)
    # random bool masks may mask a whole row (NaN in torch); validate on the sample only then
    fresh = 0 if any(t.dtype == torch.bool for t in inputs) else 1
    assert_converts(Sample(module, fwd.args, fwd.kwargs), inputs, fresh=fresh)


def test_every_module_has_samples() -> None:
    missing = sorted(set(MODULES) - set(INFOS))
    # Hardsigmoid has no module_db entry in this torch version; it is tested in tests/converters/test_activation.py
    assert missing == ["Hardsigmoid"], missing
