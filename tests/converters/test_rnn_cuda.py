"""The generated LSTM's CUDA path (``lstm_scan_cuda``), as far as a machine without a GPU can
check it: CPU never takes it, and its Python side (the weights regrouped per unit, the launch
geometry, directions, states) is exact when the kernel is replaced by a float64 NumPy model
of what the CUDA source computes. The CUDA source itself is checked against torch on the
GPU machine by ``benchmarks/rnn_check.py`` (this machine can't compile it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import pytest
import torch

import fx2mlx

from .test_rnn import Seq, _randomize


class KernelModel:
    """What LSTM_SCAN_SOURCE computes, in NumPy; it also checks the launch it is given."""

    def __init__(self) -> None:
        self.launches: list[dict[str, Any]] = []

    def __call__(self, inputs: list, template: list, grid: tuple, threadgroup: tuple, **kw: Any):
        xw, w4, h, c = (np.array(a, dtype=np.float64) for a in inputs)
        args = dict(template)
        hidden, q, reverse = args["H"], args["Q"], args["REVERSE"]
        threads = threadgroup[0]
        assert threads % 32 == 0 and hidden * q <= threads < hidden * q + 32 and threads <= 1024
        assert grid == (xw.shape[1] * threads, 1, 1)
        assert w4.shape == (hidden, hidden, 4)  # (k, unit, gate)
        self.launches.append(args)
        steps = xw.shape[0]
        y = np.zeros((steps, xw.shape[1], hidden))
        for t in reversed(range(steps)) if reverse else range(steps):
            gates = xw[t].reshape(-1, 4, hidden) + np.einsum("nk,kjg->ngj", h, w4)
            i, f, g, o = (gates[:, k] for k in range(4))
            c = c * _sigmoid(f) + np.tanh(g) * _sigmoid(i)
            h = y[t] = np.tanh(c) * _sigmoid(o)
        return [mx.array(a.astype(np.float32)) for a in (y, h, c)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _generated(tmp_path: Path, model: torch.nn.Module, inputs: tuple) -> Any:
    fx2mlx.convert(model, inputs).save(tmp_path / "out")
    spec = importlib.util.spec_from_file_location("gen_lstm_cuda", tmp_path / "out" / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = {  # input size, hidden, layers, bidirectional, batch_first, states given, batch
    "one_layer": (5, 6, 1, False, True, False, 3),
    "stacked_bidirectional_states": (4, 40, 2, True, False, True, 2),
    "hidden_not_a_multiple_of_32": (3, 33, 1, True, True, True, 1),
}


@pytest.mark.parametrize("case", CASES)
def test_cuda_path_python_side_matches_torch(tmp_path: Path, case: str) -> None:
    size, hidden, layers, bidir, batch_first, with_states, batch = CASES[case]
    lstm = _randomize(
        torch.nn.LSTM(size, hidden, layers, batch_first=batch_first, bidirectional=bidir)
    )
    x = torch.randn((batch, 7, size) if batch_first else (7, batch, size))
    states = (torch.randn(layers * (1 + bidir), batch, hidden) for _ in range(2))
    inputs = (x, *states) if with_states else (x,)
    module = _generated(tmp_path, Seq(lstm), inputs)
    assert not module.lstm_kernel_applies(mx.zeros((7, batch, 4 * hidden)), None)  # CPU
    module.LSTM_KERNEL = kernel = KernelModel()
    module.lstm_kernel_applies = lambda xw, w_hr: w_hr is None
    got = module.load(tmp_path / "out")(*(mx.array(t.numpy()) for t in inputs))
    with torch.no_grad():
        want = Seq(lstm)(*inputs)
    assert len(kernel.launches) == layers * (1 + bidir)
    assert [a["REVERSE"] for a in kernel.launches] == [False, True][: 1 + bidir] * layers
    for g, w in zip(_flat(got), _flat(want)):
        np.testing.assert_allclose(np.array(g), w.numpy(), atol=2e-6, rtol=1e-5)


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _flat(v)]
    return [value]
