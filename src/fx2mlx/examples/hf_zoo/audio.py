"""Audio architectures of the zoo: 400-sample waveforms or 16-frame log-mel features."""

from __future__ import annotations

import torch

from .common import VOCAB, Example, SpeechToText, ids, ready, transformers

WAV2VEC = dict(
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=20,
    conv_dim=(8, 8),
    conv_stride=(5, 2),
    conv_kernel=(10, 3),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)


def waveform() -> torch.Tensor:
    return torch.randn(2, 400)


def make_wav2vec2() -> Example:
    """Wav2Vec2Model: conv feature encoder (GroupNorm on the first layer), weight-normed
    grouped positional conv, post-norm transformer."""
    torch.manual_seed(0)
    config = transformers().Wav2Vec2Config(feat_extract_norm="group", **WAV2VEC)
    return ready(transformers().Wav2Vec2Model(config)), (waveform(),)


def make_hubert() -> Example:
    """HubertModel: LayerNorm in every feature-encoder layer, pre-norm (stable) transformer."""
    torch.manual_seed(0)
    config = transformers().HubertConfig(
        feat_extract_norm="layer", do_stable_layer_norm=True, **WAV2VEC
    )
    return ready(transformers().HubertModel(config)), (waveform(),)


WHISPER = dict(
    vocab_size=VOCAB,
    num_mel_bins=8,
    d_model=16,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=20,
    decoder_ffn_dim=20,
    max_source_positions=8,
    max_target_positions=16,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    decoder_start_token_id=1,
    use_cache=False,
)


def features() -> torch.Tensor:
    return torch.randn(2, 8, 16)  # (batch, mel bins, 2 x max_source_positions frames)


def make_whisper_encoder() -> Example:
    """WhisperEncoder: two convs (the second strided), GELU, sinusoidal positions."""
    torch.manual_seed(0)
    config = transformers().WhisperConfig(**WHISPER)
    return ready(transformers().WhisperModel(config).get_encoder()), (features(),)


def make_whisper() -> Example:
    """WhisperForConditionalGeneration: the encoder plus a causal decoder with cross-attention
    and the tied output projection."""
    torch.manual_seed(0)
    config = transformers().WhisperConfig(**WHISPER)
    model = SpeechToText(transformers().WhisperForConditionalGeneration(config))
    return ready(model), (features(), ids(length=5))


def make_encodec() -> Example:
    """EncodecModel: weight-normed convs, LSTM, residual vector quantizer, transposed-conv
    decoder."""
    torch.manual_seed(0)
    config = transformers().EncodecConfig(
        audio_channels=1,
        hidden_size=16,
        num_filters=4,
        num_residual_layers=1,
        upsampling_ratios=[2, 2],
        codebook_size=16,
        codebook_dim=16,
        num_lstm_layers=1,
        target_bandwidths=[1.5],
        sampling_rate=400,
    )
    return ready(transformers().EncodecModel(config)), (torch.randn(2, 1, 256),)
