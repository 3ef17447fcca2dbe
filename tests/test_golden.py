"""Golden files: the generated code of every bundled example, reviewed by humans.

``pytest --update-golden`` rewrites them; otherwise any drift fails with a diff.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import json
from pathlib import Path

import black
import mlx.core as mx
import pytest

import fx2mlx
from fx2mlx.codegen.emit import BLACK_MODE
from fx2mlx.command import regenerate_command
from fx2mlx.examples import EXAMPLES
from fx2mlx.validate import validate_folder

from .helpers import assert_only_mlx_and_stdlib

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _conversion(name: str) -> fx2mlx.Conversion:
    module, attr = EXAMPLES[name].split(":")
    model, inputs = getattr(importlib.import_module(module), attr)()
    return fx2mlx.convert(model, inputs, command=regenerate_command(EXAMPLES[name], {}))


def _weights_manifest(weights: dict[str, mx.array]) -> str:
    rows = {
        k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("mlx.core.", "")}
        for k, v in sorted(weights.items())
    }
    return json.dumps(rows, indent=1) + "\n"


def _diff(old: str, new: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(True), new.splitlines(True), f"golden/{name}", "regenerated"
        )
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_golden(name: str, update_golden: bool, tmp_path: Path) -> None:
    conv = _conversion(name)
    folder = GOLDEN / name
    files = {"model.py": conv.source, "weights.json": _weights_manifest(conv.weights)}
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in files.items():
            (folder / file).write_text(text)
    for file, text in files.items():
        old = (folder / file).read_text() if (folder / file).exists() else ""
        assert old == text, f"golden drift (run pytest --update-golden):\n{_diff(old, text, file)}"
    source = (folder / "model.py").read_text()
    ast.parse(source)
    assert black.format_str(source, mode=BLACK_MODE) == source, "golden is not black-stable"
    assert_only_mlx_and_stdlib(source)
    # the committed file loads strictly with freshly converted weights and matches torch
    conv.save(tmp_path / "out")
    (tmp_path / "out" / "model.py").write_text(source)
    result = validate_folder(conv.model, tmp_path / "out", conv.validation_inputs())
    assert result.ok, result.table()
