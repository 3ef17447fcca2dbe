"""The Hugging Face zoo: tiny ``transformers`` architectures with random weights.

Each factory returns ``(model, example_inputs)``; nothing is downloaded. ``ZOO`` maps a name to
its :class:`ZooModel`, in the order the docs list them, and
``fx2mlx convert fx2mlx.examples.hf_zoo.vision:make_swin -o out/`` converts one from the
command line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import audio, multimodal, text, vision
from .common import Example


@dataclass(frozen=True)
class ZooModel:
    """One architecture: its family and the factory that builds it."""

    name: str
    family: str  # text, vision, audio or multimodal
    make: Callable[[], Example]

    @property
    def target(self) -> str:
        """The factory as ``module:function``, the form ``fx2mlx convert`` takes."""
        return f"{self.make.__module__}:{self.make.__name__}"

    @property
    def summary(self) -> str:
        """What the config exercises: the factory docstring's first paragraph, one line."""
        paragraph = (self.make.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(paragraph.split())


_FAMILIES = {"text": text, "vision": vision, "audio": audio, "multimodal": multimodal}


def _registry() -> dict[str, ZooModel]:
    zoo = {}
    for family, module in _FAMILIES.items():
        for attr, make in vars(module).items():
            if attr.startswith("make_") and callable(make):
                name = attr.removeprefix("make_").replace("_", "-")
                zoo[name] = ZooModel(name, family, make)
    return zoo


ZOO: dict[str, ZooModel] = _registry()

BLOCKED: dict[str, str] = {}
"""Architectures fx2mlx can't convert yet, and the first thing in the way."""

UNSANITIZED: dict[str, str] = {
    "swin2sr": "relative_coords_table and relative_position_index are non-persistent buffers"
    " no expression rebuilds: the MLX model holds them as parameters, which PyTorch's"
    " checkpoints lack",
}
"""Architectures that convert and match, but whose PyTorch checkpoints ``sanitize`` can't
turn into a complete set of weights on its own (strict loading names what is missing)."""
