"""Generated-code sources for scans MLX has without torch's indices (cummax, cummin);
helpers.py registers them in ``HELPERS``."""

from __future__ import annotations

CUM_INDEX = '''
def _cum_index(x, values, axis):
    """Where each running extreme was last reached: the latest position holding it (or a NaN,
    which torch's running extremes keep), as torch picks on ties."""
    if x.ndim == 0:
        return mx.array(0, dtype=mx.int64)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    positions = mx.arange(x.shape[axis]).reshape(shape)
    reached = (x == values) | mx.isnan(x)
    return mx.cummax(mx.where(reached, positions, 0), axis=axis).astype(mx.int64)
'''

CUMMAX = '''
def cummax(x, axis):
    """torch.cummax: the running maximum along axis, and the index it was last reached at."""
    values = mx.cummax(x, axis=axis) if x.ndim else x
    return values, _cum_index(x, values, axis)
'''

CUMMIN = '''
def cummin(x, axis):
    """torch.cummin: the running minimum along axis, and the index it was last reached at."""
    values = mx.cummin(x, axis=axis) if x.ndim else x
    return values, _cum_index(x, values, axis)
'''
