"""Recurrent layers against torch: LSTM, GRU, RNN (tanh, relu) and their cells, as layers (the
generated classes) and as functional ops (a root module)."""

from __future__ import annotations

import re
from pathlib import Path

import mlx.core as mx
import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.tensors import to_mlx
from fx2mlx.validate import load_generated

from ..helpers import assert_converts, assert_roundtrip

KINDS = ["LSTM", "GRU", "RNN_tanh", "RNN_relu"]
IN, HID, L, N = 5, 6, 7, 3


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Weights well away from torch's small default init, so a wrong gate shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) - 0.5)
    return module.eval()


def _sequence(kind: str, **kw: object) -> nn.RNNBase:
    if kind.startswith("RNN"):
        return nn.RNN(IN, HID, nonlinearity=kind.split("_")[1], **kw)  # type: ignore[arg-type]
    return getattr(nn, kind)(IN, HID, **kw)


class Seq(nn.Module):
    """Calls the layer with the states given as extra inputs (none: torch's zeros) and
    returns its whole result, nested as torch nests it."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn
        self.pair = isinstance(rnn, (nn.LSTM, nn.LSTMCell))  # its state is (h, c)

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None, c0: torch.Tensor | None = None
    ) -> object:
        if h0 is None:
            return self.rnn(x)
        return self.rnn(x, (h0, c0) if self.pair else h0)


class Wrap(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> object:
        return self.rnn(x)


def _bias(*flags: bool) -> bool:
    """Bias on or off, alternating over the other arguments: each kind meets both with every
    value of every other argument, at half the cases of the full product."""
    return sum(flags) % 2 == 0


def _states(rnn: nn.RNNBase, batch: int | None) -> tuple[torch.Tensor, ...]:
    """Random initial states of the layer's shape (batch None: unbatched)."""
    n = rnn.num_layers * (2 if rnn.bidirectional else 1)
    lead = (n,) if batch is None else (n, batch)
    if isinstance(rnn, nn.LSTM):
        h = torch.randn(*lead, rnn.proj_size or rnn.hidden_size)
        return h, torch.randn(*lead, rnn.hidden_size)
    return (torch.randn(*lead, rnn.hidden_size),)


def _input(rnn: nn.RNNBase, batched: bool = True) -> torch.Tensor:
    if not batched:
        return torch.randn(L, rnn.input_size)
    return torch.randn(N, L, rnn.input_size) if rnn.batch_first else torch.randn(L, N, IN)


@pytest.mark.parametrize("state", [False, True], ids=["zeros", "state"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["LNC", "NLC"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_sequence(
    kind: str, num_layers: int, bidirectional: bool, batch_first: bool, state: bool
) -> None:
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    bias = _bias(num_layers == 2, bidirectional, batch_first, state)
    dropout = 0.3 if num_layers > 1 else 0.0  # eval: no effect
    rnn = _randomize(_sequence(kind, bias=bias, dropout=dropout, **kw))
    x = _input(rnn)
    conv = assert_converts(Seq(rnn), (x, *_states(rnn, N)) if state else x)
    name = kind.split("_")[0]
    assert re.search(rf"self\.rnn = {name}\(\s*5,\s*6[,)\s]", conv.source)
    assert f"\nclass {name}(RNNBase):" in conv.source
    if state and name == "LSTM":
        assert "self.rnn(x, (h0, c0))" in conv.source


@pytest.mark.parametrize("state", [False, True], ids=["zeros", "state"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["LNC", "NLC"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_lstm_proj_size(
    num_layers: int, bidirectional: bool, batch_first: bool, state: bool
) -> None:
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    bias = _bias(num_layers == 2, bidirectional, batch_first, not state)
    rnn = _randomize(nn.LSTM(IN, HID, bias=bias, proj_size=4, **kw))
    x = _input(rnn)
    conv = assert_converts(Seq(rnn), (x, *_states(rnn, N)) if state else x)
    assert "proj_size=4" in conv.source


@pytest.mark.parametrize("state", [False, True], ids=["zeros", "state"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["LNC", "NLC"])
@pytest.mark.parametrize("kind", KINDS)
def test_sequence_unbatched(kind: str, batch_first: bool, state: bool) -> None:
    rnn = _randomize(_sequence(kind, num_layers=2, bidirectional=True, batch_first=batch_first))
    x = _input(rnn, batched=False)
    assert_converts(Seq(rnn), (x, *_states(rnn, None)) if state else x)


CELLS = ["LSTMCell", "GRUCell", "RNNCell_tanh", "RNNCell_relu"]


def _cell(kind: str, bias: bool) -> nn.RNNCellBase:
    if kind.startswith("RNNCell"):
        return nn.RNNCell(IN, HID, bias=bias, nonlinearity=kind.split("_")[1])
    return getattr(nn, kind)(IN, HID, bias=bias)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("state", [False, True], ids=["zeros", "state"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", CELLS)
def test_cell(kind: str, bias: bool, state: bool, batched: bool) -> None:
    cell = _randomize(_cell(kind, bias))
    lead = (N,) if batched else ()
    x = torch.randn(*lead, IN)
    states = tuple(torch.randn(*lead, HID) for _ in range(2 if kind == "LSTMCell" else 1))
    conv = assert_converts(Seq(cell), (x, *states) if state else x)
    assert re.search(rf"self\.rnn = {kind.split('_')[0]}\(\s*5,\s*6[,)\s]", conv.source)


class CellLoop(nn.Module):
    """A hand-written time loop over an LSTMCell and a GRUCell, as decoders are written."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTMCell(IN, HID)
        self.gru = nn.GRUCell(HID, HID)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = c = g = torch.zeros(x.shape[1], HID)
        outs = []
        for t in range(x.shape[0]):
            h, c = self.lstm(x[t], (h, c))
            g = self.gru(h, g)
            outs.append(g)
        return torch.stack(outs)


def test_cells_in_a_time_loop() -> None:
    conv = assert_converts(_randomize(CellLoop()), torch.randn(4, N, IN))
    assert conv.source.count("self.lstm(") == 4


class ConvLSTM(nn.Module):
    """A conv1d stack (channels-last inside) feeding an LSTM over time, then a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv1d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv1d(8, IN, 3, padding=1), nn.ReLU()
        )
        self.lstm = nn.LSTM(IN, HID, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * HID, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convs(x).transpose(1, 2)  # (N, C, L) -> (N, L, C)
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_lstm_after_conv1d_stack(frontend: str) -> None:
    conv = assert_converts(_randomize(ConvLSTM()), torch.randn(2, 3, 9), frontend=frontend)
    assert "self.lstm = LSTM(5, 6, num_layers=2, batch_first=True, bidirectional=True)" in (
        conv.source
    )
    assert conv.report.transposes == 1  # the input only: the conv output is already (N, L, C)


@pytest.mark.parametrize("frontend", ["export", "fx"])
@pytest.mark.parametrize("kind", KINDS)
def test_sequence_frontends(kind: str, frontend: str) -> None:
    rnn = _randomize(_sequence(kind, num_layers=2, bidirectional=True))
    x = _input(rnn)
    assert_converts(Seq(rnn), (x, *_states(rnn, N)), frontend=frontend)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("kind", KINDS + ["LSTM_proj"])
def test_sequence_at_the_root_is_functional(kind: str, batched: bool) -> None:
    """A root layer has no parent to hold it: its aten.lstm / gru / rnn_* op is converted."""
    kw = dict(proj_size=4) if kind == "LSTM_proj" else {}
    rnn = _randomize(_sequence(kind.split("_p")[0], num_layers=2, bidirectional=True, **kw))
    conv = assert_converts(rnn, _input(rnn, batched))
    fn = {"LSTM": "lstm", "GRU": "gru"}.get(kind.split("_")[0], "rnn")
    assert f" = {fn}(" in conv.source or f"return {fn}(" in conv.source


@pytest.mark.parametrize("kind", CELLS)
def test_cell_at_the_root_is_functional(kind: str) -> None:
    cell = _randomize(_cell(kind, True))
    state = () if kind == "LSTMCell" else (torch.randn(N, HID),)  # a root takes only tensors
    conv = assert_converts(cell, (torch.randn(N, IN), *state))
    fn = {"LSTMCell": "lstm_cell", "GRUCell": "gru_cell"}.get(kind, "rnn_cell")
    assert f"{fn}(" in conv.source


class Reuse(nn.Module):
    """One GRU called twice (the second call starts from the first's final state), and only
    some of its results read."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(IN, HID, batch_first=True)
        self.proj = nn.Linear(HID, IN)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, h = self.gru(x)
        z, _ = self.gru(self.proj(y), h)
        return z, h


def test_layer_called_twice() -> None:
    conv = assert_converts(_randomize(Reuse()), torch.randn(N, L, IN))
    assert conv.source.count("self.gru(") == 2


class _CountingMx:
    """mlx.core with its addmm calls counted (the generated module's ``mx``)."""

    def __init__(self) -> None:
        self.addmm_calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(mx, name)

    def addmm(self, *args: object, **kwargs: object) -> mx.array:
        self.addmm_calls += 1
        return mx.addmm(*args, **kwargs)


@pytest.mark.parametrize("kind", KINDS)
def test_zero_state_spares_the_first_recurrent_matmul(kind: str, tmp_path: Path) -> None:
    """Without hx a layer starts from zeros, so its first step has no W_hh h to compute: each
    layer and direction makes one input projection and L - 1 recurrent addmm, not L."""
    model = _randomize(Seq(_sequence(kind, num_layers=2, bidirectional=True)))
    x = _input(model.rnn)  # type: ignore[arg-type]
    conv = assert_converts(model, x)
    conv.save(tmp_path / "out")
    generated = load_generated(tmp_path / "out")
    counting = _CountingMx()
    type(generated).__call__.__globals__["mx"] = counting  # the generated file's namespace
    mx.eval(generated(to_mlx(x)))
    assert counting.addmm_calls == 4 * (1 + L - 1)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "LSTMCell", "RNN_relu"])
def test_weights_keep_torch_keys_and_sanitize_loads_strict(kind: str, tmp_path: Path) -> None:
    if kind == "LSTMCell":
        layer: nn.Module = _cell(kind, True)
        x = torch.randn(N, IN)
    else:
        kw = dict(proj_size=3) if kind == "LSTM" else {}
        layer = _sequence(kind, num_layers=2, bidirectional=True, **kw)
        x = _input(layer)  # type: ignore[arg-type]
    model = _randomize(Seq(layer))
    conv = assert_converts(model, x)
    conv.save(tmp_path / "out")
    keys = set(mx.load(str(tmp_path / "out" / "model.safetensors")))
    assert keys == set(model.state_dict())
    assert_roundtrip(model, conv, (x,), tmp_path / "rt")


def test_training_dropout_is_reported() -> None:
    """An explicit functional call in training mode: fx2mlx converts eval mode only."""

    class Train(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.GRU(IN, HID, num_layers=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.zeros(2, x.shape[1], HID)
            w = self.rnn._flat_weights
            return torch.gru(x, h, w, True, 2, 0.5, True, False, False)[0]

    with pytest.raises(fx2mlx.UnsupportedError, match="training mode"):
        fx2mlx.convert(Train(), torch.randn(L, N, IN))


class Doubled(nn.LSTM):
    """A subclass with a forward of its own is no longer torch's layer: its ops convert."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0] * 2


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_subclass_with_own_forward_is_functional(frontend: str) -> None:
    model = Wrap(_randomize(Doubled(IN, HID, num_layers=2, bidirectional=True, proj_size=3)))
    conv = assert_converts(model, torch.randn(L, N, IN), frontend=frontend)
    assert "class Doubled(nn.Module):" in conv.source
    assert "lstm(\n" in conv.source and "self.weight_hr_l1_reverse," in conv.source
