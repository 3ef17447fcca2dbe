"""Generated-code sources for shape ops: pixel_shuffle, pixel_unshuffle, and
repeat_interleave with per-element counts; helpers.py registers them in ``HELPERS``."""

from __future__ import annotations

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
