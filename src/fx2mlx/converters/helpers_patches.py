"""Generated-code sources for sliding blocks (im2col, col2im, Tensor.unfold); helpers.py
registers them in ``HELPERS``."""

from __future__ import annotations

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
    # sizes spelled out: MLX can't infer a -1 when the batch is empty
    return blocks.reshape(x.shape[0], outs[0] * outs[1], x.shape[-1] * kernel[0] * kernel[1])
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
