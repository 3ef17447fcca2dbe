"""The variants of one (model, batch) and their max errors against torch: torch eager, the
generated module plain, through its own ``load(compile=True)`` (state as inputs) and under
``mx.compile`` with its weights as constants (as the hand side), the same for the anchor's
"fast options" conversion where it has one, and the hand-written model plain and under
``mx.compile``. ``sampling`` times them; evaluation is forced (``mx.eval``;
``torch.cuda.synchronize`` on the GPU)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlx.core as mx
import numpy as np
import torch

from .anchors import Anchor, first, to_mx
from .loading import load_generated
from .sampling import Run


def variants(anchor: Anchor, model: torch.nn.Module, batch: int, dev: str) -> dict[str, Run]:
    """name -> (callable, its inputs, how to read its compared output)."""
    torch.manual_seed(batch)
    inputs = anchor.inputs(batch)
    g_in = tuple(to_mx(x) for x in inputs)
    runs = generated_runs(anchor.name, model, g_in, anchor.pick_gen, "generated")
    # compiled as the hand side is (weights captured as constants): what the product's
    # state-as-inputs compile costs shows against it
    runs["generated_constants"] = (compiled(runs["generated"][0]), g_in, first)
    if anchor.fast:
        f_in = fast_inputs(anchor.fast, inputs)
        runs |= generated_runs(f"{anchor.name}-fast", model, f_in, anchor.pick_fast, "fast")
    hand = anchor.hand(model)
    h_in = anchor.hand_inputs(inputs)
    runs["hand"] = (hand, h_in, anchor.pick_hand)
    runs["hand_compiled"] = (compiled(hand), h_in, first)
    return {"torch": torch_run(model, inputs, dev, anchor.pick_torch), **runs}


def generated_runs(
    folder: str, model: torch.nn.Module, xs: tuple, pick: Callable, name: str
) -> dict[str, Run]:
    plain, compiled_model = load_generated(folder, model)
    return {name: (plain, xs, pick), f"{name}_compiled": (compiled_model, xs, pick)}


def fast_inputs(options: dict[str, bool], inputs: tuple[torch.Tensor, ...]) -> tuple:
    """The inputs the fast conversion takes: with ``channels_last_io`` the images and mels,
    which convolutions read, channels-last (every rank 3-5 input of these anchors is one):
    the same arrays the hand-written vision and whisper models take."""
    cl = options.get("channels_last_io", False)
    return tuple(to_mx(x, channels_last=cl and x.ndim in (3, 4, 5)) for x in inputs)


def torch_run(model: torch.nn.Module, inputs: tuple, dev: str, pick: Callable) -> Run:
    tdev = model.to(dev)

    def torch_call(*xs: torch.Tensor) -> Any:
        with torch.inference_mode():
            return tdev(*xs)

    return (torch_call, tuple(x.to(dev) for x in inputs), pick)


def compiled(module: Any) -> Callable:
    """``mx.compile`` of the hand-written module returning its arrays as a list (a compiled
    function can't return a dataclass such as mlx-embeddings' output)."""
    return mx.compile(lambda *xs: leaves(module(*xs)))


def leaves(out: Any) -> list[Any]:
    """The arrays/tensors in a result (tuples, dicts, ModelOutput-like objects)."""
    if isinstance(out, (mx.array, torch.Tensor)):
        return [out]
    if isinstance(out, (tuple, list)):
        return [leaf for v in out for leaf in leaves(v)]
    if isinstance(out, dict):
        return [leaf for v in out.values() for leaf in leaves(v)]
    if hasattr(out, "__dict__"):
        return [leaf for v in vars(out).values() for leaf in leaves(v)]
    return []


def force(out: Any) -> None:
    found = leaves(out)
    arrays = [x for x in found if isinstance(x, mx.array)]
    if arrays:
        mx.eval(arrays)
    if len(arrays) < len(found) and torch.cuda.is_available():
        torch.cuda.synchronize()


def max_errors(runs: dict[str, Run]) -> dict[str, float]:
    """Each variant's max abs error against torch on the timed inputs."""
    outs = {}
    for name, (fn, xs, pick) in runs.items():
        out = pick(fn(*xs))
        force(out)
        outs[name] = out.float().cpu().numpy() if isinstance(out, torch.Tensor) else np.array(out)
    ref = outs["torch"]
    return {k: float(np.abs(v.reshape(ref.shape) - ref).max()) for k, v in outs.items()}
