"""Generated-code sources for sampling (``F.grid_sample``, ``F.max_unpool*``); helpers.py
registers them in ``HELPERS``.

``grid_sample`` follows ATen's CPU kernel step by step: each grid value is unnormalized to an
input position, border and reflection padding move the position (bicubic: each of its taps)
inside the input, and the pixels around it are gathered from the channels-last input and
blended; a pixel outside the input reads 0.
"""

from __future__ import annotations

GRID_UNNORMALIZE = '''
def _grid_unnormalize(g, n, align_corners):
    """Grid values in [-1, 1] to positions along an input axis of length n: -1 and 1 are the
    centers of the edge pixels with align_corners, their outer edges without."""
    if align_corners:
        return (g + 1) * ((n - 1) / 2)
    return (g + 1) * (n / 2) - 0.5
'''

GRID_PAD = '''
def _grid_pad(p, n, padding_mode, align_corners):
    """Positions moved inside [0, n - 1] as ATen's border and reflection paddings move them
    (zeros padding leaves them: pixels outside the input read 0)."""
    if padding_mode == "reflection":
        # reflect at the edge pixels' centers (align_corners) or outer edges, then clip
        low, span = (0.0, n - 1) if align_corners else (-0.5, n)
        if span == 0:
            return mx.zeros_like(p)
        distance = mx.abs(p - low)
        extra = distance - mx.floor(distance / (2 * span)) * (2 * span)  # modulo 2 * span
        p = mx.minimum(extra, 2 * span - extra) + low  # past span: folded back
    if padding_mode != "zeros":
        p = mx.clip(p, 0, n - 1)
    return p
'''

GRID_GATHER = '''
def _grid_gather(x, positions):
    """The pixels of channels-last x at integer-valued positions (one array per spatial axis,
    shaped like the output grid); a position outside x reads 0."""
    batch, channels = x.shape[0], x.shape[-1]
    inside, flat = mx.array(True), 0
    for p, n in zip(positions, x.shape[1:-1]):
        valid = (p >= 0) & (p <= n - 1)
        inside = inside & valid
        flat = flat * n + mx.where(valid, p, 0).astype(mx.int32)  # in range, read or not
    pixels = mx.take_along_axis(x.reshape(batch, -1, channels), flat.reshape(batch, -1, 1), axis=1)
    pixels = pixels.reshape(*flat.shape, channels)
    return mx.where(inside[..., None], pixels, 0)
'''

GRID_WEIGHT = '''
def _grid_weight(positions, lows, corner):
    """The bilinear (trilinear) weight of one corner pixel (0 or 1 along each axis): the
    product of the position's nearness to it along every axis, rounded as ATen rounds it."""
    if len(positions) == 2:  # the 2-d kernel: t = p - low, then t or 1 - t, height first
        (y, x), (top, left), (down, right) = positions, lows, corner
        ty, tx = y - top, x - left
        return (ty if down else 1 - ty) * (tx if right else 1 - tx)
    weight = 1  # the 3-d kernel: p - low or low + 1 - p, width first
    for p, low, high in reversed(list(zip(positions, lows, corner))):
        weight = weight * (p - low if high else low + 1 - p)
    return weight
'''

GRID_SAMPLE = '''
def grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """PyTorch's F.grid_sample on channels-last x (N, *spatial, C); grid (N, *out, dims) holds
    (x, y[, z]) in [-1, 1] for each output pixel, the reverse of x's axis order."""
    spatial = x.shape[1:-1]
    coords = [grid[..., len(spatial) - 1 - axis] for axis in range(len(spatial))]
    positions = [_grid_unnormalize(g, n, align_corners) for g, n in zip(coords, spatial)]
    if mode == "bicubic":
        return _grid_sample_cubic(x, positions, padding_mode, align_corners)
    positions = [_grid_pad(p, n, padding_mode, align_corners) for p, n in zip(positions, spatial)]
    if mode == "nearest":
        return _grid_gather(x, [mx.round(p) for p in positions])  # half to even, as ATen
    # bilinear (trilinear): the sum over the 2 ** dims pixels around each position
    lows = [mx.floor(p) for p in positions]
    out = 0
    for corner in itertools.product((0, 1), repeat=len(spatial)):
        pixels = _grid_gather(x, [low + high for low, high in zip(lows, corner)])
        out = out + pixels * _grid_weight(positions, lows, corner)[..., None]
    return out
'''

GRID_SAMPLE_CUBIC = '''
def _grid_sample_cubic(x, positions, padding_mode, align_corners):
    """Bicubic grid_sample: Keys' cubic convolution (a = -0.75) over the 4 x 4 pixels around
    each position, along rows first; padding moves each of the 16 pixels, not the position."""
    (row, column), (h, w) = positions, x.shape[1:3]
    top, left = mx.floor(row), mx.floor(column)
    ty, tx = row - top, column - left
    wy = [_cubic(ty + 1), _cubic(ty), _cubic(1 - ty), _cubic(2 - ty)]
    wx = [_cubic(tx + 1), _cubic(tx), _cubic(1 - tx), _cubic(2 - tx)]
    out = 0
    for i in range(4):
        tap_row = _grid_pad(top + i - 1, h, padding_mode, align_corners)
        blended = 0
        for j in range(4):
            tap_column = _grid_pad(left + j - 1, w, padding_mode, align_corners)
            blended = blended + wx[j][..., None] * _grid_gather(x, [tap_row, tap_column])
        out = out + wy[i][..., None] * blended
    return out
'''

MAX_UNPOOL = '''
def max_unpool(x, indices, output_size):
    """PyTorch max_unpool{1,2,3}d on channels-last x: zeros of output_size, each value of x
    written at its index (flat within its output plane, as max_pool's return_indices gives;
    an index that repeats, from overlapping windows, holds the same maximum each time)."""
    batch, channels = x.shape[0], x.shape[-1]
    out = mx.zeros((batch, math.prod(output_size), channels), dtype=x.dtype)
    indices = indices.reshape(batch, -1, channels)
    out = mx.put_along_axis(out, indices, x.reshape(batch, -1, channels), axis=1)
    return out.reshape(batch, *output_size, channels)
'''


# name -> (source, helpers it calls, standard-library imports); helpers.py registers them
SAMPLING_SOURCES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "_grid_unnormalize": (GRID_UNNORMALIZE, (), ()),
    "_grid_pad": (GRID_PAD, (), ()),
    "_grid_gather": (GRID_GATHER, (), ()),
    "_grid_weight": (GRID_WEIGHT, (), ()),
    "_grid_sample_cubic": (GRID_SAMPLE_CUBIC, ("_cubic", "_grid_pad", "_grid_gather"), ()),
    "grid_sample": (
        GRID_SAMPLE,
        ("_grid_unnormalize", "_grid_pad", "_grid_gather", "_grid_weight", "_grid_sample_cubic"),
        ("itertools",),
    ),
    "max_unpool": (MAX_UNPOOL, (), ("math",)),
}
