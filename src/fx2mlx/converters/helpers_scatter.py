"""Generated-code sources for writes at computed positions (torch's scatter family and
masked_scatter); helpers.py registers them in ``HELPERS``.

MLX's item assignment changes the array in place, so every write goes to a copy; ``.at[...]``
accumulates repeated positions, as torch's ``scatter_add`` and ``index_put(accumulate)`` do.
"""

from __future__ import annotations

INDEX_SET = '''
def index_set(x, index, values):
    """x[index] = values as a new array (MLX's item assignment would change x itself)."""
    out = mx.array(x)
    out[index] = values
    return out
'''

SCATTER_INDEX = '''
def _scatter_index(axis, index):
    """The full index of a torch scatter: index along axis, every other axis its own
    position (index may be shorter than x there)."""
    grids = []
    for a, n in enumerate(index.shape):
        shape = [1] * index.ndim
        shape[a] = n
        grids.append(index if a == axis else mx.arange(n).reshape(shape))
    return tuple(grids)
'''

SCATTER_SOURCE = '''
def _scatter_source(index, src):
    """The part of src a torch scatter reads: index's extent of it (or the scalar)."""
    if isinstance(src, mx.array) and src.ndim:
        return src[tuple(slice(0, n) for n in index.shape)]
    return src
'''

SCATTER = '''
def scatter(x, axis, index, src):
    """torch.scatter: x with src's values (or one value) written where index points along
    axis."""
    return index_set(x, _scatter_index(axis, index), _scatter_source(index, src))
'''

SCATTER_ADD = '''
def scatter_add(x, axis, index, src):
    """torch.scatter_add: src's values added to x where index points along axis."""
    return x.at[_scatter_index(axis, index)].add(_scatter_source(index, src))
'''

SCATTER_REDUCE = '''
def scatter_reduce(x, axis, index, src, reduce, include_self=True):
    """torch.scatter_reduce: src's values reduced into x where index points along axis;
    without include_self, a place written to starts from src's values alone."""
    at = _scatter_index(axis, index)
    src = _scatter_source(index, src)
    hits = mx.zeros(x.shape, dtype=mx.int32).at[at].add(1)
    if reduce == "mean":
        total = (x if include_self else mx.where(hits > 0, 0, x)).at[at].add(src)
        count = hits + (1 if include_self else 0)
        return mx.where(hits > 0, total / mx.maximum(count, 1), x).astype(x.dtype)
    start = {"sum": 0, "prod": 1, "amax": -float("inf"), "amin": float("inf")}[reduce]
    base = x if include_self else mx.where(hits > 0, start, x).astype(x.dtype)
    method = {"sum": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}[reduce]
    return getattr(base.at[at], method)(src)
'''

MASKED_SCATTER = '''
def masked_scatter(x, mask, source):
    """torch.masked_scatter: where mask (broadcast to x) is set, x takes source's elements in
    row-major order."""
    x, mask = mx.broadcast_arrays(x, mask)
    order = mx.cumsum(mask.reshape(-1).astype(mx.int32)) - 1  # the element each place takes
    taken = mx.take(source.reshape(-1), mx.maximum(order, 0)).reshape(x.shape)
    return mx.where(mask, taken.astype(x.dtype), x)
'''
