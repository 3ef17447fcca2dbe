"""One file per anchor: the torch model, the community's hand-written MLX model loaded with the
same weights (a key mapping per anchor), and the inputs each side takes."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import numpy as np
import torch

# "cpu" (small inputs: the reference BLAS is slow and the machine shared) or "gpu" (standard
# sizes); run.py sets it before building anything. Each profile has its own generated files.
PROFILE = {"name": "cpu"}


def use_gpu_profile() -> None:
    """The GPU configuration: the GPU-sized anchors and strict float32 in torch (TF32 off;
    MLX's is off through MLX_ENABLE_TF32=0, set by benchmarks/gpu_setup.sh)."""
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    PROFILE["name"] = "gpu"


def sized(sizes: dict[str, Any]) -> Any:
    """The current profile's entry of ``sizes``."""
    return sizes[PROFILE["name"]]


def to_mx(t: torch.Tensor, channels_last: bool = False) -> mx.array:
    """A torch tensor as an MLX array (moving dim 1 last for NCHW/NCL inputs)."""
    a = t.detach().cpu().numpy()
    if channels_last:
        a = np.ascontiguousarray(np.moveaxis(a, 1, -1))
    return mx.array(a)


def state_mx(model: torch.nn.Module) -> dict[str, mx.array]:
    """The torch state_dict as MLX arrays, under torch's names."""
    return {k: mx.array(v.detach().cpu().numpy()) for k, v in model.state_dict().items()}


def first(out: Any) -> Any:
    """Output 0 of a tuple/list/ModelOutput-like result, or the result itself."""
    if isinstance(out, (tuple, list)):
        return out[0]
    if isinstance(out, dict):
        return next(iter(out.values()))
    if hasattr(out, "last_hidden_state"):
        return out.last_hidden_state
    if hasattr(out, "logits"):
        return out.logits
    return out


@dataclass
class Anchor:
    """A model measured three ways. ``hand`` builds the hand-written MLX model from the torch
    one (same weights); ``hand_inputs`` turns the torch inputs into what it takes; ``pick``
    reads the compared output from each side's result (torch and MLX alike). ``fast`` holds
    the fx2mlx convert options of the anchor's "fast options" variant (none: no such
    variant), ``pick_fast`` reads that variant's output in torch's layout."""

    name: str
    torch_model: Callable[[], torch.nn.Module]
    inputs: Callable[[int], tuple[torch.Tensor, ...]]
    hand: Callable[[torch.nn.Module], Any]
    hand_name: str
    hand_inputs: Callable[[tuple[torch.Tensor, ...]], tuple[mx.array, ...]]
    pick_torch: Callable[[Any], torch.Tensor]
    pick_hand: Callable[[Any], mx.array]
    pick_gen: Callable[[Any], mx.array]
    batches: tuple[int, int]  # (1, larger) on CPU; the GPU run passes its own
    note: str = ""
    fast: dict[str, bool] = field(default_factory=dict)
    pick_fast: Callable[[Any], mx.array] = first


def leaf_module(dotted: str) -> types.ModuleType:
    """Import a package's model module without running its parents' ``__init__`` (which
    pull in hub downloaders and processors: mlx-embeddings' needs mlx-vlm)."""
    if dotted in sys.modules:
        return sys.modules[dotted]
    parts = dotted.split(".")
    top = sys.modules.get(parts[0])
    if top is not None:
        base = list(top.__path__)[0]
    else:
        spec = importlib.util.find_spec(parts[0])
        assert spec is not None and spec.submodule_search_locations, dotted
        base = list(spec.submodule_search_locations)[0]
    for i in range(1, len(parts)):
        name = ".".join(parts[:i])
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = ["/".join([base, *parts[1:i]])]
            sys.modules[name] = pkg
    return importlib.import_module(dotted)


def registry() -> dict[str, Anchor]:
    from . import bert, lstm, vision, whisper

    found = [*vision.ANCHORS, bert.ANCHOR, whisper.ANCHOR, lstm.ANCHOR]
    return {a.name: a for a in found}
