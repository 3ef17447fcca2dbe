"""``nn.MultiheadAttention`` (self-attention, no masks) as a readable class of its own.

PyTorch's functional attention traces into a long chain of reshapes and transposes. When a
module is used for plain self-attention (one input, one output), the generated file instead
gets the ``MultiheadAttention`` class of helpers.py, which keeps PyTorch's parameter names and
calls ``mx.fast.scaled_dot_product_attention``. Masked or cross-attention calls fall back to
op-by-op conversion.
"""

from __future__ import annotations

from torch import nn

from ..layout import canonical
from .registry import Ctor, register_layer


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
