"""A Whisper encoder: openai-whisper's torch ``AudioEncoder`` (random weights, small
``ModelDimensions``) against mlx-whisper's ``AudioEncoder``."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import torch

from . import Anchor, first, leaf_module, sized, state_mx, to_mx

# whisper "tiny"'s encoder widths over 30 s of audio on the GPU (n_audio_ctx 1500), 2 s on CPU
CTX = {"cpu": 100, "gpu": 1500}
WIDTHS = {"n_mels": 80, "n_state": 384, "n_head": 6, "n_layer": 4}


def dims() -> dict[str, int]:
    return {**WIDTHS, "n_ctx": sized(CTX)}


def encoder() -> torch.nn.Module:
    from whisper.model import AudioEncoder

    return AudioEncoder(**dims()).eval()


def _key(key: str) -> str:
    return key.replace("mlp.0", "mlp1").replace("mlp.2", "mlp2")


def hand_encoder(model: torch.nn.Module) -> nn.Module:
    AudioEncoder = leaf_module("mlx_whisper.whisper").AudioEncoder

    hand = AudioEncoder(**dims(), dtype=mx.float32)
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
    return (torch.randn(batch, WIDTHS["n_mels"], 2 * sized(CTX)),)


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
    batches=(1, 2),  # the CPU run's; the GPU run takes (1, 32)
    note=f"openai-whisper AudioEncoder, tiny widths {WIDTHS}, n_ctx {CTX}; mlx-whisper takes "
    "(B, T, mels), converted before timing, as does the fast variant (channels_last_io: "
    "the conv front end's input channels-last; its (B, T, C) output as torch's)",
    fast={"channels_last_io": True},
    pick_fast=first,
)
