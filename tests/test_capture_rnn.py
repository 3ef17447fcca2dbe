"""Recurrent layers' shapes during capture (``capture/rnn_shapes.py``): the stand-in for
torch's unrolled decomposition gives export the same graph, and conversions stay exact."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.capture import rnn_shapes as rnn_shapes_module
from fx2mlx.capture.rnn_shapes import rnn_shapes
from fx2mlx.errors import Fx2MlxError

LAYERS = [
    (nn.LSTM, dict(num_layers=2, batch_first=True), (3, 5, 6)),
    (nn.LSTM, dict(bidirectional=True, proj_size=4), (5, 3, 6)),
    (nn.LSTM, dict(batch_first=True), (5, 6)),  # unbatched: nn.LSTM adds the batch dim
    (nn.GRU, dict(num_layers=2, batch_first=True, bidirectional=True), (3, 5, 6)),
    (nn.RNN, dict(nonlinearity="relu"), (5, 3, 6)),
    (nn.RNN, dict(num_layers=3, batch_first=True, bias=False), (3, 5, 6)),
]


class _Wrap(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> object:
        return self.rnn(x)


def _graph(model: nn.Module, x: torch.Tensor, dims: range) -> list[tuple]:
    """Each node's op and its values' shapes, strides and dtypes, and the inputs' ranges."""
    shapes = ({d: torch.export.Dim.AUTO for d in dims},)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(model, (x,), dynamic_shapes=shapes, strict=False)
    rows: list[tuple] = [(str(k), str(v)) for k, v in ep.range_constraints.items()]
    for node in ep.graph.nodes:
        val = node.meta.get("val")
        vals = val if isinstance(val, (tuple, list)) else [val]
        facts = [(str(v.shape), str(v.stride()), v.dtype) for v in vals if hasattr(v, "stride")]
        rows.append((node.op, str(node.target), facts))
    return rows


@pytest.mark.parametrize("every_dim", [False, True], ids=["batch", "probe"])
@pytest.mark.parametrize("cls, kwargs, shape", LAYERS)
def test_stand_in_gives_the_graph_torch_gives(
    cls: type, kwargs: dict, shape: tuple, every_dim: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the batch dynamic (the capture) and every dim (the probe): the time steps are
    fixed and the rest stays symbolic as torch's decomposition leaves them."""
    torch.manual_seed(0)
    model = _Wrap(cls(6, 8, **kwargs)).eval()
    x = torch.randn(shape)
    dims = range(len(shape) if every_dim else 1)
    torchs = _graph(model, x, dims)
    calls = []
    for name, shapes in dict(rnn_shapes_module._SHAPES).items():
        counted = lambda *a, shapes=shapes: calls.append(1) or shapes(*a)  # noqa: E731
        monkeypatch.setitem(rnn_shapes_module._SHAPES, name, counted)
    with rnn_shapes():
        ours = _graph(model, x, dims)
    assert calls, "the stand-in did not run"
    assert ours == torchs


@pytest.mark.parametrize("cls, kwargs, shape", LAYERS)
def test_recurrent_layers_convert_exactly(cls: type, kwargs: dict, shape: tuple) -> None:
    torch.manual_seed(1)
    model = _Wrap(cls(6, 8, **kwargs)).eval()
    for p in model.parameters():
        torch.nn.init.uniform_(p, -0.5, 0.5)
    result = fx2mlx.convert(model, (torch.randn(shape),)).validate()
    assert result.ok, result.table()


def test_torchs_kernels_are_restored_even_after_an_error() -> None:
    ops = [getattr(torch.ops.aten, n).input for n in ("lstm", "gru", "rnn_tanh", "rnn_relu")]
    key = torch._C.DispatchKey.CompositeImplicitAutograd
    before = [op.py_kernels.get(key) for op in ops]
    with pytest.raises(ValueError), rnn_shapes():
        assert [op.py_kernels.get(key) for op in ops] != before
        raise ValueError("inside")
    assert [op.py_kernels.get(key) for op in ops] == before


def test_an_input_the_layer_does_not_take_is_still_refused() -> None:
    """A misfit keeps torch's own path: eager's error, as before the stand-in."""
    model = _Wrap(nn.LSTM(6, 8, batch_first=True)).eval()
    with pytest.raises(Fx2MlxError, match=r"(?s)^\[fx2mlx\].*input.size\(-1\) must be equal"):
        fx2mlx.convert(model, (torch.randn(2, 5, 7),))
