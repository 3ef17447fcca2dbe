"""``nn.MultiheadAttention`` (self-attention, no masks) as a readable class of its own.

PyTorch's functional attention traces into a long chain of reshapes and transposes. When a
module is used for plain self-attention (one input, one output), the generated file instead
gets this class, which keeps PyTorch's parameter names and calls
``mx.fast.scaled_dot_product_attention``. Masked or cross-attention calls fall back to
op-by-op conversion.
"""

from __future__ import annotations

from torch import nn

from ..layout import canonical
from .helpers import HELPERS
from .registry import Ctor, register_layer

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

HELPERS["MultiheadAttention"] = (MHA_CLASS, [], [])


@register_layer(nn.MultiheadAttention, "MultiheadAttention", layout=canonical)
def build_mha(mha: nn.MultiheadAttention) -> Ctor | None:
    packed = mha._qkv_same_embed_dim and mha.in_proj_weight is not None
    if not packed or mha.bias_k is not None or mha.add_zero_attn:
        return None
    has_bias = mha.in_proj_bias is not None
    if has_bias != (mha.out_proj.bias is not None):
        return None
    kwargs = [("bias", has_bias), ("batch_first", mha.batch_first)]
    return Ctor(
        "MultiheadAttention",
        [("dims", mha.embed_dim), ("num_heads", mha.num_heads)],
        kwargs,
        {"bias": True, "batch_first": False},
        helpers=("MultiheadAttention",),
        input_ranks=(3,),
    )
