"""Converters, one op family a file; importing this package fills the registry."""

from __future__ import annotations

from . import (  # noqa: F401 - imported for their registrations
    activation,
    adaptive_pool,
    attention,
    bitwise,
    conv,
    conv_transpose,
    creation,
    elementwise,
    embedding,
    indexing,
    linalg,
    linear,
    math,
    mha,
    norm,
    padding,
    patches,
    pooling,
    reduction,
    reorder,
    resize,
    rnn,
    rope,
    sampling,
    scatter,
    shape,
    sorting,
    thirdparty,
)
from .registry import (
    LAYERS,
    OPS,
    Ctor,
    LayerConverter,
    OpConverter,
    is_layer,
    layer_for,
    target_name,
)

__all__ = [
    "LAYERS",
    "OPS",
    "Ctor",
    "LayerConverter",
    "OpConverter",
    "is_layer",
    "layer_for",
    "target_name",
]
