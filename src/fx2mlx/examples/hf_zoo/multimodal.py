"""Multimodal architectures of the zoo: a text tower and a vision tower, compared in one
embedding space."""

from __future__ import annotations

import torch

from .common import VOCAB, Example, ids, image, ready, transformers

TOWER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
VISION = dict(image_size=16, patch_size=4, **TOWER)
# eos 2 is the legacy setting under which CLIP pools at the argmax token id
TEXT = dict(
    vocab_size=VOCAB,
    max_position_embeddings=16,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    **TOWER,
)


def make_clip() -> Example:
    """CLIPModel: causal text tower pooled at the end-of-text token, pre-norm vision tower
    with a class token, quick-GELU, learned logit scale."""
    torch.manual_seed(0)
    tf = transformers()
    config = tf.CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=16)
    return ready(tf.CLIPModel(config)), (ids(), image(16))


def make_siglip() -> Example:
    """SiglipModel: text tower pooled at the last token, vision tower pooled by a
    multi-head attention probe (nn.MultiheadAttention), logit bias."""
    torch.manual_seed(0)
    tf = transformers()
    config = tf.SiglipConfig(text_config=TEXT, vision_config=VISION)
    return ready(tf.SiglipModel(config)), (ids(), image(16))
