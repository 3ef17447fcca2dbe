"""``fx2mlx analyze``: the verdict, every blocker at once, exact sizes, stable JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import fx2mlx
from fx2mlx.cli import main
from fx2mlx.examples import EXAMPLES
from tests.fixtures import analyze_models

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(analyze_models.__file__)
THREE = "tests.fixtures.analyze_models:make_three"
ZOO = [f"fx2mlx.examples.zoo:make_{name}_tiny" for name in ("bert", "gpt2", "llama")]


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def analyze(*args: str) -> int:
    return main(["analyze", *args])


def _line_of(text: str) -> int:
    """The fixture's line holding ``text`` (so the test doesn't hard-code line numbers)."""
    lines = FIXTURE.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def _zoo(target: str) -> str:
    pytest.importorskip("transformers")
    return target


@pytest.mark.parametrize(
    "target",
    list(EXAMPLES.values()) + [pytest.param(t, marks=pytest.mark.zoo) for t in ZOO],
)
def test_bundled_examples_convert(target: str, capsys: pytest.CaptureFixture) -> None:
    if target in ZOO:
        _zoo(target)
    assert analyze(target, "-q") == 0
    out = capsys.readouterr().out
    verdict = out.strip().splitlines()[-1]
    assert verdict.startswith("verdict: converts"), out
    assert "export captures the model (analyzed below)" in out
    assert "unsupported: none" in out


def test_flagged_lines_are_the_lines_convert_comments(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The count in the verdict is the number of model.py lines with a baked-in comment."""
    target = "tests.fixtures.analyze_models:make_frames"
    assert analyze(target, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["convert", target, "-o", str(tmp_path / "t"), "-q", "--no-validate"]) == 0
    written = (tmp_path / "t" / "model.py").read_text().splitlines()
    commented = [i for i, line in enumerate(written, 1) if "when traced" in line]
    assert commented and data["flagged_lines"] == commented
    assert data["status"] == "flagged"
    n = len(commented)
    assert data["verdict"].startswith(f"converts with {n} flagged line{'s' if n > 1 else ''}")


def test_three_unsupported_ops_reported_at_once(capsys: pytest.CaptureFixture) -> None:
    assert analyze(THREE, "-q") == 2
    captured = capsys.readouterr()
    out = captured.out
    assert "Traceback" not in out + captured.err
    assert "unsupported: 3 op(s) or configuration(s)" in out
    for op, count in [("shrink", 2), ("warp", 1), ("twist", 1)]:
        assert f"  - fx2mlx_tests.{op}.default x{count}: no converter" in out
    assert "in module: block, <top>" in out  # shrink: inside Block and in the model itself
    for code in ("return shrink(self.fc(x))", "y = warp(self.block(x))"):
        assert f'analyze_models.py", line {_line_of(code)}, in forward | {code}' in out
    assert "Extending fx2mlx" in out
    assert out.strip().splitlines()[-1] == (
        "verdict: blocked by 3 unsupported op(s) or configuration(s): "
        "fx2mlx_tests.shrink.default, fx2mlx_tests.warp.default, fx2mlx_tests.twist.default"
    )


def test_api_reports_every_problem_with_paths_and_lines() -> None:
    model, inputs = analyze_models.make_three()
    result = fx2mlx.analyze(model, inputs)
    assert not result.converts and result.status == "blocked"
    found = {u.op: u for u in result.unsupported}
    assert {op: u.count for op, u in found.items()} == {
        "fx2mlx_tests.shrink.default": 2,
        "fx2mlx_tests.warp.default": 1,
        "fx2mlx_tests.twist.default": 1,
    }
    assert found["fx2mlx_tests.shrink.default"].module_paths == ["block", ""]
    twist = found["fx2mlx_tests.twist.default"].source_lines
    assert twist == [
        f'File "{FIXTURE}", line {_line_of("return twist(")}, in forward'
        " | return twist(self.head(shrink(y)))"
    ]
    assert result.generated is None and result.frontend == "export"


def test_untraceable_model_gets_a_verdict_not_a_traceback(capsys: pytest.CaptureFixture) -> None:
    assert analyze("tests.fixtures.models:DataDependent", "--input-shape", "2,3", "-q") == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and err == ""
    line = _line_in("tests/fixtures/models.py", "if x.sum() > 0:")
    for name in ("export", "fx"):
        assert re.search(rf"^  {name} +fails: \w+: ", out, re.M), out
    assert out.count(f"models.py:{line}: if x.sum() > 0:") == 2  # the user's line, each frontend
    verdict = out.strip().splitlines()
    assert verdict[-2] == "verdict: blocked by capture: could not trace the model with any frontend"
    assert verdict[-1].startswith("  hint: forward() branches or loops on tensor values")


def _line_in(path: str, text: str) -> int:
    lines = (ROOT / path).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_model_failing_on_its_inputs_says_so(capsys: pytest.CaptureFixture) -> None:
    """Inputs the model rejects (5 channels for a 3-channel conv) block it, with the error."""
    assert analyze("tests.fixtures.models:Tiny", "--input-shape", "2,5,8,8", "-q") == 2
    out = capsys.readouterr().out
    assert "verdict: blocked by capture: the model fails on these example inputs" in out
    assert "  RuntimeError: " in out and "hint: the example inputs don't fit the model" in out


def test_json_has_the_documented_keys(capsys: pytest.CaptureFixture) -> None:
    assert analyze(THREE, "--json") == 2
    data = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert set(data) == _documented_keys()
    assert data["schema"] == 1 and data["status"] == "blocked"
    assert [f["name"] for f in data["frontends"]] == ["export", "fx"]  # trace: only if needed
    assert set(data["frontends"][0]) == {"name", "ok", "error", "at"}
    assert set(data["unsupported"][0]) == {
        "op",
        "reason",
        "hint",
        "module_paths",
        "source_lines",
        "count",
    }
    assert data["layers"] == [
        {"type": "nn.Linear", "count": 2, "mlx": "nn.Linear", "as_mlx_layer": 2}
    ]


def _documented_keys() -> set[str]:
    """The keys README.md's table lists under "fx2mlx analyze" (first column, backticked)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### `fx2mlx analyze`", 1)[1].split("\n#", 1)[0]
    table = [row for row in section.splitlines() if row.startswith("| `")]
    return {key for row in table for key in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_sizes_by_dtype_are_exact(capsys: pytest.CaptureFixture) -> None:
    assert analyze("tests.fixtures.analyze_models:make_mixed", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"] == {
        "count": 23,
        "bytes": 76,
        "by_dtype": {"float16": {"count": 8, "bytes": 16}, "float32": {"count": 15, "bytes": 60}},
    }
    assert data["buffers"] == {
        "count": 8,
        "bytes": 64,
        "by_dtype": {"float64": {"count": 5, "bytes": 40}, "int64": {"count": 3, "bytes": 24}},
    }
    assert data["inputs"] == [{"shape": [2, 4], "dtype": "float32"}]


def test_text_sizes(capsys: pytest.CaptureFixture) -> None:
    assert analyze("tests.fixtures.analyze_models:make_mixed", "-q") == 0
    out = capsys.readouterr().out
    assert "parameters: 23 (76 B): float16 8 (16 B), float32 15 (60 B)" in out
    assert "buffers: 8 (64 B): float64 5 (40 B), int64 3 (24 B)" in out


def test_tied_parameters_count_once() -> None:
    lin = torch.nn.Linear(4, 4, bias=False)
    model = torch.nn.Sequential(lin, torch.nn.ReLU(), lin)
    result = fx2mlx.analyze(model, torch.randn(2, 4))
    assert result.parameters.count == 16 and result.converts
    assert [(k.type, k.count, k.mlx) for k in result.layers] == [
        ("nn.Linear", 1, "nn.Linear"),
        ("nn.ReLU", 1, "nn.ReLU"),
    ]


def test_analyze_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert analyze(f"{ROOT}/tests/fixtures/models.py:make_tiny", "-q") == 0
    assert list(tmp_path.iterdir()) == []


def test_same_errors_as_convert(capsys: pytest.CaptureFixture) -> None:
    """A bad target or input is an error (exit 2, one [fx2mlx] message), not a verdict."""
    for args, message in [
        (["tests.fixtures.models:missing"], "module 'tests.fixtures.models' has no attribute"),
        (["tests.fixtures.models:Tiny"], "gives no example inputs"),
        (["tests.fixtures.models:Tiny", "--input-shape", "1,a"], "malformed --input-shape"),
        (["tests.fixtures.models:Tiny", "--input-shape", "1,3,8,8", "--input-shape", "2"], "takes"),
    ]:
        assert analyze(*args, "-q") == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("[fx2mlx] ") and message in err, err
        assert "Traceback" not in err


def test_frontend_choice_decides_the_verdict(capsys: pytest.CaptureFixture) -> None:
    assert analyze("tests.fixtures.models:make_tiny", "--frontend", "fx", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frontend"] == "fx" and all(f["ok"] for f in data["frontends"])


def test_layer_histogram_counts_leaf_layers_only() -> None:
    """A layer fx2mlx converts whole counts once (not its children); the model itself counts
    only when it is such a layer."""
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.GELU())
    result = fx2mlx.analyze(model, torch.randn(2, 8))
    assert [k.type for k in result.layers] == ["nn.GELU", "nn.Linear"]
    assert [k.type for k in fx2mlx.analyze(mha, (torch.randn(2, 3, 8),) * 3).layers] == [
        "nn.MultiheadAttention"
    ]
    bare = fx2mlx.analyze(analyze_models.Bare(), torch.randn(2, 3))
    assert bare.layers == [] and bare.verdict == "converts cleanly"


def test_json_capture_failure(capsys: pytest.CaptureFixture) -> None:
    assert analyze("tests.fixtures.models:DataDependent", "--input-shape", "2,3", "--json") == 2
    data = json.loads(capsys.readouterr().out)
    failure = data["capture_failure"]
    assert failure["kind"] == "control_flow" and data["frontend"] is None
    assert failure["details"][0].startswith("  - export: ")
    assert all("\n" not in line for line in failure["details"])  # one line each
    assert data["generated"] is None and data["status"] == "blocked"


QUANT = "tests.fixtures.analyze_models:make_quantizable"


def test_quantize_lists_what_stays_float_and_why(capsys: pytest.CaptureFixture) -> None:
    assert analyze(QUANT, "--quantize", "4", "--group-size", "32", "-q") == 0
    out = capsys.readouterr().out
    assert "quantized (4 bits, groups of 32): 2 layer(s): embed, body" in out
    assert "stays float: 1 layer(s)\n  head (input width 48 is not a multiple of 32)\n" in out
    assert out.strip().endswith("verdict: converts cleanly")


@pytest.mark.parametrize(
    "flags",
    [["--quantize", "4", "--group-size", "32"], ["--quantize", "8", "--dtype", "bfloat16"]],
    ids=["q4-g32", "q8-bfloat16"],
)
def test_precision_plan_is_what_convert_does(
    flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The same layers quantized and kept float (same reasons), the same model.py lines."""
    assert analyze(QUANT, *flags, "--json") == 0
    data = json.loads(capsys.readouterr().out)
    out = tmp_path / "q"
    assert main(["convert", QUANT, "-o", str(out), "-q", "--no-validate", *flags]) == 0
    manifest = json.loads((out / "fx2mlx.json").read_text())
    written = (out / "model.py").read_text().splitlines()
    assert data["generated"]["lines"] == len(written)
    plan = data["precision"]
    assert manifest["report"]["quantized"] == plan["quantized"] == ["embed", "body"]
    assert manifest["report"]["float_layers"] == plan["float_layers"]
    assert (
        list(plan["float_layers"]) == ["head"]
        and "not a multiple of" in plan["float_layers"]["head"]
    )


def test_dtype_reports_the_weights_as_written(capsys: pytest.CaptureFixture) -> None:
    model, _ = analyze_models.make_quantizable()
    float_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    assert analyze(QUANT, "--dtype", "float16", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["precision"]["dtype"] == "float16" and data["precision"]["bits"] is None
    assert data["precision"]["weight_bytes"] * 2 == float_bytes
    assert data["parameters"]["bytes"] == float_bytes  # the model as given
    assert analyze(QUANT, "--json") == 0
    assert json.loads(capsys.readouterr().out)["precision"] is None


def test_quantize_on_a_blocked_model_plans_nothing(capsys: pytest.CaptureFixture) -> None:
    assert analyze(THREE, "--quantize", "8", "-q") == 2
    out = capsys.readouterr().out
    assert "quantized (8 bits, groups of 64): not planned, the model does not convert" in out


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--quantize", "3"], "argument --quantize: invalid choice: 3"),
        (["--dtype", "float64"], "argument --dtype: invalid choice: 'float64'"),
        (["--quantize", "4", "--group-size", "48"], "argument --group-size: invalid choice: 48"),
        (["--group-size", "32"], "--group-size applies to --quantize's groups"),
    ],
)
def test_bad_precision_options(
    flags: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    assert analyze(QUANT, *flags, "-q") == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("[fx2mlx] ") and message in err, err


def test_api_refuses_bad_precision_values() -> None:
    model, inputs = analyze_models.make_quantizable()
    with pytest.raises(fx2mlx.Fx2MlxError, match=r"^\[fx2mlx\] quantize must be 4 or 8"):
        fx2mlx.analyze(model, inputs, quantize=3)
    with pytest.raises(fx2mlx.Fx2MlxError, match=r"^\[fx2mlx\] group_size must be one of"):
        fx2mlx.analyze(model, inputs, quantize=4, group_size=48)
