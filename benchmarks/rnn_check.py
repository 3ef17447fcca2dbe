"""The generated LSTM's and GRU's CUDA kernels (``lstm_scan_cuda``, ``gru_scan_cuda``) against
PyTorch, on the GPU machine.

CI has no GPU, so the kernel path is checked here, in two steps:

``python -m benchmarks.rnn_check prepare DIR`` (here, with fx2mlx): converts each case, and
saves its model folder, inputs and torch outputs (float32, CPU) under ``DIR/CASE/``.

``python -m benchmarks.rnn_check run DIR`` (on the GPU machine, MLX only): loads each folder's
``model.py``, runs it with the kernel and again with the kernel switched off (the step loop),
and requires the kernel's error against torch to be within float32 rounding of the step
loop's: ``<= max(1e-5, 4 x the step loop's)``. Cases the kernel doesn't take (proj_size) must
match through the step loop. Exit status 1 on any failure.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

# name: (input, hidden, layers, bidirectional, batch_first, with hx, input shape, proj_size)
SHAPES: dict[str, tuple] = {
    "plain": (16, 32, 1, False, True, False, (3, 20, 16), 0),
    "tiny_bidir_hx": (7, 5, 2, True, False, True, (13, 4, 7), 0),
    "three_layers": (33, 100, 3, True, True, True, (2, 9, 33), 0),
    "wide": (64, 1024, 1, False, True, False, (2, 6, 64), 0),
    "one_step": (16, 40, 2, True, False, True, (1, 5, 16), 0),
    "unbatched": (24, 48, 1, False, False, False, (11, 24), 0),
    "big_batch": (8, 64, 1, False, True, False, (130, 7, 8), 0),
}
CASES: dict[str, tuple] = {
    **{f"lstm_{k}": ("LSTM", *v) for k, v in SHAPES.items()},
    "lstm_proj_size": ("LSTM", 16, 32, 2, False, True, False, (3, 8, 16), 8),
    **{f"gru_{k}": ("GRU", *v) for k, v in SHAPES.items() if k != "wide"},
}


def prepare(out: Path) -> None:
    import torch

    import fx2mlx

    class Net(torch.nn.Module):
        """The layer with its states as separate inputs (example inputs are tensors)."""

        def __init__(self, lstm: torch.nn.Module) -> None:
            super().__init__()
            self.lstm = lstm

        def forward(self, x: torch.Tensor, *hx: torch.Tensor) -> Any:
            if not hx:
                return self.lstm(x)
            return self.lstm(x, tuple(hx) if len(hx) == 2 else hx[0])

    for name, (kind, i, h, layers, bidir, bf, with_hx, shape, proj) in CASES.items():
        torch.manual_seed(len(name))
        extra = {"proj_size": proj} if kind == "LSTM" else {}
        lstm = getattr(torch.nn, kind)(i, h, layers, batch_first=bf, bidirectional=bidir, **extra)
        for p in lstm.parameters():
            torch.nn.init.uniform_(p, -0.5, 0.5)
        inputs: tuple[Any, ...] = (torch.randn(*shape),)
        if with_hx:
            n = layers * (2 if bidir else 1)
            batch = (shape[0] if bf else shape[1],) if len(shape) == 3 else ()
            inputs += (torch.randn(n, *batch, proj or h), torch.randn(n, *batch, h))[
                : 2 if kind == "LSTM" else 1
            ]
        net = Net(lstm).eval()
        with torch.no_grad():
            expected = _leaves(net(*inputs))
        fx2mlx.convert(net, inputs).save(out / name)
        arrays = [t.numpy() for t in (*inputs, *expected)]
        np.savez(out / name / "case.npz", *arrays)
        (out / name / "n_inputs").write_text(str(len(inputs)))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def run(folder: Path) -> int:
    failed = 0
    for name in CASES:
        errors, took_kernel = check(folder / name)
        kernel_err, loop_err = errors
        ok = kernel_err <= max(1e-5, 4 * loop_err) and took_kernel != name.endswith("proj_size")
        failed += not ok
        print(
            f"{name:14s} kernel={took_kernel!s:5s} error {kernel_err:.2e} (step loop {loop_err:.2e}) {'ok' if ok else 'FAILED'}"
        )
    return 1 if failed else 0


def check(case: Path) -> tuple[tuple[float, float], bool]:
    """Max abs error against torch with the kernel and with the step loop; whether the
    kernel ran."""
    import mlx.core as mx

    module = _module(case)
    stored = np.load(case / "case.npz")
    arrays = [mx.array(stored[f"arr_{k}"]) for k in range(len(stored.files))]
    n_in = int((case / "n_inputs").read_text())
    inputs = arrays[:n_in]
    expected = arrays[n_in:]
    model = module.load(case)
    calls: list[bool] = []
    applies = module.scan_kernel_applies
    module.scan_kernel_applies = lambda *a: calls.append(applies(*a)) or calls[-1]
    errors = []
    name = "LSTM_KERNEL" if case.name.startswith("lstm") else "GRU_KERNEL"
    for kernel in (getattr(module, name), None):
        setattr(module, name, kernel)
        got = _leaves(model(*inputs))
        errors.append(max(float(mx.abs(g - e).max()) for g, e in zip(got, expected)))
    return (errors[0], errors[1]), bool(calls) and calls[0]


def _module(case: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"rnn_check_{case.name}", case / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    command, where = sys.argv[1], Path(sys.argv[2])
    if command == "prepare":
        prepare(where)
    else:
        sys.exit(run(where))
