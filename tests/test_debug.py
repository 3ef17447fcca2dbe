"""``fx2mlx debug`` / ``Conversion.debug``: a deliberately wrong converter, registered through
the public ``register_op``, is found: the module that uses it, the op, the generated line and
the user's line. A right one reports no divergence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import fx

import fx2mlx
from fx2mlx.cli import main
from fx2mlx.converters.registry import LAYERS, OPS, Ctor
from fx2mlx.emit_ctx import EmitCtx
from fx2mlx.expr import ADD, MUL, Expr
from fx2mlx.layout import elementwise
from tests.fixtures import debug_models as dm

ROOT = Path(__file__).resolve().parents[1]
OP = torch.ops.fx2mlx_debug.shift.default
NESTED = "tests.fixtures.debug_models:make_nested"


def _register(factor: str) -> None:
    @fx2mlx.register_op(OP, layout=elementwise)
    def shift(node: fx.Node, ctx: EmitCtx) -> Expr:
        return Expr(f"{ctx.a('x', MUL)} * {factor} + {ctx.a('by', MUL)}", ADD)


@pytest.fixture
def wrong() -> Iterator[None]:
    """``x * 2.1 + by`` for ``x * 2 + by``: slightly wrong; unregistered afterwards."""
    _register("2.1")
    try:
        yield
    finally:
        OPS.pop(OP, None)


@pytest.fixture
def right() -> Iterator[None]:
    _register("2")
    try:
        yield
    finally:
        OPS.pop(OP, None)


@pytest.fixture
def registry() -> Iterator[None]:
    """Whatever a test registers goes again."""
    ops, layers = dict(OPS), dict(LAYERS)
    try:
        yield
    finally:
        OPS.clear()
        OPS.update(ops)
        LAYERS.clear()
        LAYERS.update(layers)


def _convert(model: torch.nn.Module, *shape: int, seed: int = 0) -> fx2mlx.Conversion:
    torch.manual_seed(seed)
    return fx2mlx.convert(dm.randomized(model, seed), torch.randn(*shape))


def test_wrong_converter_is_named(wrong: None) -> None:
    conv = _convert(dm.Nested(), 2, 8)
    validation = conv.validate()
    assert not validation.ok
    result = conv.debug()
    assert result.diverges and result.first is not None and result.op is not None
    assert result.first.path == "blocks.1" and result.first.module == "Block"
    assert result.op.op == "fx2mlx_debug.shift.default"
    lines = conv.source.splitlines()
    assert lines[result.op.generated_line - 1].strip() == result.op.generated_text
    assert "* 2.1 + 0.25" in result.op.generated_text  # the wrong converter's own text
    assert result.op.user_file.endswith("debug_models.py")
    assert result.op.user_text == "h = shift(h, 0.25)"
    assert result.op.max_abs > 0.01
    # blocks.0 and the layers before the op match; blocks.1.norm only got a wrong input
    status = {m.path: m.status for m in result.modules}
    assert status["blocks.0"] == status["blocks.1.fc"] == "ok"
    summary = result.summary()
    assert summary.startswith("[fx2mlx] first divergence: blocks.1 (Block)")
    assert 'debug_models.py:43 "h = shift(h, 0.25)"' in summary
    assert validation.finding.startswith("[fx2mlx] first divergence: blocks.1 (Block), op")


def test_right_converter_reports_no_divergence(right: None) -> None:
    conv = _convert(dm.Nested(), 2, 8, seed=1)
    assert conv.validate().ok and conv.report.validation.finding == ""
    result = conv.debug((torch.randn(5, 8),))  # other inputs, another batch size
    assert not result.diverges and result.op is None
    assert {m.status for m in result.modules} == {"ok"}
    assert [m.path for m in result.modules][-1] == ""  # the model itself finishes last
    assert "finding" not in conv.manifest()["report"]["validation"]


def test_module_called_twice_is_compared_call_by_call(right: None) -> None:
    result = _convert(dm.Twice(), 3, 8).debug()
    calls = [(m.path, m.call, m.status) for m in result.modules if m.path == "shared"]
    assert calls == [("shared", 0, "ok"), ("shared", 1, "ok")]


def test_module_called_twice_names_its_first_call(wrong: None) -> None:
    result = _convert(dm.Twice(), 3, 8).debug()
    assert result.first is not None and result.op is not None
    assert (result.first.path, result.first.call) == ("shared", 0)
    assert result.op.op == "fx2mlx_debug.shift.default"


def test_channels_last_modules_compare_in_torch_layout(right: None) -> None:
    conv = _convert(dm.ConvNet(), 2, 3, 8, 8)
    assert "transpose(0, 2, 3, 1)" in conv.source  # the conv stack runs channels-last
    result = conv.debug()
    status = {m.path: m.status for m in result.modules}
    assert status["conv1"] == status["bn"] == status["conv2"] == "ok"
    assert status["act"] == "skipped"  # inlined into the model's own call
    assert not result.diverges


def test_channels_last_op_is_found_inside_an_inlined_module(wrong: None) -> None:
    result = _convert(dm.ConvNet(), 2, 3, 8, 8).debug()
    assert result.op is not None and result.first is not None
    assert result.op.op == "fx2mlx_debug.shift.default"
    assert result.op.module == "act (Shifted)"
    assert result.op.user_text == "return shift(x, -0.5)"
    assert {m.path: m.status for m in result.modules}["bn"] == "ok"


@pytest.fixture
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_cli_json_holds_the_finding(wrong: None, _cwd: None, capsys: pytest.CaptureFixture) -> None:
    assert main(["debug", NESTED, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert data["diverges"] is True
    assert data["first_module"]["path"] == "blocks.1"
    assert data["first_op"]["op"] == "fx2mlx_debug.shift.default"
    assert data["first_op"]["user_text"] == "h = shift(h, 0.25)"
    assert data["summary"].startswith("[fx2mlx] first divergence: blocks.1 (Block)")
    assert [m["path"] for m in data["modules"]][-1] == ""


def test_cli_text_and_exit_codes(right: None, _cwd: None, capsys: pytest.CaptureFixture) -> None:
    assert main(["debug", NESTED, "-q"]) == 0
    out = capsys.readouterr().out
    assert "no divergence" in out and "blocks.1.norm" in out
    assert main(["debug", "tests.fixtures.debug_models:nothing_here"]) == 2
    assert capsys.readouterr().err.startswith("[fx2mlx]")
    assert main(["debug", NESTED, "--rtol", "-1"]) == 2


def test_convert_prints_the_finding(
    wrong: None, _cwd: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["convert", NESTED, "-o", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "[fx2mlx] first divergence: blocks.1 (Block), op fx2mlx_debug.shift.default" in err
    manifest = json.loads((tmp_path / "out" / "fx2mlx.json").read_text())
    assert manifest["report"]["validation"]["finding"].startswith("[fx2mlx] first divergence")


def test_a_failing_debugger_never_hides_the_validation(
    wrong: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fx2mlx.debug

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fx2mlx.debug, "debug_generated", broken)
    validation = _convert(dm.Nested(), 2, 8).validate()
    assert not validation.ok
    assert validation.finding.startswith("[fx2mlx] debug could not locate the divergence")


def test_dropped_outputs_are_matched_by_shape() -> None:
    """A generated call returns only what its caller reads: one of torch's two outputs."""
    result = _convert(dm.DropsAux(), 3, 8).debug()
    inner = next(m for m in result.modules if m.path == "inner")
    assert inner.status == "ok" and inner.note == "1 of 2 outputs compared"
    assert not result.diverges


def test_wrong_layer_converter_is_named(registry: None) -> None:
    """A layer mapped to the wrong MLX layer: the finding is the layer's call itself."""

    @fx2mlx.register_layer(dm.Doubler, "nn.ReLU", layout=elementwise)
    def build_doubler(layer: dm.Doubler) -> Ctor:
        return Ctor("nn.ReLU", [])

    conv = _convert(dm.WithLayer(), 4, 8)
    assert "self.acts = [nn.ReLU()]" in conv.source
    result = conv.debug()
    assert result.first is not None and result.op is not None
    assert (result.first.path, result.first.status) == ("acts.0", "diverges")
    assert result.op.op == "nn.ReLU" and result.op.module == "acts.0 (Doubler)"
    assert "self.acts[0](" in result.op.generated_text
    assert result.op.user_text == "return self.acts[0](self.fc(x)) + 1"


def test_channels_last_io(right: None) -> None:
    torch.manual_seed(0)
    model = dm.randomized(dm.ConvNet())
    conv = fx2mlx.convert(model, torch.randn(2, 3, 8, 8), channels_last_io=True)
    result = conv.debug()
    assert not result.diverges
    assert {m.path: m.status for m in result.modules}[""] == "ok"


def test_torchscript_model_compares_its_outputs(right: None) -> None:
    """A scripted model's modules take no hooks: its own outputs are still compared."""
    torch.manual_seed(0)
    scripted = torch.jit.script(dm.randomized(dm.Nested()))
    result = fx2mlx.convert(scripted, torch.randn(2, 8)).debug()
    assert [(m.path, m.status) for m in result.modules] == [("", "ok")]
    assert not result.diverges


def test_torchscript_model_op_is_found(wrong: None) -> None:
    """Its layers run on their own in the op search (no recorded outputs)."""
    torch.manual_seed(0)
    scripted = torch.jit.script(dm.randomized(dm.Nested()))
    result = fx2mlx.convert(scripted, torch.randn(2, 8)).debug()
    assert result.first is not None and result.first.path == ""
    assert result.op is not None and result.op.op == "fx2mlx_debug.shift.default"


def test_bad_inputs_are_a_clear_error(right: None) -> None:
    conv = _convert(dm.Nested(), 2, 8)
    with pytest.raises(fx2mlx.Fx2MlxError, match=r"^\[fx2mlx\] example input 0 is a str"):
        conv.debug(("x",))  # type: ignore[arg-type]


def test_sequential_model_keeps_its_own_paths(wrong: None) -> None:
    """A top-level ``nn.Sequential`` is held as ``self.layers`` in the generated class; the
    paths reported are the user's (``0``, ``2``), not the generated attribute's."""
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), dm.Shifted(), torch.nn.Linear(8, 4))
    result = _convert(model, 2, 8).debug()
    assert [m.path for m in result.modules] == ["0", "1", "2", ""]
    assert result.op is not None and result.op.module == "1 (Shifted)"
    assert result.first is not None and result.first.path == ""


def test_a_bundled_model_with_a_sabotaged_builtin_op(registry: None) -> None:
    """fx2mlx's own relu converter replaced (through register_op) by one 5% off: the example
    VAD net's first relu, inside its channels-last conv stack, is named."""
    from fx2mlx.examples.vad import make_vad

    relu = torch.ops.aten.relu.default
    right_relu = OPS.pop(relu)

    @fx2mlx.register_op(relu, layout=right_relu.layout)
    def wrong_relu(node: fx.Node, ctx: EmitCtx) -> Expr:
        return Expr(f"{right_relu.emit(node, ctx).text} * 1.05", MUL)

    model, inputs = make_vad()
    conv = fx2mlx.convert(model, inputs)
    result = conv.debug()
    assert result.op is not None and result.first is not None
    assert result.first.path == "" and result.op.op == "aten.relu.default"
    assert result.op.generated_text == "x = self.pool(nn.relu(self.conv1(x)) * 1.05)"
    assert {m.path: m.status for m in result.modules}["conv1"] == "ok"
