"""Sources of the recurrent cells a generated file may need (helpers_rnn.py lists them):
``nn.LSTMCell``, ``GRUCell`` and ``RNNCell`` as classes with PyTorch's parameter names, and
the ``aten.*_cell`` ops as functions. The gates themselves are helpers_rnn.py's steps."""

from __future__ import annotations

LSTM_CELL = '''
def lstm_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[mx.array, mx.array]:
    """aten.lstm_cell: one LSTM step of a batch; hx is (h, c)."""
    return lstm_step(project(x, w_ih, None if b_ih is None else b_ih + b_hh), *hx, w_hh)
'''

GRU_CELL = '''
def gru_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> mx.array:
    """aten.gru_cell: one GRU step of a batch."""
    return gru_step(project(x, w_ih, b_ih), hx, w_hh, b_hh)
'''

RNN_CELL = '''
def rnn_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh") -> mx.array:
    """aten.rnn_tanh_cell / rnn_relu_cell: one Elman RNN step of a batch."""
    bias = None if b_ih is None else b_ih + b_hh
    return rnn_step(project(x, w_ih, bias), hx, w_hh, nonlinearity)
'''

CELL_BASE = '''
class RNNCellBase(nn.Module):
    """What torch.nn.LSTMCell, GRUCell and RNNCell share: PyTorch's parameter names."""

    gates = 1  # blocks of hidden_size rows in weight_ih: 4 for LSTM (i, f, g, o), 3 for GRU

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = mx.zeros((self.gates * hidden_size, input_size))
        self.weight_hh = mx.zeros((self.gates * hidden_size, hidden_size))
        if bias:
            self.bias_ih = mx.zeros((self.gates * hidden_size,))
            self.bias_hh = mx.zeros((self.gates * hidden_size,))

    def weights(self) -> tuple:
        return self.weight_ih, self.weight_hh, self.get("bias_ih"), self.get("bias_hh")
'''

LSTM_CELL_CLASS = '''
class LSTMCell(RNNCellBase):
    """torch.nn.LSTMCell: returns (h, c)."""

    gates = 4

    def __call__(self, x: mx.array, hx: tuple[mx.array, mx.array] | None = None) -> tuple:
        if x.ndim == 1:  # unbatched: a batch of one
            h, c = self(x[None], hx if hx is None else (hx[0][None], hx[1][None]))
            return h[0], c[0]
        # no hx: the zero state, None, which spares the step its recurrent matmul
        return lstm_cell(x, hx if hx is not None else (None, None), *self.weights())
'''

GRU_CELL_CLASS = '''
class GRUCell(RNNCellBase):
    """torch.nn.GRUCell: returns h."""

    gates = 3

    def __call__(self, x: mx.array, hx: mx.array | None = None) -> mx.array:
        if x.ndim == 1:  # unbatched: a batch of one
            return self(x[None], hx if hx is None else hx[None])[0]
        return gru_cell(x, hx, *self.weights())  # hx None: the zero state
'''

RNN_CELL_CLASS = '''
class RNNCell(RNNCellBase):
    """torch.nn.RNNCell: returns h."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def __call__(self, x: mx.array, hx: mx.array | None = None) -> mx.array:
        if x.ndim == 1:  # unbatched: a batch of one
            return self(x[None], hx if hx is None else hx[None])[0]
        # hx None: the zero state
        return rnn_cell(x, hx, *self.weights(), nonlinearity=self.nonlinearity)
'''

CELL_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lstm_cell": (LSTM_CELL, ("lstm_step", "project")),
    "gru_cell": (GRU_CELL, ("gru_step", "project")),
    "rnn_cell": (RNN_CELL, ("rnn_step", "project")),
    "RNNCellBase": (CELL_BASE, ()),
    "LSTMCell": (LSTM_CELL_CLASS, ("RNNCellBase", "lstm_cell")),
    "GRUCell": (GRU_CELL_CLASS, ("RNNCellBase", "gru_cell")),
    "RNNCell": (RNN_CELL_CLASS, ("RNNCellBase", "rnn_cell")),
}
"""Each definition by name: its source and the definitions it uses."""
