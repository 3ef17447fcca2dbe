"""The generated module of ``benchmarks/generated/PROFILE/FOLDER/model.py`` loaded the way a
user loads it: its own ``load()`` (and ``load(compile=True)``, the product's compiled path),
reading a temporary ``.safetensors`` written from the torch state_dict through the generated
``sanitize()`` (the GPU machine has no weight files, only the torch model)."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import mlx.core as mx
import torch
from mlx.utils import tree_flatten

from .anchors import PROFILE, registry, state_mx

GENERATED = Path(__file__).with_name("generated")


def generated_module(folder: str) -> ModuleType:
    """``model.py`` of ``generated/PROFILE/FOLDER`` imported under its own name."""
    path = GENERATED / PROFILE["name"] / folder / "model.py"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `python -m benchmarks.conversion "
            f"{folder.removesuffix('-fast')} OUT.json {PROFILE['name']}` first"
        )
    spec = importlib.util.spec_from_file_location(f"generated_{folder.replace('-', '_')}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_generated(folder: str, model: torch.nn.Module) -> tuple[Any, Any]:
    """(``load(file)``, ``load(file, compile=True)``) of the generated module, the file
    holding the torch model's weights as the generated ``sanitize()`` turns them."""
    module = generated_module(folder)
    top = module.load.__annotations__["return"]
    top = getattr(module, top) if isinstance(top, str) else top
    bare = top()
    weights = state_mx(model)
    if hasattr(bare, "sanitize"):
        weights = bare.sanitize(weights)
    names = {k for k, _ in tree_flatten(bare.parameters())}
    with tempfile.TemporaryDirectory() as tmp:
        file = str(Path(tmp) / "model.safetensors")
        mx.save_safetensors(file, {k: v for k, v in weights.items() if k in names})
        plain, compiled = module.load(file), module.load(file, compile=True)
        mx.eval(plain.parameters(), compiled.parameters())  # read before the file goes
    return plain, compiled


def missing(names: list[str]) -> list[str]:
    """The ``model.py`` files the timings of ``names`` need that the profile's folder lacks
    (``NAME/`` and, for an anchor with fast options, ``NAME-fast/``)."""
    anchors = registry()
    folders = list(names) + [f"{n}-fast" for n in names if anchors[n].fast]
    paths = [GENERATED / PROFILE["name"] / f / "model.py" for f in folders]
    return [str(p.relative_to(GENERATED.parent.parent)) for p in paths if not p.is_file()]
