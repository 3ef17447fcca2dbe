"""Latency of each variant of one (model, batch), interleaved in one process: warm-up first,
then rounds that each call every variant once (in a rotating order), evaluation forced
(``mx.eval``; ``torch.cuda.synchronize`` on the GPU); medians reported."""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import torch

from .anchors import PROFILE, Anchor, first, state_mx, to_mx

GENERATED = Path(__file__).with_name("generated")


def load_generated(name: str, model: torch.nn.Module) -> Any:
    """The generated module of ``benchmarks/generated/NAME/model.py`` with the torch model's
    weights through its own ``sanitize()`` (no weight file needed, as on the GPU machine)."""
    spec = importlib.util.spec_from_file_location(
        f"generated_{name}", GENERATED / PROFILE["name"] / name / "model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    top = module.load.__annotations__["return"]
    top = getattr(module, top) if isinstance(top, str) else top
    gen = top()
    weights = state_mx(model)
    if hasattr(gen, "sanitize"):
        weights = gen.sanitize(weights)
    names = {k for k, _ in _flat(gen.parameters())}
    gen.load_weights([(k, v) for k, v in weights.items() if k in names], strict=True)
    gen.eval()
    return gen


def _flat(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    from mlx.utils import tree_flatten

    return tree_flatten(tree, prefix)


def variants(anchor: Anchor, model: torch.nn.Module, batch: int, dev: str) -> dict[str, tuple]:
    """name -> (callable, its inputs, how to read its compared output)."""
    torch.manual_seed(batch)
    inputs = anchor.inputs(batch)
    gen = load_generated(anchor.name, model)
    hand = anchor.hand(model)
    tdev = model.to(dev)
    t_in = tuple(x.to(dev) for x in inputs)
    g_in = tuple(to_mx(x) for x in inputs)
    h_in = anchor.hand_inputs(inputs)

    def torch_call(*xs: torch.Tensor) -> Any:
        with torch.inference_mode():
            return tdev(*xs)

    return {
        "torch": (torch_call, t_in, anchor.pick_torch),
        "generated": (gen, g_in, anchor.pick_gen),
        "generated_compiled": (compiled(gen), g_in, first),
        "hand": (hand, h_in, anchor.pick_hand),
        "hand_compiled": (compiled(hand), h_in, first),
    }


def compiled(module: Any) -> Callable:
    """``mx.compile`` of the module returning its arrays as a list (a compiled function
    can't return a dataclass such as mlx-embeddings' output); the same arrays are computed."""
    return mx.compile(lambda *xs: leaves(module(*xs)))


def leaves(out: Any) -> list[Any]:
    """The arrays/tensors in a result (tuples, dicts, ModelOutput-like objects)."""
    if isinstance(out, (mx.array, torch.Tensor)):
        return [out]
    if isinstance(out, (tuple, list)):
        return [leaf for v in out for leaf in leaves(v)]
    if isinstance(out, dict):
        return [leaf for v in out.values() for leaf in leaves(v)]
    if hasattr(out, "__dict__"):
        return [leaf for v in vars(out).values() for leaf in leaves(v)]
    return []


def force(out: Any) -> None:
    found = leaves(out)
    arrays = [x for x in found if isinstance(x, mx.array)]
    if arrays:
        mx.eval(arrays)
    if len(arrays) < len(found) and torch.cuda.is_available():
        torch.cuda.synchronize()


def max_errors(runs: dict[str, tuple]) -> dict[str, float]:
    """Each variant's max abs error against torch on the timed inputs."""
    outs = {}
    for name, (fn, xs, pick) in runs.items():
        out = pick(fn(*xs))
        force(out)
        outs[name] = out.float().cpu().numpy() if isinstance(out, torch.Tensor) else np.array(out)
    ref = outs["torch"]
    return {k: float(np.abs(v.reshape(ref.shape) - ref).max()) for k, v in outs.items()}


def measure(runs: dict[str, tuple], warmup: int, repeats: int) -> dict[str, float]:
    """Median seconds per call of each variant, interleaved."""
    names = list(runs)
    for _ in range(warmup):
        for n in names:
            _call(runs[n])
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            samples[n].append(_call(runs[n]))
    return {n: statistics.median(s) for n, s in samples.items()}


def _call(run: tuple[Callable, tuple, Callable]) -> float:
    fn, xs, _ = run
    start = time.perf_counter()
    force(fn(*xs))
    return time.perf_counter() - start
