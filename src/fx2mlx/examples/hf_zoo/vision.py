"""Vision architectures of the zoo: transformers on 16x16 patches grids and convnets on 32x32
images, 1-2 blocks per stage, a handful of channels."""

from __future__ import annotations

import torch

from .common import Example, image, ready, transformers

VIT = dict(
    image_size=16,
    patch_size=4,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
)


def make_vit() -> Example:
    """ViTModel: patch embedding conv, class token, pre-norm blocks, pooler."""
    torch.manual_seed(0)
    return ready(transformers().ViTModel(transformers().ViTConfig(**VIT))), (image(16),)


def make_deit() -> Example:
    """DeiTForImageClassificationWithTeacher: class and distillation tokens, two heads."""
    torch.manual_seed(0)
    config = transformers().DeiTConfig(num_labels=5, **VIT)
    model = transformers().DeiTForImageClassificationWithTeacher(config)
    return ready(model), (image(16),)


def make_beit() -> Example:
    """BeitModel: relative position bias per layer, layer scale, mean pooling."""
    torch.manual_seed(0)
    config = transformers().BeitConfig(
        use_relative_position_bias=True, use_mean_pooling=True, layer_scale_init_value=0.1, **VIT
    )
    return ready(transformers().BeitModel(config)), (image(16),)


def make_dinov2() -> Example:
    """Dinov2Model: layer scale, position embeddings at the trained resolution."""
    torch.manual_seed(0)
    config = transformers().Dinov2Config(mlp_ratio=2, **_drop(VIT, "intermediate_size"))
    return ready(transformers().Dinov2Model(config)), (image(16),)


def make_swin() -> Example:
    """SwinModel: windows of 2x2 patches, shifted in every second block, patch merging."""
    torch.manual_seed(0)
    config = transformers().SwinConfig(
        image_size=32, patch_size=4, embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=2
    )
    return ready(transformers().SwinModel(config)), (image(32),)


def make_swin2sr() -> Example:
    """Swin2SRForImageSuperResolution: reflect padding to the window, continuous position
    bias, scaled cosine attention, pixel-shuffle upsampler (x2)."""
    torch.manual_seed(0)
    config = transformers().Swin2SRConfig(
        image_size=8,
        patch_size=1,
        embed_dim=16,
        depths=[2],
        num_heads=[2],
        window_size=4,
        mlp_ratio=2.0,
        upscale=2,
        upsampler="pixelshuffle",
    )
    model = transformers().Swin2SRForImageSuperResolution(config)
    return ready(model), (image(8),)


def make_convnext() -> Example:
    """ConvNextModel: 7x7 depthwise convs, channels-first LayerNorm, layer scale."""
    torch.manual_seed(0)
    config = transformers().ConvNextConfig(
        num_stages=2, hidden_sizes=[8, 16], depths=[1, 1], image_size=32
    )
    return ready(transformers().ConvNextModel(config)), (image(32),)


def make_resnet() -> Example:
    """ResNetForImageClassification: bottleneck blocks, projection shortcuts, BatchNorm."""
    torch.manual_seed(0)
    config = transformers().ResNetConfig(
        embedding_size=8, hidden_sizes=[16, 32], depths=[1, 1], layer_type="bottleneck"
    )
    config.num_labels = 5
    model = transformers().ResNetForImageClassification(config)
    return ready(model), (image(32),)


def make_regnet() -> Example:
    """RegNetModel: Y blocks (grouped convs, squeeze-and-excitation)."""
    torch.manual_seed(0)
    config = transformers().RegNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], groups_width=4, layer_type="y"
    )
    return ready(transformers().RegNetModel(config)), (image(32),)


def make_mobilenet_v2() -> Example:
    """MobileNetV2Model: inverted residuals, depthwise convs, ReLU6, TF "same" padding."""
    torch.manual_seed(0)
    config = transformers().MobileNetV2Config(
        depth_multiplier=0.25, min_depth=4, image_size=32, finegrained_output=False
    )
    return ready(transformers().MobileNetV2Model(config)), (image(32),)


def make_efficientnet() -> Example:
    """EfficientNetModel: MBConv blocks with squeeze-and-excitation, SiLU, "same" padding."""
    torch.manual_seed(0)
    config = transformers().EfficientNetConfig(
        image_size=32,
        width_coefficient=0.1,  # channels: stem 8, blocks 8 and 16, top 128
        depth_coefficient=1.0,
        kernel_sizes=[3, 5],
        in_channels=[32, 32],
        out_channels=[32, 160],
        strides=[1, 2],
        num_block_repeats=[1, 2],
        expand_ratios=[1, 4],
        depthwise_padding=[1],  # block 1 pads symmetrically, the others TF-style
        # also the pooler's kernel (AvgPool2d(hidden_dim, ceil_mode=True)): kept small, as the
        # generated avg_pool takes one slice per kernel cell
        hidden_dim=128,
    )
    return ready(transformers().EfficientNetModel(config)), (image(32),)


def make_segformer() -> Example:
    """SegformerForSemanticSegmentation: overlapping patch embeddings, reduced-key attention,
    Mix-FFN (depthwise conv), all-MLP decoder upsampling every stage."""
    torch.manual_seed(0)
    config = transformers().SegformerConfig(
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[8, 16],
        patch_sizes=[7, 3],
        strides=[4, 2],
        num_attention_heads=[1, 2],
        mlp_ratios=[2, 2],
        decoder_hidden_size=16,
        num_labels=3,
    )
    model = transformers().SegformerForSemanticSegmentation(config)
    return ready(model), (image(32),)


def _drop(config: dict, key: str) -> dict:
    return {k: v for k, v in config.items() if k != key}
