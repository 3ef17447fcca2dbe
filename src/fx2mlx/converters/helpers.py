"""Module-level helpers a generated file may need (emitted only when used): the one place
they are defined. A converter asks for one with ``ctx.helper(name)`` (an op) or
``Ctor(helpers=(name,))`` (a layer).

Each is exact with respect to PyTorch; tests compare them against torch on random inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import helpers_norm as norm
from . import helpers_patches as patches
from . import helpers_reduction as reduction
from . import helpers_resize as interp
from . import helpers_sampling as sampling
from . import helpers_scatter as scatter
from . import helpers_shape as shape
from . import helpers_sorting as sorting
from .helpers_linalg import LINALG_SOURCES
from .helpers_rnn import RNN_SOURCES

_POOL_GEOMETRY = '''
def _pool_geometry(size, kernel, stride, padding, dilation, ceil_mode):
    """Output length and right padding of one pooled axis, as PyTorch computes them."""
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    extra = max(0, (out - 1) * stride + span - (size + 2 * padding))
    return out, padding + extra
'''

_WINDOWS = '''
def _windows(x, kernel, stride, dilation, outs):
    """Every strided window offset of a channels-last array, as a list of slices of x."""
    views = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        index = [slice(None)]
        for o, s, d, n in zip(offsets, stride, dilation, outs):
            index.append(slice(o * d, o * d + (n - 1) * s + 1, s))
        views.append(x[tuple(index)])
    return views
'''

MAX_POOL = '''
def max_pool(x, kernel, stride, padding, dilation=None, ceil_mode=False):
    """PyTorch max_pool{1,2,3}d on channels-last x: the max over strided window slices."""
    dilation = dilation or (1,) * len(kernel)
    geometry = [
        _pool_geometry(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(x.shape[1:-1], kernel, stride, padding, dilation)
    ]
    pads = [(0, 0)] + [(p, right) for p, (_, right) in zip(padding, geometry)] + [(0, 0)]
    x = mx.pad(x, pads, constant_values=-float("inf"))
    outs = [n for n, _ in geometry]
    windows = _windows(x, kernel, stride, dilation, outs)
    out = windows[0]
    for w in windows[1:]:
        out = mx.maximum(out, w)
    return out
'''

MAX_POOL_INDICES = '''
def max_pool_with_indices(x, kernel, stride, padding, dilation, ceil_mode=False):
    """PyTorch max_pool{1,2,3}d(return_indices=True) on channels-last x: values and the flat
    index of each maximum within its input plane (the first one, on ties, as torch)."""
    geometry = [
        _pool_geometry(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(x.shape[1:-1], kernel, stride, padding, dilation)
    ]
    pads = [(0, 0)] + [(p, right) for p, (_, right) in zip(padding, geometry)] + [(0, 0)]
    outs = [n for n, _ in geometry]
    spatial = x.shape[1:-1]
    positions = mx.arange(math.prod(spatial)).reshape(1, *spatial, 1)
    x = mx.pad(x, pads, constant_values=-float("inf"))
    values = _windows(x, kernel, stride, dilation, outs)
    places = _windows(mx.pad(positions, pads), kernel, stride, dilation, outs)
    out, index = values[0], places[0]
    for v, i in zip(values[1:], places[1:]):
        better = v > out
        out, index = mx.where(better, v, out), mx.where(better, i, index)
    return out, mx.broadcast_to(index, out.shape).astype(mx.int64)
'''

AVG_POOL = '''
def avg_pool(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True, divisor=None):
    """PyTorch avg_pool{1,2,3}d on channels-last x, with its exact divisor at the borders."""
    ones = (1,) * len(kernel)
    geometry = [
        _pool_geometry(n, k, s, p, 1, ceil_mode)
        for n, k, s, p in zip(x.shape[1:-1], kernel, stride, padding)
    ]
    pads = [(0, 0)] + [(p, right) for p, (_, right) in zip(padding, geometry)] + [(0, 0)]
    outs = [n for n, _ in geometry]
    total = sum(_windows(mx.pad(x, pads), kernel, stride, ones, outs))
    if divisor is not None:
        return total / divisor
    # count the cells each window covers: real input, plus the zero padding if it counts
    mask = mx.ones((1, *x.shape[1:-1], 1), dtype=x.dtype)
    if count_include_pad:
        mask = mx.pad(mask, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)], constant_values=1)
        inner = [(0, 0)] + [(0, right - p) for p, (_, right) in zip(padding, geometry)] + [(0, 0)]
    else:
        inner = pads
    counts = sum(_windows(mx.pad(mask, inner), kernel, stride, ones, outs))
    return total / counts
'''

ADAPTIVE_POOL = '''
def adaptive_pool(x, output_size, reduce):
    """PyTorch adaptive_{avg,max}_pool{1,2,3}d on channels-last x: ``reduce`` (mx.mean or
    mx.max) over windows [floor(i * n / out), ceil((i + 1) * n / out)) of each axis in turn."""
    for axis, out in enumerate(output_size, start=1):
        size = x.shape[axis]
        parts = []
        for i in range(out):
            start, end = (i * size) // out, -(-((i + 1) * size) // out)
            index = [slice(None)] * x.ndim
            index[axis] = slice(start, end)
            parts.append(reduce(x[tuple(index)], axis=axis, keepdims=True))
        x = mx.concatenate(parts, axis=axis)
    return x
'''

ADAPTIVE_MAX_POOL_INDICES = '''
def adaptive_max_pool_with_indices(x, output_size):
    """PyTorch adaptive_max_pool{1,2,3}d(return_indices=True) on channels-last x: values and
    the flat index of each maximum within its input plane. Axes are reduced last to first, so
    ties pick the first maximum in row-major order, as torch does."""
    spatial = x.shape[1:-1]
    positions = mx.arange(math.prod(spatial)).reshape(1, *spatial, 1)
    index = mx.broadcast_to(positions, x.shape)
    for axis in reversed(range(1, len(output_size) + 1)):
        size, out = x.shape[axis], output_size[axis - 1]
        values, places = [], []
        for i in range(out):
            window = [slice(None)] * x.ndim
            window[axis] = slice((i * size) // out, -(-((i + 1) * size) // out))
            part = x[tuple(window)]
            best = mx.argmax(part, axis=axis, keepdims=True)
            values.append(mx.take_along_axis(part, best, axis=axis))
            places.append(mx.take_along_axis(index[tuple(window)], best, axis=axis))
        x, index = mx.concatenate(values, axis=axis), mx.concatenate(places, axis=axis)
    return x, index.astype(mx.int64)
'''

GROUPED_CONV = '''
def grouped_conv(conv, x, weight, groups, **kwargs):
    """A grouped convolution from one-group ``conv`` calls (MLX's 3-d convolutions take one
    group only): each group of input channels with its own weights, outputs concatenated."""
    xs = mx.split(x, groups, axis=-1)
    ws = mx.split(weight, groups, axis=0)
    return mx.concatenate([conv(a, w, **kwargs) for a, w in zip(xs, ws)], axis=-1)
'''

CIRCULAR_PAD = '''
def circular_pad(x, widths):
    """PyTorch circular padding: each axis wraps around, taking values from its other end."""
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:
            n = x.shape[axis]
            index = [slice(None)] * x.ndim
            parts = []
            if lo:
                index[axis] = slice(n - lo, n)
                parts.append(x[tuple(index)])
            parts.append(x)
            if hi:
                index[axis] = slice(0, hi)
                parts.append(x[tuple(index)])
            x = mx.concatenate(parts, axis=axis)
    return x
'''

EMBEDDING_RENORM = '''
def embedding_renorm(weight, indices, max_norm, norm_type=2.0):
    """PyTorch's max_norm lookup: rows that are looked up and longer than max_norm shrink."""
    norms = mx.sum(mx.abs(weight) ** norm_type, axis=-1, keepdims=True) ** (1.0 / norm_type)
    used = mx.zeros((weight.shape[0], 1)).at[indices.reshape(-1)].add(1.0) > 0
    scale = mx.where(used & (norms > max_norm), max_norm / (norms + 1e-7), 1.0)
    return weight * scale
'''

MHA_CLASS = '''
class MultiheadAttention(nn.Module):
    """torch.nn.MultiheadAttention used for self-attention, with PyTorch's parameter names."""

    def __init__(self, dims: int, num_heads: int, bias: bool = True, batch_first: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.batch_first = batch_first
        self.in_proj_weight = mx.zeros((3 * dims, dims))
        if bias:
            self.in_proj_bias = mx.zeros((3 * dims,))
        self.out_proj = nn.Linear(dims, dims, bias=bias)

    def __call__(self, x: mx.array) -> mx.array:
        if not self.batch_first:
            x = x.swapaxes(0, 1)
        B, L, D = x.shape
        qkv = x @ self.in_proj_weight.T
        if "in_proj_bias" in self:
            qkv = qkv + self.in_proj_bias
        qkv = qkv.reshape(B, L, 3, self.num_heads, -1).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=q.shape[-1] ** -0.5)
        out = self.out_proj(out.transpose(0, 2, 1, 3).reshape(B, L, D))
        return out if self.batch_first else out.swapaxes(0, 1)
'''


@dataclass(frozen=True)
class Helper:
    source: str
    needs: tuple[str, ...] = ()
    """Other helpers it calls."""
    imports: tuple[str, ...] = ()
    """Standard-library modules it uses."""


HELPERS: dict[str, Helper] = {
    "_pool_geometry": Helper(_POOL_GEOMETRY),
    "_windows": Helper(_WINDOWS, imports=("itertools",)),
    "max_pool": Helper(MAX_POOL, needs=("_pool_geometry", "_windows")),
    "avg_pool": Helper(AVG_POOL, needs=("_pool_geometry", "_windows")),
    "max_pool_with_indices": Helper(
        MAX_POOL_INDICES, needs=("_pool_geometry", "_windows"), imports=("math",)
    ),
    "adaptive_pool": Helper(ADAPTIVE_POOL),
    "adaptive_max_pool_with_indices": Helper(ADAPTIVE_MAX_POOL_INDICES, imports=("math",)),
    "grouped_conv": Helper(GROUPED_CONV),
    "group_norm": Helper(norm.GROUP_NORM, imports=("math",)),
    "batch_normalize": Helper(norm.BATCH_NORMALIZE),
    "circular_pad": Helper(CIRCULAR_PAD),
    "embedding_renorm": Helper(EMBEDDING_RENORM),
    "MultiheadAttention": Helper(MHA_CLASS),
    **{name: Helper(*parts) for name, parts in interp.RESIZE_SOURCES.items()},
    **{name: Helper(*parts) for name, parts in sampling.SAMPLING_SOURCES.items()},
    **{name: Helper(source, needs) for name, (source, needs) in RNN_SOURCES.items()},
    "instance_norm": Helper(norm.INSTANCE_NORM),
    "LocalResponseNorm": Helper(norm.LOCAL_RESPONSE_NORM),
    "pixel_shuffle": Helper(shape.PIXEL_SHUFFLE),
    "pixel_unshuffle": Helper(shape.PIXEL_UNSHUFFLE),
    "repeat_interleave": Helper(shape.REPEAT_INTERLEAVE),
    "im2col": Helper(patches.IM2COL, needs=("_windows",)),
    "col2im": Helper(patches.COL2IM, imports=("itertools",)),
    "unfold": Helper(patches.UNFOLD),
    "_cum_index": Helper(reduction.CUM_INDEX),
    "cummax": Helper(reduction.CUMMAX, needs=("_cum_index",)),
    "cummin": Helper(reduction.CUMMIN, needs=("_cum_index",)),
    "argsort_descending": Helper(sorting.ARGSORT_DESCENDING),
    "sort_descending": Helper(sorting.SORT_DESCENDING, needs=("argsort_descending",)),
    "topk": Helper(sorting.TOPK, needs=("argsort_descending",)),
    "index_set": Helper(scatter.INDEX_SET),
    "_scatter_index": Helper(scatter.SCATTER_INDEX),
    "_scatter_source": Helper(scatter.SCATTER_SOURCE),
    "scatter": Helper(scatter.SCATTER, needs=("index_set", "_scatter_index", "_scatter_source")),
    "scatter_add": Helper(scatter.SCATTER_ADD, needs=("_scatter_index", "_scatter_source")),
    "scatter_reduce": Helper(scatter.SCATTER_REDUCE, needs=("_scatter_index", "_scatter_source")),
    "masked_scatter": Helper(scatter.MASKED_SCATTER),
    **{name: Helper(source, needs) for name, (source, needs) in LINALG_SOURCES.items()},
}


def closure(names: Iterable[str]) -> list[str]:
    """The requested helpers and every helper they use, each after what it uses."""
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen:
            return
        for dep in HELPERS[name].needs:
            visit(dep)
        seen.append(name)

    for name in sorted(names):
        visit(name)
    return seen


def resolve(names: set[str]) -> tuple[list[str], list[str]]:
    """Sources of the requested helpers and their dependencies, and the imports they need."""
    seen = closure(names)
    imports = sorted({imp for n in seen for imp in HELPERS[n].imports})
    return [HELPERS[n].source.strip() for n in seen], imports
