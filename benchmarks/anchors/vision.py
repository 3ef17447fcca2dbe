"""ResNet-18/50 and ViT-S/16 against mlx-image (``mlxim``).

The torch side is Hugging Face ``transformers``' ResNet/ViT (torchvision does not import in
this environment); with the configs below they compute what mlx-image's torchvision-shaped
models compute (stride in the 3x3 conv, projection shortcuts, LayerNorm eps 1e-6, exact GELU).
"""

from __future__ import annotations

import re
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import torch
import transformers

from . import Anchor, first, sized, state_mx, to_mx

IMAGE = {"cpu": 112, "gpu": 224}
RESNET_FAST = {"channels_last_io": True, "fold_batchnorm": True}  # the fast variant's options


def resnet(depth: int) -> torch.nn.Module:
    basic = depth == 18
    config = transformers.ResNetConfig(
        embedding_size=64,
        hidden_sizes=[64, 128, 256, 512] if basic else [256, 512, 1024, 2048],
        depths=[2, 2, 2, 2] if basic else [3, 4, 6, 3],
        layer_type="basic" if basic else "bottleneck",
        num_labels=1000,
    )
    return random_batchnorms(transformers.ResNetForImageClassification(config).eval())


def random_batchnorms(model: torch.nn.Module) -> torch.nn.Module:
    """Running statistics and affine parameters away from the identity that fresh BatchNorms
    hold, so that the fast variant's folded BatchNorm is checked against torch."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(c))
            m.running_var.copy_(torch.empty(c).uniform_(0.5, 1.5))
            m.weight.data.copy_(torch.empty(c).uniform_(0.5, 1.5))
            m.bias.data.copy_(0.1 * torch.randn(c))
    return model


def _resnet_key(key: str) -> str:
    """Hugging Face's ResNet names -> mlx-image's (torchvision's) names."""
    key = key.replace("resnet.embedder.embedder.convolution", "conv1")
    key = key.replace("resnet.embedder.embedder.normalization", "bn1")
    key = key.replace("classifier.1", "fc")
    m = re.match(r"resnet\.encoder\.stages\.(\d+)\.layers\.(\d+)\.(.*)", key)
    if not m:
        return key
    stage, block, rest = int(m[1]) + 1, m[2], m[3]
    rest = rest.replace("shortcut.convolution", "downsample.layers.0")
    rest = rest.replace("shortcut.normalization", "downsample.layers.1")
    rest = re.sub(r"layer\.(\d)\.convolution", lambda n: f"conv{int(n[1]) + 1}", rest)
    rest = re.sub(r"layer\.(\d)\.normalization", lambda n: f"bn{int(n[1]) + 1}", rest)
    return f"layer{stage}.layers.{block}.{rest}"  # mlx-image's stages are nn.Sequential


def mapped(model: torch.nn.Module, rename: object) -> list[tuple[str, mx.array]]:
    """torch's state as MLX arrays under the anchor's names; conv kernels made channels-last
    (and contiguous: a strided view would make every conv copy its kernel per call)."""
    out = []
    for key, value in state_mx(model).items():
        if key.endswith("num_batches_tracked"):
            continue
        if value.ndim == 4:
            value = mx.contiguous(mx.moveaxis(value, 1, -1))
        out.append((rename(key), value))  # type: ignore[operator]
    return out


def hand_resnet(depth: int, model: torch.nn.Module) -> nn.Module:
    from mlxim.model.resnet._factory import resnet18, resnet50

    hand = (resnet18 if depth == 18 else resnet50)(num_classes=1000)
    hand.load_weights(mapped(model, _resnet_key), strict=True)
    hand.eval()
    return hand


def vit() -> torch.nn.Module:
    config = transformers.ViTConfig(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        intermediate_size=1536,
        image_size=sized(IMAGE),
        patch_size=16,
        layer_norm_eps=1e-6,
        num_labels=1000,
    )
    return transformers.ViTForImageClassification(config).eval()


_VIT = [  # transformers 5's ViT names -> mlx-image's (torchvision's)
    ("vit.embeddings.cls_token", "class_token"),
    ("vit.embeddings.position_embeddings", "encoder.pos_embedding"),
    ("vit.embeddings.patch_embeddings.projection", "conv_proj"),
    ("vit.layers.", "encoder.layers."),
    ("attention.q_proj", "self_attention.query_proj"),
    ("attention.k_proj", "self_attention.key_proj"),
    ("attention.v_proj", "self_attention.value_proj"),
    ("attention.o_proj", "self_attention.out_proj"),
    ("mlp.fc1", "mlp.linear_1"),
    ("mlp.fc2", "mlp.linear_2"),
    ("layernorm_before", "ln_1"),
    ("layernorm_after", "ln_2"),
    ("vit.layernorm", "encoder.ln"),
    ("classifier", "heads.layers.0"),
]


def _vit_key(key: str) -> str:
    for old, new in _VIT:
        key = key.replace(old, new)
    return key


def hand_vit(model: torch.nn.Module) -> nn.Module:
    from mlxim.model.vit.vit import VisionTransformer

    hand = VisionTransformer(
        image_size=sized(IMAGE),
        patch_size=16,
        num_layers=12,
        num_heads=6,
        hidden_dim=384,
        mlp_dim=1536,
        num_classes=1000,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
    )
    hand.load_weights(mapped(model, _vit_key), strict=True)
    hand.eval()
    return hand


def images(batch: int) -> tuple[torch.Tensor, ...]:
    return (torch.randn(batch, 3, sized(IMAGE), sized(IMAGE)),)


def nhwc(inputs: tuple[torch.Tensor, ...]) -> tuple[mx.array, ...]:
    return tuple(to_mx(x, channels_last=True) for x in inputs)


def _anchor(name: str, build: object, hand: object, fast: dict[str, bool]) -> Anchor:
    return Anchor(
        name=name,
        torch_model=build,  # type: ignore[arg-type]
        inputs=images,
        hand=hand,  # type: ignore[arg-type]
        hand_name="mlx-image 0.1.10",
        hand_inputs=nhwc,
        pick_torch=first,
        pick_hand=first,
        pick_gen=first,
        batches=(1, 4),
        note="images 112x112 on CPU, 224x224 on GPU; mlx-image takes NHWC (converted before "
        "timing), the generated module NCHW (its one input transpose is timed), the fast one "
        f"NHWC ({', '.join(fast)})",
        fast=fast,
    )


ANCHORS = [
    _anchor("resnet18", partial(resnet, 18), partial(hand_resnet, 18), RESNET_FAST),
    _anchor("resnet50", partial(resnet, 50), partial(hand_resnet, 50), RESNET_FAST),
    _anchor("vit_s16", vit, hand_vit, {"channels_last_io": True}),
]
