"""Generated-code sources for descending sorts and topk (MLX sorts ascending, and its topk
returns no indices); helpers.py registers them in ``HELPERS``."""

from __future__ import annotations

ARGSORT_DESCENDING = '''
def argsort_descending(x, axis):
    """torch.argsort(descending=True, stable=True): tied values keep their order and NaN
    comes first, as in torch; int64 indices."""
    if x.dtype in (mx.bool_, mx.uint8, mx.uint16, mx.uint32):
        x = x.astype(mx.int64)  # negation must not wrap around
    index = mx.argsort(-x, axis=axis)  # a stable ascending sort of -x
    if mx.issubdtype(x.dtype, mx.floating):
        # NaN sorts last here and first in torch: rotate each row's NaNs to the front
        n = x.shape[axis]
        nans = mx.sum(mx.isnan(x), axis=axis, keepdims=True)
        shape = [1] * x.ndim
        shape[axis] = n
        index = mx.take_along_axis(index, (mx.arange(n).reshape(shape) - nans) % n, axis=axis)
    return index.astype(mx.int64)
'''

SORT_DESCENDING = '''
def sort_descending(x, axis):
    """torch.sort(descending=True, stable=True): values and int64 indices."""
    index = argsort_descending(x, axis)
    return mx.take_along_axis(x, index, axis=axis), index
'''

TOPK = '''
def topk(x, k, axis, largest=True):
    """torch.topk, sorted: the k largest (or smallest) values along axis and their int64
    indices; NaN counts as the largest value, as in torch."""
    index = argsort_descending(x, axis) if largest else mx.argsort(x, axis=axis)
    index = index[(slice(None),) * axis + (slice(0, k),)].astype(mx.int64)
    return mx.take_along_axis(x, index, axis=axis), index
'''
