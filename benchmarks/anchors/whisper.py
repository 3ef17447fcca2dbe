"""A Whisper encoder: openai-whisper's torch ``AudioEncoder`` (random weights, small
``ModelDimensions``) against mlx-whisper's ``AudioEncoder``."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import torch

from . import Anchor, first, state_mx, to_mx

# whisper "tiny"'s encoder widths over 5 s of audio (n_audio_ctx 250 of 1500): affordable on CPU
DIMS = {"n_mels": 80, "n_ctx": 250, "n_state": 384, "n_head": 6, "n_layer": 4}


def encoder() -> torch.nn.Module:
    from whisper.model import AudioEncoder

    return AudioEncoder(**DIMS).eval()


def _key(key: str) -> str:
    return key.replace("mlp.0", "mlp1").replace("mlp.2", "mlp2")


def hand_encoder(model: torch.nn.Module) -> nn.Module:
    from mlx_whisper.whisper import AudioEncoder

    hand = AudioEncoder(**DIMS, dtype=mx.float32)
    weights = []
    for key, value in state_mx(model).items():
        if key == "positional_embedding":
            hand._positional_embedding = value  # a private attribute there, not a parameter
            continue
        if value.ndim == 3:  # Conv1d: (out, in, k) -> (out, k, in)
            value = mx.contiguous(mx.moveaxis(value, 1, -1))
        weights.append((_key(key), value))
    hand.load_weights(weights, strict=True)
    hand.eval()
    return hand


def mels(batch: int) -> tuple[torch.Tensor, ...]:
    return (torch.randn(batch, DIMS["n_mels"], 2 * DIMS["n_ctx"]),)


def nlc(inputs: tuple[torch.Tensor, ...]) -> tuple[mx.array, ...]:
    return tuple(to_mx(x, channels_last=True) for x in inputs)


ANCHOR = Anchor(
    name="whisper_enc",
    torch_model=encoder,
    inputs=mels,
    hand=hand_encoder,
    hand_name="mlx-whisper 0.4.3",
    hand_inputs=nlc,
    pick_torch=first,
    pick_hand=first,
    pick_gen=first,
    batches=(1, 4),
    note=f"openai-whisper AudioEncoder{tuple(DIMS.values())} (n_mels, n_ctx, n_state, n_head, "
    "n_layer); mlx-whisper takes (B, T, mels), converted before timing",
)
