"""Run one conformance sample: convert a tiny module, run torch and the generated MLX model on
the sample's own inputs and on fresh random ones, and classify what happened.

Outcomes: ``pass``, ``mismatch``, ``unsupported`` (fx2mlx's ``[fx2mlx]`` error), ``capture``
(no frontend can trace it), ``skip`` (the sample's values are out of MLX's reach, with the
reason) and ``crash`` (any other exception from fx2mlx or from the code it generated: a bug).
"""

from __future__ import annotations

import re
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import torch

import fx2mlx
from fx2mlx.validate import load_generated, to_mlx
from fx2mlx.weights import save_weights

from .compare import compare_outputs, tensor_leaves
from .inputs import fresh_inputs

OUTCOMES = ("pass", "mismatch", "unsupported", "capture", "skip", "crash")


@dataclass
class Result:
    """What one sample did; ``own_only`` says why fresh inputs could not be used ("" if used)."""

    outcome: str
    reason: str = ""
    own_only: str = ""


def clean(text: str, limit: int = 160) -> str:
    """One stable line: no addresses, no runs of spaces, at most ``limit`` characters."""
    text = re.sub(r"0x[0-9a-f]+", "0x…", text)
    text = re.sub(r"fx2mlx_generated_[0-9a-f]+|/tmp/\S+", "…", text)
    text = re.sub(r"\{([^{}]*)\}", _sorted_set, text)  # torch prints sets in hash order
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sorted_set(match: re.Match[str]) -> str:
    return "{" + ", ".join(sorted(item.strip() for item in match.group(1).split(","))) + "}"


def torch_run(model: torch.nn.Module, inputs: tuple) -> Any:
    """torch's outputs on copies of ``inputs`` (an op may write into its arguments)."""
    with torch.no_grad():
        return model(*[x.clone() for x in inputs])


def check_fresh(model: torch.nn.Module, inputs: tuple, expected: Any, seed: int) -> tuple:
    """(fresh inputs, "") when torch accepts them as it does the sample's, else ((), why)."""
    fresh = fresh_inputs(inputs, seed)
    try:
        out = torch_run(model, fresh)
    except Exception as exc:  # noqa: BLE001 - the sample's domain is narrower than random values
        return (), clean(f"torch rejects random inputs ({type(exc).__name__}: {exc})", 120)
    if _nonfinite(out) > _nonfinite(expected):
        return (), "random inputs leave the op's domain (torch gives NaN or inf)"
    if not _same_single_threaded(model, fresh, out):
        return (), "torch's result on random inputs depends on its thread count (repeated indices)"
    return fresh, ""


def _same_single_threaded(model: torch.nn.Module, inputs: tuple, out: Any) -> bool:
    """Whether one thread gives what several gave: writes through repeated indices (random
    index inputs repeat) land in whichever order torch's threads run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        again = torch_run(model, inputs)
    finally:
        torch.set_num_threads(threads)
    a, b = (torch.utils._pytree.tree_leaves(o) for o in (out, again))
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))


def _close(x: Any, y: Any) -> bool:
    """Equal up to summation order (threads split long reductions differently)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        return not isinstance(x, torch.Tensor) or torch.equal(x, y)
    return torch.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True)


def _nonfinite(value: Any) -> int:
    leaves = torch.utils._pytree.tree_leaves(value)
    return sum(
        int((~torch.isfinite(t)).sum())
        for t in leaves
        if isinstance(t, torch.Tensor) and t.is_floating_point()
    )


def convert(model: torch.nn.Module, inputs: tuple) -> fx2mlx.Conversion | Result:
    """The conversion, or the :class:`Result` that says why there is none."""
    try:
        return fx2mlx.convert(model, inputs)
    except fx2mlx.UnsupportedError as exc:
        why = "; ".join(f"{item.op}: {item.reason}" for item in exc.items)
        return Result("unsupported", clean(why, 300))
    except fx2mlx.Fx2MlxError as exc:
        text = str(exc)
        if "could not trace" in text:
            return Result("capture", clean(_first_frontend_error(text)))
        return Result("unsupported", clean(text.removeprefix("[fx2mlx] ")))
    except Exception as exc:  # noqa: BLE001 - any other exception is a bug, reported as a crash
        return Result("crash", crash_text(exc))


def _first_frontend_error(text: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith("- "):
            return line.strip()[2:]
    return text


def crash_text(exc: BaseException) -> str:
    """The exception and the innermost fx2mlx frame that raised it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/fx2mlx/" in f.filename]
    where = f" in {Path(frames[-1].filename).name}" if frames else ""  # no line: edits move it
    return clean(f"{type(exc).__name__}: {exc}{where}", 240)


def run_generated(conv: fx2mlx.Conversion, sets: list[tuple]) -> list[tuple[Any, Any]]:
    """(torch, MLX) outputs on every input set, from the saved and reloaded generated file."""
    with tempfile.TemporaryDirectory(prefix="fx2mlx-conformance-") as tmp:
        folder = Path(tmp)
        (folder / "model.py").write_text(conv.source)
        save_weights(str(folder / "model.safetensors"), conv.weights)
        generated = load_generated(folder)
        runs = []
        for inputs in sets:
            got = generated(*[to_mlx(x) for x in inputs])
            mx.eval(got)
            runs.append((torch_run(conv.model, inputs), got))
        return runs


def out_of_reach(tensors: list[torch.Tensor]) -> str:
    """Why MLX can't hold these values, or ""."""
    if any(t.layout != torch.strided for t in tensors):
        return "sparse tensors (MLX arrays are dense)"
    if any(t.is_complex() for t in tensors):
        return "complex tensors (fx2mlx refuses complex math)"
    if any(t.is_quantized for t in tensors):
        return "quantized tensors"
    return ""


def _specialized(conv: fx2mlx.Conversion) -> str:
    """Why the conversion holds for the example's values only ("" if it holds for any): the
    trace frontend specializes values the model reads into Python, and says so."""
    if any("specialized to the example's value" in w for w in conv.report.warnings):
        return "the trace frontend specialized values read from the inputs (flagged)"
    return ""


def run_sample(model: torch.nn.Module, inputs: tuple, seed: int = 0, own_only: str = "") -> Result:
    """Convert ``model`` for ``inputs`` and check it on them and on fresh random inputs (not
    when ``own_only`` says why they can't be)."""
    try:
        expected = torch_run(model, inputs)
    except Exception as exc:  # noqa: BLE001 - nothing to compare against
        return Result("skip", clean(f"torch fails on the sample ({type(exc).__name__}: {exc})"))
    outputs = [t for _, t in tensor_leaves(expected)]
    why = out_of_reach(list(inputs) + outputs)
    if why or not outputs:
        return Result("skip", why or "returns no tensor (nothing to compare)")
    fresh, why = ((), own_only) if own_only else check_fresh(model, inputs, expected, seed)
    own_only = why
    conv = convert(model, inputs)
    if isinstance(conv, Result):
        return conv
    specialized = _specialized(conv)
    if specialized and fresh:  # by design right on the example only: checked there
        fresh, own_only = (), specialized
    sets = [inputs] + ([fresh] if fresh else [])
    try:
        runs = run_generated(conv, sets)
    except Exception as exc:  # noqa: BLE001 - generated code that fails to run is a bug
        return Result("crash", "generated code fails: " + crash_text(exc))
    for name, (want, got) in zip(("own", "random"), runs):
        why = compare_outputs(want, got)
        if why:
            return Result("mismatch", clean(f"{why} on {name} inputs", 240))
    return Result("pass", own_only=own_only)
