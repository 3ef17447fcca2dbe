"""Bundled example models: the embedded default of ``fx2mlx demo``.

Each entry is ``module:attr`` of a factory returning ``(model, example_inputs)``.
"""

from __future__ import annotations

EXAMPLES: dict[str, str] = {
    "vad_cnn": "fx2mlx.examples.vad:make_vad",
    "mlp": "fx2mlx.examples.mlp:make_mlp",
    "resnet18": "fx2mlx.examples.resnet:make_resnet18",
    "transformer": "fx2mlx.examples.transformer:make_transformer",
}
