"""Tiny Hugging Face models built from configs with random weights (needs ``transformers``).

``fx2mlx convert fx2mlx.examples.zoo:make_bert_tiny -o out/`` converts one from the command
line; nothing is downloaded.
"""

from __future__ import annotations

import torch


def _transformers():  # noqa: ANN202 - the module, imported only when asked for
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - the zoo extra is not installed
        from ..errors import Fx2MlxError

        raise Fx2MlxError("these examples need `pip install transformers`") from exc
    return transformers


def make_bert_tiny() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    """BertModel (2 layers, hidden 32) on token ids and an attention mask."""
    tf = _transformers()
    torch.manual_seed(0)
    config = tf.BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        attn_implementation="sdpa",
    )
    ids = torch.randint(0, 99, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[0, 7:] = 0
    return tf.BertModel(config).eval(), (ids, mask)


def make_gpt2_tiny() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    """GPT2LMHeadModel (2 layers, width 32, tied embeddings) on token ids."""
    tf = _transformers()
    torch.manual_seed(0)
    config = tf.GPT2Config(
        vocab_size=99,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=64,
        bos_token_id=98,  # GPT-2's 50256 is outside this tiny vocabulary
        eos_token_id=98,
        use_cache=False,
        attn_implementation="sdpa",
    )
    return tf.GPT2LMHeadModel(config).eval(), (torch.randint(0, 99, (2, 10)),)


def make_llama_tiny() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    """LlamaForCausalLM (2 layers, width 32, grouped-query attention) on token ids."""
    tf = _transformers()
    torch.manual_seed(0)
    config = tf.LlamaConfig(
        vocab_size=99,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        use_cache=False,
        attn_implementation="sdpa",
    )
    return tf.LlamaForCausalLM(config).eval(), (torch.randint(0, 99, (2, 10)),)
