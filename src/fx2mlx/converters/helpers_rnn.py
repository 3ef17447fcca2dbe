"""Sources of the recurrent layers a generated file may need; helpers.py registers them.

Each torch layer becomes a class with PyTorch's parameter names (``weight_ih_l0``,
``bias_hh_l1_reverse``, ``weight_hr_l0``), so a state_dict loads unchanged and ``sanitize``
has nothing to do. Both biases are kept rather than summed: their sum is one vector add per
call, folded into the input projection that is computed for every time step at once before
the loop, and GRU must keep ``bias_hn`` apart anyway (r scales it). The loop is left with one
matmul a step (``mx.addmm``).
"""

from __future__ import annotations

from .helpers_rnn_cells import CELL_SOURCES
from .helpers_rnn_cuda import RNN_CUDA_SOURCES

LSTM_STEP = '''
def lstm_step(
    xw: mx.array, h: mx.array | None, c: mx.array | None, w_hh: mx.array
) -> tuple[mx.array, mx.array]:
    """One LSTM step, gates i, f, g, o; xw is the step's input projection, both biases in.
    h and c None are the zero state (a layer's first step without hx): no matmul."""
    i, f, g, o = mx.split(xw if h is None else mx.addmm(xw, h, w_hh.T), 4, axis=-1)
    c_in = mx.sigmoid(i) * mx.tanh(g)
    c = c_in if c is None else mx.sigmoid(f) * c + c_in
    h = mx.sigmoid(o) * mx.tanh(c)
    return h, c
'''

GRU_STEP = '''
def gru_step(xw: mx.array, h: mx.array | None, w_hh: mx.array, b_hh: mx.array | None) -> mx.array:
    """One GRU step, gates r, z, n; xw is the step's input projection with bias_ih only:
    as in torch, r scales W_hn h + b_hn, its bias included. h None is the zero state (a
    layer's first step without hx): no matmul, only b_hh is left of W_h h + b_hh."""
    if h is None:
        hw = mx.zeros(xw.shape[-1:], xw.dtype) if b_hh is None else b_hh
    else:
        hw = h @ w_hh.T if b_hh is None else mx.addmm(b_hh, h, w_hh.T)
    x_r, x_z, x_n = mx.split(xw, 3, axis=-1)
    h_r, h_z, h_n = mx.split(hw, 3, axis=-1)
    r = mx.sigmoid(x_r + h_r)
    z = mx.sigmoid(x_z + h_z)
    n = mx.tanh(x_n + r * h_n)
    return (1 - z) * n if h is None else (1 - z) * n + z * h
'''

RNN_STEP = '''
def rnn_step(xw: mx.array, h: mx.array | None, w_hh: mx.array, nonlinearity: str) -> mx.array:
    """One Elman RNN step; xw is the step's input projection, both biases in. h None is the
    zero state (a layer's first step without hx): no matmul."""
    h = xw if h is None else mx.addmm(xw, h, w_hh.T)
    return mx.tanh(h) if nonlinearity == "tanh" else nn.relu(h)
'''

PROJECT = '''
def project(x: mx.array, w_ih: mx.array, bias: mx.array | None) -> mx.array:
    """The input side of a recurrent layer, x @ w_ih.T + bias (for every time step at once)."""
    return x @ w_ih.T if bias is None else mx.addmm(bias, x, w_ih.T)
'''

BASE = '''
class RNNBase(nn.Module):
    """What torch.nn.LSTM, GRU and RNN share in eval mode (dropout off): PyTorch's parameter
    names, stacked layers, two directions, batch_first and unbatched inputs."""

    gates = 1  # blocks of hidden_size rows in weight_ih: 4 for LSTM (i, f, g, o), 3 for GRU

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.num_directions = 2 if bidirectional else 1
        self.proj_size = proj_size
        for name, shape in self.shapes(input_size).items():
            setattr(self, name, mx.zeros(shape))

    def shapes(self, input_size: int) -> dict[str, tuple[int, ...]]:
        """PyTorch's parameters in its order: per layer and direction weight_ih, weight_hh,
        then bias_ih, bias_hh (with bias) and weight_hr (with proj_size)."""
        rows, out = self.gates * self.hidden_size, self.proj_size or self.hidden_size
        shapes = {}
        for layer in range(self.num_layers):
            cols = input_size if layer == 0 else out * self.num_directions
            for sfx in self.suffixes(layer):
                shapes[f"weight_ih_{sfx}"] = (rows, cols)
                shapes[f"weight_hh_{sfx}"] = (rows, out)
                if self.bias:
                    shapes[f"bias_ih_{sfx}"] = (rows,)
                    shapes[f"bias_hh_{sfx}"] = (rows,)
                if self.proj_size:
                    shapes[f"weight_hr_{sfx}"] = (self.proj_size, self.hidden_size)
        return shapes

    def suffixes(self, layer: int) -> list[str]:
        """Parameter-name suffixes of one layer's directions: l0, then l0_reverse."""
        return [f"l{layer}", f"l{layer}_reverse"][: self.num_directions]

    def weights(self, sfx: str) -> tuple:
        """weight_ih, weight_hh, bias_ih, bias_hh of one layer and direction (None: no bias)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return tuple(self.get(f"{name}_{sfx}") for name in names)

    def run(self, x: mx.array, hx: tuple | None, sizes: tuple[int, ...]) -> tuple:
        """Every layer and direction over x. hx holds one (layers * directions, N, size) array
        per state (h; or h and c), zeros if not given; returns output and the final states."""
        batched = x.ndim == 3
        if not batched:  # one sequence, (L, D): a batch of one
            x, hx = x[:, None], hx if hx is None else tuple(s[:, None] for s in hx)
        elif self.batch_first:
            x = x.swapaxes(0, 1)  # time-major inside: (L, N, D)
        if x.shape[0] == 0:
            raise ValueError("an RNN's input needs at least one time step")
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(self.suffixes(layer)):
                k = layer * self.num_directions + d
                # no hx: the zero state, None, spares each layer its first recurrent matmul
                state = (None,) * len(sizes) if hx is None else tuple(s[k] for s in hx)
                y, final = self.scan(x, state, sfx, reverse=d == 1)
                outs.append(y)
                finals.append(final)
            x = mx.concatenate(outs, axis=-1) if len(outs) > 1 else outs[0]
        states = tuple(mx.stack(s) for s in zip(*finals))
        if not batched:
            return x[:, 0], tuple(s[:, 0] for s in states)
        return (x.swapaxes(0, 1) if self.batch_first else x), states

    @staticmethod
    def time_steps(length: int, reverse: bool) -> range:
        return range(length - 1, -1, -1) if reverse else range(length)
'''

LSTM_CLASS = '''
class LSTM(RNNBase):
    """torch.nn.LSTM: returns output, (h_n, c_n); with proj_size, h is projected by weight_hr."""

    gates = 4

    def __call__(self, x: mx.array, hx: tuple[mx.array, mx.array] | None = None) -> tuple:
        return self.run(x, hx, (self.proj_size or self.hidden_size, self.hidden_size))

    def scan(self, x: mx.array, state: tuple, sfx: str, reverse: bool) -> tuple:
        """One layer and direction over time-major x: every step's h, and the final (h, c)."""
        w_ih, w_hh, b_ih, b_hh = self.weights(sfx)
        xw = project(x, w_ih, None if b_ih is None else b_ih + b_hh)
        w_hr = self.get(f"weight_hr_{sfx}")
        if w_hr is None and scan_kernel_applies(LSTM_KERNEL, xw, 4):
            return lstm_scan_cuda(xw, w_hh, *state, reverse)
        h, c = state
        outs = [None] * x.shape[0]
        for t in self.time_steps(x.shape[0], reverse):
            h, c = lstm_step(xw[t], h, c, w_hh)
            if w_hr is not None:
                h = h @ w_hr.T  # proj_size: the hidden state is projected
            outs[t] = h
        return mx.stack(outs), (h, c)
'''

GRU_CLASS = '''
class GRU(RNNBase):
    """torch.nn.GRU: returns output, h_n."""

    gates = 3

    def __call__(self, x: mx.array, hx: mx.array | None = None) -> tuple:
        output, (h_n,) = self.run(x, hx if hx is None else (hx,), (self.hidden_size,))
        return output, h_n

    def scan(self, x: mx.array, state: tuple, sfx: str, reverse: bool) -> tuple:
        """One layer and direction over time-major x: every step's h, and the final h."""
        w_ih, w_hh, b_ih, b_hh = self.weights(sfx)
        xw = project(x, w_ih, b_ih)
        if scan_kernel_applies(GRU_KERNEL, xw, 3):
            return gru_scan_cuda(xw, w_hh, b_hh, *state, reverse)
        (h,) = state
        outs = [None] * x.shape[0]
        for t in self.time_steps(x.shape[0], reverse):
            h = outs[t] = gru_step(xw[t], h, w_hh, b_hh)
        return mx.stack(outs), (h,)
'''

RNN_CLASS = '''
class RNN(RNNBase):
    """torch.nn.RNN (tanh or relu): returns output, h_n."""

    def __init__(self, *args, nonlinearity: str = "tanh", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.nonlinearity = nonlinearity

    def __call__(self, x: mx.array, hx: mx.array | None = None) -> tuple:
        output, (h_n,) = self.run(x, hx if hx is None else (hx,), (self.hidden_size,))
        return output, h_n

    def scan(self, x: mx.array, state: tuple, sfx: str, reverse: bool) -> tuple:
        """One layer and direction over time-major x: every step's h, and the final h."""
        w_ih, w_hh, b_ih, b_hh = self.weights(sfx)
        xw = project(x, w_ih, None if b_ih is None else b_ih + b_hh)
        (h,) = state
        outs = [None] * x.shape[0]
        for t in self.time_steps(x.shape[0], reverse):
            h = outs[t] = rnn_step(xw[t], h, w_hh, self.nonlinearity)
        return mx.stack(outs), (h,)
'''

FROM_FLAT = '''
def rnn_from_flat(cls, params, has_biases, num_layers, bidirectional, batch_first, **kwargs):
    """The layer of a functional aten.lstm / gru / rnn_* call, holding PyTorch's flat parameter
    list (per layer and direction: weight_ih, weight_hh[, bias_ih, bias_hh][, weight_hr])."""
    per_direction = len(params) // (num_layers * (2 if bidirectional else 1))
    proj_size = params[per_direction - 1].shape[0] if per_direction in (3, 5) else 0
    input_size, hidden_size = params[0].shape[1], params[0].shape[0] // cls.gates
    layer = cls(
        input_size,
        hidden_size,
        num_layers=num_layers,
        bias=has_biases,
        batch_first=batch_first,
        bidirectional=bidirectional,
        proj_size=proj_size,
        **kwargs,
    )
    layer.update(dict(zip(layer.shapes(input_size), params)))
    return layer
'''

LSTM_FN = '''
def lstm(x, hx, params, has_biases, num_layers, bidirectional, batch_first) -> tuple:
    """aten.lstm in eval mode: output, h_n, c_n."""
    layer = rnn_from_flat(LSTM, params, has_biases, num_layers, bidirectional, batch_first)
    output, (h_n, c_n) = layer(x, tuple(hx))
    return output, h_n, c_n
'''

GRU_FN = '''
def gru(x, hx, params, has_biases, num_layers, bidirectional, batch_first) -> tuple:
    """aten.gru in eval mode: output, h_n."""
    return rnn_from_flat(GRU, params, has_biases, num_layers, bidirectional, batch_first)(x, hx)
'''

RNN_FN = '''
def rnn(x, hx, params, has_biases, num_layers, bidirectional, batch_first, nonlinearity) -> tuple:
    """aten.rnn_tanh / rnn_relu in eval mode: output, h_n."""
    layer = rnn_from_flat(
        RNN, params, has_biases, num_layers, bidirectional, batch_first, nonlinearity=nonlinearity
    )
    return layer(x, hx)
'''

RNN_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lstm_step": (LSTM_STEP, ()),
    "gru_step": (GRU_STEP, ()),
    "rnn_step": (RNN_STEP, ()),
    "project": (PROJECT, ()),
    **CELL_SOURCES,
    "RNNBase": (BASE, ()),
    **RNN_CUDA_SOURCES,
    "LSTM": (LSTM_CLASS, ("RNNBase", "lstm_step", "project", "lstm_scan_cuda")),
    "GRU": (GRU_CLASS, ("RNNBase", "gru_step", "project", "gru_scan_cuda")),
    "RNN": (RNN_CLASS, ("RNNBase", "rnn_step", "project")),
    "rnn_from_flat": (FROM_FLAT, ()),
    "lstm": (LSTM_FN, ("LSTM", "rnn_from_flat")),
    "gru": (GRU_FN, ("GRU", "rnn_from_flat")),
    "rnn": (RNN_FN, ("RNN", "rnn_from_flat")),
}
"""Each definition by name: its source and the definitions it uses."""
