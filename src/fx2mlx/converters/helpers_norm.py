"""Generated-code sources for normalizations MLX lacks as layers or whose configuration
its layers can't express; helpers.py registers them in ``HELPERS``."""

from __future__ import annotations

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

GROUP_NORM = '''
def group_norm(x, groups, weight, bias, eps):
    """PyTorch group_norm on channels-last x: statistics over (spatial, channels of a group)."""
    shape = x.shape
    # no -1: MLX can't infer a size when the batch is empty
    x = x.reshape(shape[0], math.prod(shape[1:-1]), groups, shape[-1] // groups)
    mean = mx.mean(x, axis=(1, 3), keepdims=True)
    var = mx.var(x, axis=(1, 3), keepdims=True)
    x = ((x - mean) * mx.rsqrt(var + eps)).reshape(shape)
    if weight is not None:
        x = x * weight
    if bias is not None:
        x = x + bias
    return x
'''

BATCH_NORMALIZE = '''
def batch_normalize(x, eps):
    """PyTorch batch_norm without running statistics on channels-last x: each channel
    normalized with its mean and biased variance over the batch and every spatial axis."""
    axes = tuple(range(x.ndim - 1))
    return (x - mx.mean(x, axis=axes)) * mx.rsqrt(mx.var(x, axis=axes) + eps)
'''
