"""The generated LSTM's and GRU's CUDA paths (``lstm_scan_cuda``, ``gru_scan_cuda``), as far as
a machine without a GPU can check them: CPU never takes them, and their Python side (the
weights regrouped per unit, the launch geometry, directions, states, GRU's h-side bias) is
exact when the kernel is replaced by a float64 NumPy model of what its CUDA source computes.
The CUDA sources themselves are checked against torch on the GPU machine by
``benchmarks/rnn_check.py`` (this machine can't compile them)."""

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
    """What LSTM_SCAN_SOURCE / GRU_SCAN_SOURCE compute, in NumPy; checks the launch too."""

    def __init__(self, gates: int) -> None:
        self.gates = gates
        self.launches: list[dict[str, Any]] = []

    def __call__(self, inputs: list, template: list, grid: tuple, threadgroup: tuple, **kw: Any):
        arrays = [np.array(a, dtype=np.float64) for a in inputs]
        args = dict(template)
        hidden, q, threads = args["H"], args["Q"], threadgroup[0]
        assert threads % 32 == 0 and hidden * q <= threads < hidden * q + 32 and threads <= 1024
        assert grid == (arrays[0].shape[1] * threads, 1, 1)
        assert arrays[1].shape == (hidden, hidden, self.gates)  # (k, unit, gate)
        self.launches.append(args)
        xw, w = arrays[0], arrays[1]
        y = np.zeros((xw.shape[0], xw.shape[1], hidden))
        if self.gates == 4:
            (h, c), bias = arrays[2:], np.zeros(4 * hidden)
        else:
            (bias, h), c = arrays[2:], None
        for t in reversed(range(xw.shape[0])) if args["REVERSE"] else range(xw.shape[0]):
            x = xw[t].reshape(-1, self.gates, hidden)
            hw = np.einsum("nk,kjg->ngj", h, w) + bias.reshape(self.gates, hidden)
            h, c = _lstm(x + hw, c) if self.gates == 4 else (_gru(x, hw, h), None)
            y[t] = h
        outs = (y, h, c) if self.gates == 4 else (y, h)
        return [mx.array(a.astype(np.float32)) for a in outs]


def _lstm(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, f, g, o = gates.transpose(1, 0, 2)
    c = c * _sigmoid(f) + np.tanh(g) * _sigmoid(i)
    return np.tanh(c) * _sigmoid(o), c


def _gru(x: np.ndarray, hw: np.ndarray, h: np.ndarray) -> np.ndarray:
    r, z = _sigmoid(x[:, 0] + hw[:, 0]), _sigmoid(x[:, 1] + hw[:, 1])
    return (1 - z) * np.tanh(x[:, 2] + r * hw[:, 2]) + z * h


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _generated(tmp_path: Path, model: torch.nn.Module, inputs: tuple) -> Any:
    fx2mlx.convert(model, inputs).save(tmp_path / "out")
    spec = importlib.util.spec_from_file_location("gen_rnn_cuda", tmp_path / "out" / "model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = {  # kind, input size, hidden, layers, bidirectional, batch_first, states, batch, bias
    "lstm_one_layer": ("LSTM", 5, 6, 1, False, True, False, 3, True),
    "lstm_stacked_bidirectional_states": ("LSTM", 4, 40, 2, True, False, True, 2, True),
    "lstm_hidden_33_no_bias": ("LSTM", 3, 33, 1, True, True, True, 1, False),
    "gru_one_layer": ("GRU", 5, 6, 1, False, True, False, 3, True),
    "gru_stacked_bidirectional_states": ("GRU", 4, 40, 2, True, False, True, 2, True),
    "gru_hidden_33_no_bias": ("GRU", 3, 33, 1, True, True, True, 1, False),
}


@pytest.mark.parametrize("case", CASES)
def test_cuda_path_python_side_matches_torch(tmp_path: Path, case: str) -> None:
    kind, size, hidden, layers, bidir, batch_first, with_states, batch, bias = CASES[case]
    layer = getattr(torch.nn, kind)(size, hidden, layers, bias, batch_first, 0.0, bidir)
    rnn = _randomize(layer)
    x = torch.randn((batch, 7, size) if batch_first else (7, batch, size))
    states = [torch.randn(layers * (1 + bidir), batch, hidden) for _ in range(2)]
    inputs = (x, *states[: 2 if kind == "LSTM" else 1]) if with_states else (x,)
    module = _generated(tmp_path, Seq(rnn), inputs)
    assert not module.scan_kernel_applies(object(), mx.zeros((7, batch, 4 * hidden)), 4)  # CPU
    kernel = KernelModel(4 if kind == "LSTM" else 3)
    setattr(module, f"{kind}_KERNEL", kernel)
    module.scan_kernel_applies = lambda k, xw, gates: k is not None
    got = module.load(tmp_path / "out")(*(mx.array(t.numpy()) for t in inputs))
    with torch.no_grad():
        want = Seq(rnn)(*inputs)
    assert len(kernel.launches) == layers * (1 + bidir)
    assert [a["REVERSE"] for a in kernel.launches] == [False, True][: 1 + bidir] * layers
    for g, w in zip(_flat(got), _flat(want), strict=True):
        np.testing.assert_allclose(np.array(g), w.numpy(), atol=2e-6, rtol=1e-5)


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _flat(v)]
    return [value]
