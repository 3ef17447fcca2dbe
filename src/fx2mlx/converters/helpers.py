"""Module-level helpers a generated file may need (emitted only when used): the one place
they are defined. A converter asks for one with ``ctx.helper(name)`` (an op) or
``Ctor(helpers=(name,))`` (a layer).

Each is exact with respect to PyTorch; tests compare them against torch on random inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """PyTorch max_pool{1,2}d(return_indices=True) on channels-last x: values and the flat
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

ADAPTIVE_AVG_POOL = '''
def adaptive_avg_pool(x, output_size):
    """PyTorch adaptive_avg_pool{1,2}d on channels-last x: mean over each adaptive window."""
    for axis, out in enumerate(output_size, start=1):
        size = x.shape[axis]
        parts = []
        for i in range(out):
            start, end = (i * size) // out, -(-((i + 1) * size) // out)
            index = [slice(None)] * x.ndim
            index[axis] = slice(start, end)
            parts.append(mx.mean(x[tuple(index)], axis=axis, keepdims=True))
        x = mx.concatenate(parts, axis=axis)
    return x
'''

GROUP_NORM = '''
def group_norm(x, groups, weight, bias, eps):
    """PyTorch group_norm on channels-last x: statistics over (spatial, channels of a group)."""
    shape = x.shape
    x = x.reshape(shape[0], -1, groups, shape[-1] // groups)
    mean = mx.mean(x, axis=(1, 3), keepdims=True)
    var = mx.var(x, axis=(1, 3), keepdims=True)
    x = ((x - mean) * mx.rsqrt(var + eps)).reshape(shape)
    if weight is not None:
        x = x * weight
    if bias is not None:
        x = x + bias
    return x
'''

INSTANCE_NORM = '''
def instance_norm(x, weight, bias, eps):
    """PyTorch instance_norm on channels-last x: statistics over the spatial axes of each
    sample and channel."""
    axes = tuple(range(1, x.ndim - 1))
    mean = mx.mean(x, axis=axes, keepdims=True)
    var = mx.var(x, axis=axes, keepdims=True)
    x = (x - mean) * mx.rsqrt(var + eps)
    if weight is not None:
        x = x * weight
    if bias is not None:
        x = x + bias
    return x
'''

LOCAL_RESPONSE_NORM = '''
class LocalResponseNorm(nn.Module):
    """torch.nn.LocalResponseNorm on channels-last x: each value divided by the mean square
    over `size` neighbouring channels (zero beyond the ends), scaled and raised to beta."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def __call__(self, x: mx.array) -> mx.array:
        pads = [(0, 0)] * (x.ndim - 1) + [(self.size // 2, (self.size - 1) // 2)]
        squares = mx.pad(mx.square(x), pads)
        channels = x.shape[-1]
        total = sum(squares[..., i : i + channels] for i in range(self.size))
        return x / ((total / self.size) * self.alpha + self.k) ** self.beta
'''

PIXEL_SHUFFLE = '''
def pixel_shuffle(x, r, channels_last=False):
    """PyTorch pixel_shuffle: (*, C*r*r, H, W) -> (*, C, H*r, W*r); channels-last images
    (N, H, W, C*r*r) -> (N, H*r, W*r, C). Channel c*r*r + i*r + j goes to offset (i, j)."""
    if channels_last:
        n, h, w, c = x.shape
        x = x.reshape(n, h, w, c // (r * r), r, r).transpose(0, 1, 4, 2, 5, 3)
        return x.reshape(n, h * r, w * r, c // (r * r))
    *lead, c, h, w = x.shape
    k = len(lead)
    x = x.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)
'''

PIXEL_UNSHUFFLE = '''
def pixel_unshuffle(x, r, channels_last=False):
    """PyTorch pixel_unshuffle, the inverse of pixel_shuffle: (*, C, H*r, W*r) ->
    (*, C*r*r, H, W); channels-last images (N, H*r, W*r, C) -> (N, H, W, C*r*r)."""
    if channels_last:
        n, h, w, c = x.shape
        x = x.reshape(n, h // r, r, w // r, r, c).transpose(0, 1, 3, 5, 2, 4)
        return x.reshape(n, h // r, w // r, c * r * r)
    *lead, c, h, w = x.shape
    k = len(lead)
    x = x.reshape(*lead, c, h // r, r, w // r, r)
    x = x.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
'''

REPEAT_INTERLEAVE = '''
def repeat_interleave(x, repeats, axis):
    """torch.repeat_interleave with one count per element (known at conversion): element i
    along axis is repeated repeats[i] times."""
    index = [i for i, n in enumerate(repeats) for _ in range(n)]
    return mx.take(x, mx.array(index, dtype=mx.int32), axis=axis)
'''

IM2COL = '''
def im2col(x, kernel, dilation, padding, stride):
    """PyTorch unfold (im2col) of a channels-last image (N, H, W, C): every sliding block,
    as (N, L, C * kh * kw), blocks in row-major order (torch's output, transposed)."""
    if x.ndim == 3:
        return im2col(x[None], kernel, dilation, padding, stride)[0]
    x = mx.pad(x, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)])
    outs = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, d, s in zip(x.shape[1:3], kernel, dilation, stride)
    ]
    blocks = mx.stack(_windows(x, kernel, stride, dilation, outs), axis=-1)
    return blocks.reshape(x.shape[0], outs[0] * outs[1], -1)
'''

COL2IM = '''
def col2im(x, output_size, kernel, dilation, padding, stride):
    """PyTorch fold (col2im) of blocks (N, L, C * kh * kw) into a channels-last image
    (N, H, W, C): where blocks overlap, their values add up."""
    if x.ndim == 2:
        return col2im(x[None], output_size, kernel, dilation, padding, stride)[0]
    size = [n + 2 * p for n, p in zip(output_size, padding)]
    outs = [(n - d * (k - 1) - 1) // s + 1 for n, k, d, s in zip(size, kernel, dilation, stride)]
    blocks = x.reshape(x.shape[0], outs[0], outs[1], -1, kernel[0] * kernel[1])
    out = mx.zeros((x.shape[0], *size, blocks.shape[3]), dtype=x.dtype)
    offsets = itertools.product(*(range(k) for k in kernel))
    for k, (i, j) in enumerate(offsets):
        rows = slice(i * dilation[0], i * dilation[0] + (outs[0] - 1) * stride[0] + 1, stride[0])
        cols = slice(j * dilation[1], j * dilation[1] + (outs[1] - 1) * stride[1] + 1, stride[1])
        out = out.at[:, rows, cols].add(blocks[..., k])
    return out[:, padding[0] : size[0] - padding[0], padding[1] : size[1] - padding[1]]
'''

UNFOLD = '''
def unfold(x, axis, size, step):
    """Tensor.unfold: the windows of `size` along axis, every `step`, on a new last axis."""
    if x.ndim == 0:
        return x.reshape(1)
    count = (x.shape[axis] - size) // step + 1
    index = mx.arange(count)[:, None] * step + mx.arange(size)[None, :]
    return mx.moveaxis(mx.take(x, index, axis=axis), axis + 1, -1)
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
    "adaptive_avg_pool": Helper(ADAPTIVE_AVG_POOL),
    "group_norm": Helper(GROUP_NORM),
    "instance_norm": Helper(INSTANCE_NORM),
    "LocalResponseNorm": Helper(LOCAL_RESPONSE_NORM),
    "circular_pad": Helper(CIRCULAR_PAD),
    "im2col": Helper(IM2COL, needs=("_windows",)),
    "col2im": Helper(COL2IM, imports=("itertools",)),
    "unfold": Helper(UNFOLD),
    "repeat_interleave": Helper(REPEAT_INTERLEAVE),
    "pixel_shuffle": Helper(PIXEL_SHUFFLE),
    "pixel_unshuffle": Helper(PIXEL_UNSHUFFLE),
    "embedding_renorm": Helper(EMBEDDING_RENORM),
    "MultiheadAttention": Helper(MHA_CLASS),
}


def resolve(names: set[str]) -> tuple[list[str], list[str]]:
    """Sources of the requested helpers and their dependencies, and the imports they need."""
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen:
            return
        for dep in HELPERS[name].needs:
            visit(dep)
        seen.append(name)

    for name in sorted(names):
        visit(name)
    imports = sorted({imp for n in seen for imp in HELPERS[n].imports})
    return [HELPERS[n].source.strip() for n in seen], imports
