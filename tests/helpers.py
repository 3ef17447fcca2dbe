"""Test helpers: convert a module, validate it against torch on fresh random inputs."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

import fx2mlx
from fx2mlx.capture import capture
from fx2mlx.converters import OPS, is_layer
from fx2mlx.tensors import to_mlx
from fx2mlx.validate import compare, load_generated, run_both


def assert_converts(
    model: torch.nn.Module, inputs: Any, *, frontend: str = "auto", fresh: int = 1, **kwargs: Any
) -> fx2mlx.Conversion:
    """Convert ``model`` and check it against torch on ``inputs`` plus ``fresh`` random sets.

    Tolerances are the project defaults (rel 1e-4, abs 1e-3 x scale); never loosen them here.
    """
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    conv = fx2mlx.convert(model.eval(), inputs, frontend=frontend, **kwargs)
    sets = [inputs] + [fx2mlx.random_inputs(inputs, seed=10 + i) for i in range(fresh)]
    result = conv.validate(sets)
    assert result.ok, f"{result.table()}\n--- generated ---\n{conv.source}"
    assert_mlx_names_exist(conv.source)
    return conv


def _mlx_references(source: str) -> dict[str, str]:
    """Every dotted name the source reads from an imported ``mlx`` module, as written
    (``nn.Conv2d``) -> with the module's full name (``mlx.nn.Conv2d``)."""
    tree = ast.parse(source)
    aliases = {
        a.asname or a.name: a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
        if a.name.split(".")[0] == "mlx"
    }
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if parts and isinstance(node, ast.Name) and node.id in aliases:
            found[".".join([node.id, *parts])] = ".".join([aliases[node.id], *parts])
    return found


def _resolves(dotted: str) -> bool:
    module, *attrs = dotted.split(".")
    value: object = importlib.import_module(module)
    for i, attr in enumerate(attrs):
        if hasattr(value, attr):
            value = getattr(value, attr)
            continue
        try:  # a submodule not imported as an attribute yet
            value = importlib.import_module(".".join([module, *attrs[: i + 1]]))
        except ImportError:
            return False
    return True


def assert_mlx_names_exist(source: str) -> None:
    """Generated code never names an MLX attribute that doesn't exist, on any branch (a file
    can load and still hold one on a path the example inputs don't take)."""
    refs = _mlx_references(source)
    missing = sorted(text for text, dotted in refs.items() if not _resolves(dotted))
    assert not missing, f"generated code names MLX attributes that don't exist: {missing}"


class Lambda(torch.nn.Module):
    """Wrap a function of tensors as a module (for op-level tests)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: torch.Tensor) -> Any:
        return self.fn(*args)


class AfterConv(torch.nn.Module):
    """``fn`` applied to a 1x1 convolution's output: exercises the channels-last layout."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 1)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> Any:
        return self.fn(self.conv(x))


def assert_roundtrip(
    model: torch.nn.Module, conv: fx2mlx.Conversion, inputs: tuple, folder: Path
) -> Any:
    """Save ``conv``, load it strict from its safetensors, load the raw torch state_dict
    through the generated ``sanitize()`` (strict), and check both against torch."""
    conv.save(folder)
    generated = load_generated(folder)  # load() is strict
    fresh = type(generated)()
    raw = {k: to_mlx(v) for k, v in model.state_dict().items()}
    fresh.load_weights(list(fresh.sanitize(raw).items()), strict=True)
    fresh.eval()
    fresh.freeze()  # MLX's own machinery still works (no attribute took its place)
    fresh.unfreeze()
    for mlx_model in (generated, fresh):
        expected, got = run_both(model, mlx_model, inputs)
        checks = compare(expected, got, rtol=1e-4, atol=1e-3)
        assert checks and all(c.ok for c in checks), f"{checks}\n--- generated ---\n{conv.source}"
    return generated


def assert_op_converts(fn: Any, inputs: tuple, targets: set[object], fresh: int = 2) -> None:
    model = fn if isinstance(fn, nn.Module) else Lambda(fn)
    graph = capture(model.eval(), inputs, is_layer, "export").graph
    found = {n.target for n in graph.nodes if n.op == "call_function"}
    assert targets & found, f"none of {targets} in {sorted(map(str, found))}"
    assert targets <= set(OPS)
    assert_converts(model, inputs, fresh=fresh)


def ints(*shape: int, hi: int = 16) -> torch.Tensor:
    return torch.randint(-hi, hi, shape)


def bools(*shape: int) -> torch.Tensor:
    return torch.rand(shape) > 0.5


def imported_modules(source: str) -> set[str]:
    """Top-level package of every import in ``source`` (relative imports are a failure)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in generated code"
            found.add((node.module or "").split(".")[0])
    return found


def assert_only_mlx_and_stdlib(source: str) -> None:
    """Generated code imports ``mlx`` and the standard library, nothing else."""
    foreign = {
        m for m in imported_modules(source) if m != "mlx" and m not in sys.stdlib_module_names
    }
    assert not foreign, f"generated code imports {sorted(foreign)}"
    assert "mlx" in imported_modules(source)
