"""How fast any LSTM written with MLX ops can be on this backend: the floor under the
benchmark's LSTM (2 layers, hidden 256, length 100, so 200 dependent steps).

Every step needs one (batch, 256) x (256, 1024) matmul with the previous step's h (it can't
be hoisted) and 5 x 256 transcendentals a sequence (3 sigmoids and 2 tanh). On the CPU MLX
has no custom kernels (``mx.fast.cuda_kernel``/``metal_kernel`` are GPU only), so a step costs
at least one ``mx.addmm`` plus those transcendentals in MLX's CPU math. Timing 200 chained
addmm, and all steps' transcendentals in two bulk ops (no per-op overhead), against
``mlx.nn.LSTM``'s whole forward bounds the speedup any MLX implementation can reach here:
``python -m benchmarks.lstm_floor`` prints it (one process, interleaved, medians).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import mlx.core as mx
import mlx.nn as nn

HIDDEN, STEPS, LAYERS, INPUT = 256, 100, 2, 128


def parts(batch: int) -> dict[str, Callable[[], mx.array]]:
    """The whole hand-written forward, and the two floors of its 200 steps."""
    layers = [nn.LSTM(INPUT, HIDDEN), nn.LSTM(HIDDEN, HIDDEN)]
    x = mx.random.normal((batch, STEPS, INPUT))
    w, xw = mx.random.normal((4 * HIDDEN, HIDDEN)) * 0.05, mx.random.normal((batch, 4 * HIDDEN))
    gates = mx.random.normal((STEPS * LAYERS, batch, 5 * HIDDEN))
    mx.eval(x, w, xw, gates, [layer.parameters() for layer in layers])

    def hand() -> mx.array:
        y = x
        for layer in layers:
            y, _ = layer(y)
        return y

    def matmuls() -> mx.array:
        h = xw[:, :HIDDEN]
        for _ in range(STEPS * LAYERS):
            h = mx.addmm(xw, h, w.T)[:, :HIDDEN]
        return h

    def transcendentals() -> tuple[mx.array, mx.array]:
        # every step's 3 sigmoids and 2 tanh a unit in two ops: their cost without any op's
        # overhead (a fused step would still pay these, in MLX's own CPU math)
        return mx.sigmoid(gates[..., : 3 * HIDDEN]), mx.tanh(gates[..., 3 * HIDDEN :])

    return {"mlx.nn.LSTM": hand, "addmm chain": matmuls, "transcendentals": transcendentals}  # type: ignore[dict-item]


def measure(batch: int, rounds: int = 15) -> dict[str, float]:
    fns = parts(batch)
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds + 2):
        for name, fn in fns.items():
            start = time.perf_counter()
            mx.eval(fn())
            if r >= 2:  # two warm-up rounds
                samples[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) * 1e3 for k, v in samples.items()}


def main() -> None:
    for batch in (1, 16):
        ms = measure(batch)
        floor = ms["addmm chain"] + ms["transcendentals"]
        print(
            f"batch {batch}: mlx.nn.LSTM {ms['mlx.nn.LSTM']:.2f} ms; 200 chained addmm "
            f"{ms['addmm chain']:.2f} ms; transcendentals alone {ms['transcendentals']:.2f} ms; "
            f"best possible speedup {ms['mlx.nn.LSTM'] / floor:.2f}x "
            f"(matmuls alone: {ms['mlx.nn.LSTM'] / ms['addmm chain']:.2f}x)"
        )


if __name__ == "__main__":
    main()
