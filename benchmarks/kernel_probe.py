"""Where a GPU gap between two variants lies: on the GPU (the kernels each call launches and
their device time, read through CUPTI by ``torch.profiler``, which sees every kernel of the
process, MLX's included) or on the host (the time of the call that builds or replays the
graph, apart from the ``mx.eval`` that runs it).

``python -m benchmarks.kernel_probe NAME ... [--batch B]`` on the device machine (after
``source benchmarks/gpu_setup.sh BUNDLE``; the generated GPU files must be there). For each
anchor it prints, per variant, the median host call and eval times over random-order
rounds and the kernels and GPU time per call; then the kernels whose device time differs
most between the generated module and the hand-written one, both compiled with their
weights as constants."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import mlx.core as mx
import torch
from torch.profiler import ProfilerActivity, profile

from .anchors import registry, to_mx, use_gpu_profile
from .loading import load_generated
from .sampling import round_orders
from .timing import compiled, leaves


def kernels(fn: Callable, x: mx.array, calls: int = 5) -> dict[str, tuple[float, float]]:
    """Kernel name -> (launches, device microseconds), per call."""
    for _ in range(3):
        mx.eval(leaves(fn(x)))
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            mx.eval(leaves(fn(x)))
    found = {}
    for e in prof.key_averages():
        us = getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0)
        if e.count:
            found[e.key] = (e.count / calls, us / calls)
    return found


def host_split(runs: dict[str, tuple], rounds: int = 200) -> dict[str, tuple[float, float]]:
    """Variant -> (median ms of the call, median ms of the eval after it)."""
    call: dict[str, list[float]] = {k: [] for k in runs}
    run: dict[str, list[float]] = {k: [] for k in runs}
    orders = round_orders(list(runs), seed=0)
    for _ in range(rounds):
        for k in next(orders):
            fn, x = runs[k]
            t0 = time.perf_counter()
            out = leaves(fn(x))
            t1 = time.perf_counter()
            mx.eval(out)
            call[k].append(t1 - t0)
            run[k].append(time.perf_counter() - t1)
    return {k: (statistics.median(call[k]) * 1e3, statistics.median(run[k]) * 1e3) for k in runs}


def probe(name: str, batch: int) -> None:
    anchor = registry()[name]
    torch.manual_seed(0)
    model = anchor.torch_model()
    inputs = anchor.inputs(batch)
    x, xh = to_mx(inputs[0]), anchor.hand_inputs(inputs)[0]
    plain, state = load_generated(name, model)
    hand = anchor.hand(model)
    runs = {
        "generated compiled (state)": (state, x),
        "generated compiled (constants)": (compiled(plain), x),
        "hand compiled (constants)": (compiled(hand), xh),
        "generated plain": (plain, x),
        "hand plain": (hand, xh),
    }
    found = {k: kernels(fn, xi) for k, (fn, xi) in runs.items()}
    for k, (call_ms, eval_ms) in host_split(runs).items():
        n, us = sum(v[0] for v in found[k].values()), sum(v[1] for v in found[k].values())
        print(
            f"{name} b{batch} {k:31s} call {call_ms:.3f} ms, eval {eval_ms:.3f} ms; "
            f"GPU {n:.0f} kernels, {us:.0f} us",
            flush=True,
        )
    gen, hnd = found["generated compiled (constants)"], found["hand compiled (constants)"]
    diff = lambda k: gen.get(k, (0, 0))[1] - hnd.get(k, (0, 0))[1]  # noqa: E731
    for k in sorted(set(gen) | set(hnd), key=lambda k: -abs(diff(k)))[:8]:
        g, h = gen.get(k, (0, 0)), hnd.get(k, (0, 0))
        print(
            f"    {k[:80]:80s} generated {g[0]:4.0f}x {g[1]:7.1f} us, hand {h[0]:4.0f}x {h[1]:7.1f} us"
        )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--batch", type=int, default=1)
    args = p.parse_args()
    use_gpu_profile()
    for name in args.models:
        probe(name, args.batch)


if __name__ == "__main__":
    main()
