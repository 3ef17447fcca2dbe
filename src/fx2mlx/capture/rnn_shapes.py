"""The output shapes of ``nn.LSTM``/``GRU``/``RNN`` during export, without unrolling them.

Export keeps ``aten.lstm`` (and ``gru``, ``rnn_tanh``, ``rnn_relu``) as one node, but to learn
its outputs' shapes it runs torch's Python decomposition on fake tensors: every time step of
every layer, each op with symbolic sizes when the batch is dynamic. For the benchmark's LSTM
(2 layers, 100 steps) that is 2.5 s of a 2.6 s capture. During capture the decomposition is
replaced by the shapes it would produce (same sizes, strides and dtypes; the test compares
them), and the graph keeps its single node.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch._C import DispatchKey

_KEY = DispatchKey.CompositeImplicitAutograd


def _fits(x: torch.Tensor, hx: object, params: list, batch_first: object) -> bool:
    """A batched input the first weight and the state take; anything else keeps torch's own
    path (and its error message)."""
    h = hx[0] if isinstance(hx, (list, tuple)) else hx
    if x.dim() != 3 or h.dim() != 3 or params[0].dim() != 2:  # type: ignore[union-attr]
        return False
    batch = x.shape[0] if batch_first else x.shape[1]
    return bool(params[0].shape[1] == x.shape[-1] and h.shape[1] == batch)  # type: ignore[union-attr]


def _output(x: torch.Tensor, h: torch.Tensor, flags: tuple) -> torch.Tensor:
    """The decomposition loops over the steps in Python, which fixes their number (as ``int``
    does here), and stacks them time-major; batch-first is a transposed view."""
    dropout, train, bidirectional, batch_first = flags
    size = (2 if bidirectional else 1) * h.shape[-1]
    if batch_first:
        return x.new_empty((int(x.shape[1]), x.shape[0], size)).transpose(0, 1)
    return x.new_empty((int(x.shape[0]), x.shape[1], size))


def _lstm(
    x: torch.Tensor, hx: list, params: list, biases: bool, layers: int, *flags: object
) -> tuple:
    h, c = hx
    return _output(x, h, flags), h.new_empty(h.shape), c.new_empty(c.shape)


def _gru_or_rnn(
    x: torch.Tensor, h: torch.Tensor, params: list, biases: bool, layers: int, *flags: object
) -> tuple:
    return _output(x, h, flags), h.new_empty(h.shape)


_SHAPES: dict[str, Callable] = {
    "lstm": _lstm,
    "gru": _gru_or_rnn,
    "rnn_tanh": _gru_or_rnn,
    "rnn_relu": _gru_or_rnn,
}


def _stand_in(shapes: Callable, original: Callable) -> Callable:
    def kernel(x: torch.Tensor, hx: object, params: list, *rest: object) -> tuple:
        if _fits(x, hx, params, rest[-1]):
            return shapes(x, hx, params, *rest)
        return original(x, hx, params, *rest)

    return kernel


def _forget(op: torch._ops.OpOverload) -> None:
    """The kernel an op resolved is cached per dispatch key: drop it after a swap."""
    cache = getattr(op, "_dispatch_cache", None)
    if cache is not None:
        cache.clear()


@contextlib.contextmanager
def rnn_shapes() -> Iterator[None]:
    """Within: the recurrent ops' shapes come from :data:`_SHAPES` (restored on exit; a torch
    without the Python decomposition is left as it is)."""
    swapped = []
    for name, shapes in _SHAPES.items():
        op = getattr(torch.ops.aten, name).input
        if _KEY in op.py_kernels:
            swapped.append((op, op.py_kernels[_KEY]))
            op.py_kernels[_KEY] = _stand_in(shapes, swapped[-1][1])
            _forget(op)
    try:
        yield
    finally:
        for op, kernel in swapped:
            op.py_kernels[_KEY] = kernel
            _forget(op)
