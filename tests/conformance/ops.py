"""op_db: every entry with float32 samples on CPU, each sample wrapped in a tiny module."""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch.testing._internal.common_methods_invocations import op_db
from torch.testing._internal.opinfo.core import OpInfo

from .harness import Result, run_sample, torch_run
from .wrap import wrap

# writes through index inputs: random indices repeat, and which write wins is unspecified in
# torch (its thread count decides) and in MLX alike, so only the sample's own indices count
UNORDERED_WRITES = {
    "nn.functional.max_unpool1d",
    "nn.functional.max_unpool2d",
    "nn.functional.max_unpool3d",
}
# outputs of uninitialized memory: nothing to compare
UNINITIALIZED = {"empty", "empty_like", "new_empty", "empty_strided", "empty_permuted"}


def entry_name(info: OpInfo) -> str:
    return info.name + (f".{info.variant_test_name}" if info.variant_test_name else "")


ENTRIES: dict[str, OpInfo] = {
    entry_name(i): i for i in op_db if torch.float32 in i.supported_dtypes("cpu")
}


@functools.cache
def samples(name: str) -> list[Any]:
    """The entry's float32 samples, generated with a fixed seed."""
    torch.manual_seed(0)
    info = ENTRIES[name]
    return list(info.sample_inputs("cpu", torch.float32, requires_grad=False))


def _unseeded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def _random(info: OpInfo, model: torch.nn.Module, inputs: tuple) -> bool:
    """Whether two runs with different seeds give different outputs (a random op). op_db
    wraps its random ops in ``wrapper_set_seed`` (a fixed seed); that is lifted here."""
    scope = getattr(info.op, "__globals__", {})
    seeded = scope.get("wrapper_set_seed")
    outs = []
    try:
        if seeded is not None:
            scope["wrapper_set_seed"] = _unseeded
        for seed in (1, 2):
            torch.manual_seed(seed)
            outs.append(torch_run(model, inputs))
    finally:
        if seeded is not None:
            scope["wrapper_set_seed"] = seeded
    a, b = (torch.utils._pytree.tree_leaves(o) for o in outs)
    same = len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return not same


def _same(x: Any, y: Any) -> bool:
    """Equal, NaN equal to NaN (a deterministic op may well return NaN)."""
    if not isinstance(x, torch.Tensor):
        return True
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    return bool(((x == y) | (x.isnan() & y.isnan())).all()) if x.numel() else True


def run_op_sample(name: str, index: int) -> Result:
    info = ENTRIES[name]
    sample = samples(name)[index]
    model, inputs = wrap(info.op, (sample.input, *sample.args), sample.kwargs)
    if info.name in UNINITIALIZED:
        return Result("skip", "uninitialized memory (values are arbitrary)")
    try:
        if _random(info, model, inputs):
            return Result("skip", "random op (torch's outputs differ between seeds)")
    except Exception:  # noqa: BLE001 - run_sample says how torch fails
        pass
    if info.name in UNORDERED_WRITES:
        why = "random indices repeat: torch leaves which write wins unspecified"
        return run_sample(model, inputs, seed=index, own_only=why)
    return run_sample(model, inputs, seed=index)
