"""Generated-code sources for interpolation (``F.interpolate``, ``nn.Upsample``); helpers.py
registers them in ``HELPERS``.

Each helper follows ATen's CPU kernels: the input position every output pixel samples is
computed in float32 as ATen computes it, then the channels-last input is gathered (and
blended) along one spatial axis at a time.
"""

from __future__ import annotations

INTERP_AXES = '''
def _interp_axes(x, size, scales):
    """(axis, input length, output length, scale or None) for each spatial axis of x; without
    a size, the output length is PyTorch's floor(length * scale)."""
    spatial = x.shape[1:-1]
    scales = scales or (None,) * len(spatial)
    size = size or [math.floor(n * s) for n, s in zip(spatial, scales)]
    return [(a + 1, n, o, s) for a, (n, o, s) in enumerate(zip(spatial, size, scales))]
'''

INTERP_STEP = '''
def _interp_step(n, out, scale, align_corners):
    """Input pixels per output pixel along one axis (ATen's area_pixel_compute_scale)."""
    if align_corners:
        return (n - 1) / (out - 1) if out > 1 else 0.0
    return 1.0 / scale if scale else n / out
'''

INTERP_SOURCE = '''
def _interp_source(n, out, scale, align_corners, cubic=False):
    """The input position each output pixel samples along one axis, in float32 as ATen
    computes it; the linear modes clamp positions before the first pixel to it."""
    i = mx.arange(out, dtype=mx.float32)
    step = _interp_step(n, out, scale, align_corners)
    if align_corners:
        return i * step
    source = (i + 0.5) * step - 0.5
    return source if cubic else mx.maximum(source, 0.0)
'''

INTERP_TAPS = '''
def _interp_taps(x, axis, taps):
    """The sum over (indices, weights) taps of x gathered along axis, times the weights."""
    shape = (-1,) + (1,) * (x.ndim - 1 - axis)
    return sum(mx.take(x, i, axis=axis) * w.reshape(shape).astype(x.dtype) for i, w in taps)
'''

CUBIC = '''
def _cubic(d, a=-0.75):
    """Keys' cubic convolution kernel at distance d >= 0 (ATen's a = -0.75 by default)."""
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return mx.where(d <= 1, near, mx.where(d < 2, far, 0.0))
'''

INTERPOLATE_NEAREST = '''
def interpolate_nearest(x, size=None, scales=None, exact=False):
    """PyTorch's nearest (or nearest-exact) interpolation on channels-last x: a gather per
    spatial axis at ATen's source index floor(i / scale) (floor((i + 0.5) / scale))."""
    for axis, n, out, scale in _interp_axes(x, size, scales):
        if x.ndim == 4 and not exact and out in (n, 2 * n):
            scale = out / n  # ATen's 2d kernel copies or halves these axes whatever the scale
        offset = 0.5 if exact else 0.0
        source = (mx.arange(out, dtype=mx.float32) + offset) * (1.0 / scale if scale else n / out)
        x = mx.take(x, mx.minimum(mx.floor(source).astype(mx.int32), n - 1), axis=axis)
    return x
'''

INTERPOLATE_LINEAR = '''
def interpolate_linear(x, size=None, scales=None, align_corners=False):
    """PyTorch's linear, bilinear or trilinear interpolation on channels-last x: per spatial
    axis, a blend of the two input pixels around each sampled position."""
    for axis, n, out, scale in _interp_axes(x, size, scales):
        if out == n:
            continue  # ATen copies an axis whose length doesn't change, whatever the scale
        source = _interp_source(n, out, scale, align_corners)
        low = mx.minimum(mx.floor(source), n - 1)
        weight = mx.clip(source - low, 0.0, 1.0)
        low = low.astype(mx.int32)
        x = _interp_taps(x, axis, [(low, 1 - weight), (mx.minimum(low + 1, n - 1), weight)])
    return x
'''

INTERPOLATE_CUBIC = '''
def interpolate_cubic(x, size=None, scales=None, align_corners=False):
    """PyTorch's bicubic interpolation on channels-last x: per spatial axis, Keys' cubic
    convolution over the four input pixels around each sampled position (edges repeated)."""
    for axis, n, out, scale in _interp_axes(x, size, scales):
        source = _interp_source(n, out, scale, align_corners, cubic=True)
        low = mx.minimum(mx.floor(source), n - 1)
        t = mx.clip(source - low, 0.0, 1.0)
        low = low.astype(mx.int32)
        weights = [_cubic(t + 1), _cubic(t), _cubic(1 - t), _cubic(2 - t)]
        x = _interp_taps(x, axis, [(mx.clip(low + k - 1, 0, n - 1), w) for k, w in enumerate(weights)])
    return x
'''

INTERPOLATE_ANTIALIASED = '''
def interpolate_antialiased(x, size=None, scales=None, cubic=False, align_corners=False):
    """PyTorch's antialiased bilinear (or bicubic) interpolation on channels-last x: per spatial
    axis, a triangle (Keys' cubic, a = -0.5) filter widened by the downscale factor."""
    for axis, n, out, scale in _interp_axes(x, size, scales):
        weights = _antialias_weights(n, out, _interp_step(n, out, scale, align_corners), cubic)
        x = mx.moveaxis(mx.tensordot(weights.astype(x.dtype), x, axes=([1], [axis])), 0, axis)
    return x
'''

ANTIALIAS_WEIGHTS = '''
def _antialias_weights(n, out, step, cubic):
    """The (out, n) weights of ATen's antialiased kernels: the filter at each input pixel within
    the support around an output pixel's center (at most ATen's tap count), normalized."""
    widen = max(step, 1.0)
    support = (2.0 if cubic else 1.0) * widen
    center = (mx.arange(out, dtype=mx.float32)[:, None] + 0.5) * step
    first = mx.maximum(mx.floor(center - support + 0.5), 0)
    last = mx.minimum(mx.floor(center + support + 0.5), n)
    last = mx.minimum(last, first + math.ceil(support) * 2 + 1)
    j = mx.arange(n, dtype=mx.float32)[None, :]
    d = mx.abs(j - center + 0.5) / widen
    weights = _cubic(d, a=-0.5) if cubic else mx.maximum(1 - d, 0.0)
    weights = mx.where((j >= first) & (j < last), weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return weights / mx.where(total == 0, 1.0, total)
'''


# name -> (source, helpers it calls, standard-library imports); helpers.py registers them
RESIZE_SOURCES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "_interp_axes": (INTERP_AXES, (), ("math",)),
    "_interp_step": (INTERP_STEP, (), ()),
    "_interp_source": (INTERP_SOURCE, ("_interp_step",), ()),
    "_interp_taps": (INTERP_TAPS, (), ()),
    "_cubic": (CUBIC, (), ()),
    "_antialias_weights": (ANTIALIAS_WEIGHTS, ("_cubic",), ("math",)),
    "interpolate_nearest": (INTERPOLATE_NEAREST, ("_interp_axes",), ()),
    "interpolate_linear": (
        INTERPOLATE_LINEAR,
        ("_interp_axes", "_interp_source", "_interp_taps"),
        (),
    ),
    "interpolate_cubic": (
        INTERPOLATE_CUBIC,
        ("_interp_axes", "_interp_source", "_interp_taps", "_cubic"),
        (),
    ),
    "interpolate_antialiased": (
        INTERPOLATE_ANTIALIASED,
        ("_interp_axes", "_interp_step", "_antialias_weights"),
        (),
    ),
}
