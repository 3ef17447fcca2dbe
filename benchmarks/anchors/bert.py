"""BERT-base against mlx-embeddings' BERT (the same names as Hugging Face's, so no renaming).

Called with token ids only (no padding): mlx-embeddings then builds an all-ones mask itself
and also computes its mean-pooled, normalized embeddings (part of its call, timed with it).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import torch
import transformers

from . import Anchor, first, leaf_module, sized, state_mx, to_mx

SEQ = {"cpu": 16, "gpu": 128}  # tokens per sequence


def bert() -> torch.nn.Module:
    return transformers.BertModel(transformers.BertConfig()).eval()  # bert-base-uncased sizes


def hand_bert(model: torch.nn.Module) -> nn.Module:
    bert_module = leaf_module("mlx_embeddings.models.bert")
    Model, ModelArgs = bert_module.Model, bert_module.ModelArgs

    c = model.config
    args = ModelArgs(
        model_type="bert",
        num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        max_position_embeddings=c.max_position_embeddings,
        vocab_size=c.vocab_size,
        layer_norm_eps=c.layer_norm_eps,
    )
    hand = Model(args)
    hand.load_weights(list(hand.sanitize(state_mx(model)).items()), strict=True)
    hand.eval()
    return hand


def ids(batch: int) -> tuple[torch.Tensor, ...]:
    return (torch.randint(0, 30522, (batch, sized(SEQ))),)


def same(inputs: tuple[torch.Tensor, ...]) -> tuple[mx.array, ...]:
    return tuple(to_mx(x) for x in inputs)


ANCHOR = Anchor(
    name="bert_base",
    torch_model=bert,
    inputs=ids,
    hand=hand_bert,
    hand_name="mlx-embeddings 0.1.0",
    hand_inputs=same,
    pick_torch=first,
    pick_hand=first,
    pick_gen=first,
    batches=(1, 2),  # the CPU run's; the GPU run takes (1, 32)
    note="token ids only (no padding mask); output compared: last_hidden_state; "
    f"{SEQ['cpu']} tokens on CPU, {SEQ['gpu']} on GPU",
)
