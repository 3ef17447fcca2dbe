"""Text architectures of the zoo: encoders, decoders and seq2seq, each the smallest config that
still runs every layer type (2 layers, width 32, 4 heads, 7 tokens)."""

from __future__ import annotations

import torch

from .common import VOCAB, Example, TextToText, ids, padding_mask, ready, transformers

WIDTH = dict(hidden_size=32, num_attention_heads=4, intermediate_size=37)
BERTLIKE = dict(vocab_size=VOCAB, num_hidden_layers=2, max_position_embeddings=64, **WIDTH)
DECODER = dict(
    vocab_size=VOCAB,
    num_hidden_layers=2,
    max_position_embeddings=64,
    use_cache=False,
    **WIDTH,
)


def make_bert() -> Example:
    """BertModel: absolute positions, token types, padding mask, pooler."""
    torch.manual_seed(0)
    model = transformers().BertModel(transformers().BertConfig(**BERTLIKE))
    return ready(model), (ids(), padding_mask())


def make_distilbert() -> Example:
    """DistilBertModel: no token types, its own attention module."""
    torch.manual_seed(0)
    config = transformers().DistilBertConfig(
        vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64
    )
    return ready(transformers().DistilBertModel(config)), (ids(), padding_mask())


def make_roberta() -> Example:
    """RobertaModel: position ids from the input ids (cumsum of non-padding tokens)."""
    torch.manual_seed(0)
    model = transformers().RobertaModel(transformers().RobertaConfig(**BERTLIKE))
    return ready(model), (ids(low=2), padding_mask())  # ids 0/1 are bos/padding


def make_albert() -> Example:
    """AlbertModel: factorized embeddings (16 -> 32), one layer group shared by both layers."""
    torch.manual_seed(0)
    config = transformers().AlbertConfig(embedding_size=16, num_hidden_groups=1, **BERTLIKE)
    return ready(transformers().AlbertModel(config)), (ids(), padding_mask())


def make_electra() -> Example:
    """ElectraForPreTraining: factorized embeddings and the per-token discriminator head."""
    torch.manual_seed(0)
    config = transformers().ElectraConfig(embedding_size=16, **BERTLIKE)
    return ready(transformers().ElectraForPreTraining(config)), (ids(), padding_mask())


def make_deberta_v2() -> Example:
    """DebertaV2Model: disentangled attention (c2p and p2c) over log-bucketed relative
    positions, shared attention keys, layer-normed relative embeddings, a conv layer."""
    torch.manual_seed(0)
    config = transformers().DebertaV2Config(
        relative_attention=True,
        pos_att_type=["p2c", "c2p"],
        position_buckets=4,
        max_relative_positions=16,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        position_biased_input=False,
        conv_kernel_size=3,
        **BERTLIKE,
    )
    return ready(transformers().DebertaV2Model(config)), (ids(), padding_mask())


def make_gpt2() -> Example:
    """GPT2LMHeadModel: Conv1D projections, causal mask, tied embeddings."""
    torch.manual_seed(0)
    config = transformers().GPT2Config(
        vocab_size=VOCAB,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=64,
        bos_token_id=1,
        eos_token_id=2,
        use_cache=False,
    )
    return ready(transformers().GPT2LMHeadModel(config)), (ids(),)


def make_gpt_neo() -> Example:
    """GPTNeoForCausalLM: one global and one local (window 4) attention layer."""
    torch.manual_seed(0)
    config = transformers().GPTNeoConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_layers=2,
        num_heads=4,
        attention_types=[[["global", "local"], 1]],
        window_size=4,
        max_position_embeddings=64,
        use_cache=False,
    )
    return ready(transformers().GPTNeoForCausalLM(config)), (ids(),)


def make_llama() -> Example:
    """LlamaForCausalLM: rotary embeddings, RMSNorm, SwiGLU, grouped-query attention."""
    torch.manual_seed(0)
    config = transformers().LlamaConfig(num_key_value_heads=2, **DECODER)
    return ready(transformers().LlamaForCausalLM(config)), (ids(),)


def make_mistral() -> Example:
    """MistralForCausalLM: a sliding window (4) shorter than the sequence (7)."""
    torch.manual_seed(0)
    config = transformers().MistralConfig(num_key_value_heads=2, sliding_window=4, **DECODER)
    return ready(transformers().MistralForCausalLM(config)), (ids(),)


def make_qwen2() -> Example:
    """Qwen2ForCausalLM: biased q/k/v projections, grouped-query attention."""
    torch.manual_seed(0)
    config = transformers().Qwen2Config(num_key_value_heads=2, **DECODER)
    return ready(transformers().Qwen2ForCausalLM(config)), (ids(),)


def make_gemma() -> Example:
    """GemmaForCausalLM: multi-query attention, (1 + w) RMSNorm, scaled embeddings, GeGLU."""
    torch.manual_seed(0)
    config = transformers().GemmaConfig(num_key_value_heads=1, head_dim=8, **DECODER)
    return ready(transformers().GemmaForCausalLM(config)), (ids(),)


def make_phi() -> Example:
    """PhiForCausalLM: partial rotary (half the head), parallel attention and MLP, LayerNorm."""
    torch.manual_seed(0)
    rope = {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5}
    config = transformers().PhiConfig(rope_parameters=rope, **DECODER)
    return ready(transformers().PhiForCausalLM(config)), (ids(),)


T5 = dict(
    vocab_size=VOCAB,
    d_model=32,
    d_kv=8,
    d_ff=37,
    num_layers=2,
    num_heads=4,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=16,
    use_cache=False,
)


def make_t5_encoder() -> Example:
    """T5EncoderModel: bucketed relative position bias, RMS-style T5LayerNorm, gated GELU."""
    torch.manual_seed(0)
    config = transformers().T5Config(feed_forward_proj="gated-gelu", **T5)
    return ready(transformers().T5EncoderModel(config)), (ids(), padding_mask())


def make_t5() -> Example:
    """T5ForConditionalGeneration: encoder, causal decoder with cross-attention, ReLU FFN."""
    torch.manual_seed(0)
    config = transformers().T5Config(feed_forward_proj="relu", num_decoder_layers=1, **T5)
    model = TextToText(transformers().T5ForConditionalGeneration(config))
    return ready(model), (ids(), ids(length=5))


def make_bart() -> Example:
    """BartForConditionalGeneration: learned offset positions, post-norm encoder and decoder."""
    torch.manual_seed(0)
    config = transformers().BartConfig(
        vocab_size=VOCAB,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        max_position_embeddings=64,
        use_cache=False,
    )
    model = TextToText(transformers().BartForConditionalGeneration(config))
    return ready(model), (ids(low=3), ids(length=5, low=3))  # 0-2 are special tokens
