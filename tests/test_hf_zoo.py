"""The Hugging Face zoo (``fx2mlx.examples.hf_zoo``): every architecture end to end.

Each converts with ``frontend="auto"``, matches torch on its example and on fresh inputs,
imports only mlx and the standard library, names no MLX attribute that doesn't exist, saves,
loads strict through its own ``load()`` and through ``sanitize`` on the torch state_dict, and
still has the status and frontend ``docs/zoo.json`` gives it. An architecture in ``BLOCKED``
must fail with fx2mlx's own error (strict xfail: it flips when the missing piece lands).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import fx2mlx
from fx2mlx.errors import Fx2MlxError

from .helpers import (
    assert_converts,
    assert_mlx_names_exist,
    assert_only_mlx_and_stdlib,
    assert_roundtrip,
)

pytest.importorskip("transformers")

from fx2mlx.examples.hf_zoo import BLOCKED, UNSANITIZED, ZOO  # noqa: E402 - needs transformers

DOC = Path(__file__).resolve().parents[1] / "docs" / "zoo.json"


def _documented(name: str) -> dict[str, Any]:
    rows = {row["name"]: row for row in json.loads(DOC.read_text())["rows"]}
    assert name in rows, "docs/zoo.json lacks it: run scripts/zoo_table.py"
    return rows[name]


def _param(name: str) -> Any:
    if name not in BLOCKED:
        return name
    why = pytest.mark.xfail(strict=True, raises=Fx2MlxError, reason=BLOCKED[name])
    return pytest.param(name, marks=why)


@pytest.mark.zoo
@pytest.mark.parametrize("name", [_param(n) for n in ZOO])
def test_zoo(name: str, tmp_path: Path) -> None:
    model, inputs = ZOO[name].make()
    conv = assert_converts(model, inputs)  # example + fresh inputs, project tolerance
    assert_only_mlx_and_stdlib(conv.source)
    if name in UNSANITIZED:  # load() works; sanitize on a torch checkpoint misses keys
        with pytest.raises(ValueError, match="Missing .*parameters"):
            assert_roundtrip(model, conv, inputs, tmp_path / "out")
    else:
        assert_roundtrip(model, conv, inputs, tmp_path / "out")  # load() and sanitize, strict
    row = _documented(name)
    stale = "docs/zoo.md is stale: run scripts/zoo_table.py"
    assert row["status"] == "pass", stale
    assert row["frontend"] == conv.report.frontend, stale
    analysis = fx2mlx.analyze(model, inputs)
    assert analysis.converts and analysis.frontend == conv.report.frontend
    assert analysis.generated is not None
    assert analysis.generated.classes == conv.report.classes
    assert analysis.verdict == row["analyze"], stale


@pytest.mark.zoo
@pytest.mark.parametrize("name", list(BLOCKED))
def test_analyze_names_what_blocks(name: str) -> None:
    """``fx2mlx analyze`` on an architecture that can't convert: a verdict, never a crash."""
    model, inputs = ZOO[name].make()
    analysis = fx2mlx.analyze(model, inputs)
    assert not analysis.converts and analysis.verdict.startswith("blocked by")
    assert analysis.verdict == _documented(name)["analyze"]


def test_rows_document_the_reasons_the_tests_give() -> None:
    """A blocked row gives the xfail's reason; a row whose checkpoints sanitize can't load
    alone says why."""
    for name, why in BLOCKED.items():
        row = _documented(name)
        assert (row["status"], row["reason"]) == ("xfail", why)
    for name in ZOO:
        assert _documented(name)["sanitize"] == UNSANITIZED.get(name, "")


@pytest.mark.zoo
def test_zoo_factories_convert_from_the_command_line(tmp_path: Path) -> None:
    from fx2mlx.cli import main

    target = ZOO["resnet"].target
    assert main(["convert", target, "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.py").is_file()


def test_mlx_name_check_can_fail() -> None:
    """``assert_converts`` runs this on every file the test suite generates: a parametrized
    conv once became ``nn.ParametrizedConv1d``, which MLX lacks."""
    ok = "import mlx.core as mx\nimport mlx.nn as nn\nx = nn.Conv1d(1, 1, 1)(mx.fast.rms_norm)\n"
    assert_mlx_names_exist(ok)
    for bad in ("nn.ParametrizedConv1d", "mx.fast.no_such_kernel", "mx.linalg.nope"):
        source = f"import mlx.core as mx\nimport mlx.nn as nn\ny = {bad}(1)\n"
        with pytest.raises(AssertionError, match=bad.replace(".", r"\.")):
            assert_mlx_names_exist(source)


def test_registry_is_complete() -> None:
    """Thirty-odd architectures across four families, each with a one-line summary."""
    families = {entry.family for entry in ZOO.values()}
    assert families == {"text", "vision", "audio", "multimodal"}
    assert len(ZOO) - len(BLOCKED) >= 30
    assert all(entry.summary for entry in ZOO.values())
    assert set(BLOCKED) <= set(ZOO)
