"""The validator can't be fooled (issue 9): dtypes, exact integers, NaN/inf, one bad element,
half precision, input copies, and which input sets were used."""

from __future__ import annotations

import json

import mlx.core as mx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fx2mlx
from fx2mlx.emit_ctx import _DTYPES
from fx2mlx.tensors import MLX_DTYPES
from fx2mlx.validate import compare, load_generated

from .helpers import Lambda

RTOL, ATOL = 1e-4, 1e-3  # the defaults: never loosen


def _check(ref: torch.Tensor, out: mx.array) -> fx2mlx.report.OutputCheck:
    checks = compare(ref, out, RTOL, ATOL)
    assert len(checks) == 1
    return checks[0]


# -- dtypes -------------------------------------------------------------------------------


def test_an_int64_output_that_comes_back_float32_fails() -> None:
    ids = torch.arange(10)
    check = _check(ids, mx.array(ids.numpy()).astype(mx.float32))
    assert not check.ok and "dtype float32, expected int64" in check.problem


def test_a_float16_output_computed_in_float32_fails() -> None:
    x = torch.randn(4, 5).half()
    check = _check(x, mx.array(x.float().numpy()))
    assert not check.ok and "dtype float32, expected float16" in check.problem


def test_float64_is_expected_as_float32_as_the_generated_code_casts() -> None:
    x = torch.randn(3, 4, dtype=torch.float64)
    assert _check(x, mx.array(x.float().numpy())).ok
    # one table: what validation expects is what emit writes for a cast
    for dtype, spelled in _DTYPES.items():
        assert getattr(mx, spelled.removeprefix("mx.")) == MLX_DTYPES[dtype]


# -- integers and booleans are exact ------------------------------------------------------


def test_token_ids_three_off_by_seven_fail_with_their_places() -> None:
    ids = torch.randint(0, 50_000, (4, 64), generator=torch.Generator().manual_seed(0))
    wrong = ids.clone()
    for place in [(0, 3), (1, 40), (3, 63)]:
        wrong[place] += 7
    check = _check(ids, mx.array(wrong.numpy()))
    assert not check.ok and "3 of 256 values differ" in check.problem
    assert sorted(tuple(w.index) for w in check.worst) == [(0, 3), (1, 40), (3, 63)]


def test_a_boolean_output_with_one_flipped_value_fails() -> None:
    mask = torch.rand(100) > 0.5
    flipped = mask.clone()
    flipped[17] = ~flipped[17]
    assert not _check(mask, mx.array(flipped.numpy())).ok


INT_DIVISIONS = {
    "trunc": lambda a, b: torch.div(a, b, rounding_mode="trunc"),
    "trunc_by_scalar": lambda a, b: torch.div(a, -3, rounding_mode="trunc"),
    "floor": lambda a, b: torch.div(a, b, rounding_mode="floor"),
    "floor_divide": torch.floor_divide,
}


@pytest.mark.parametrize("name", INT_DIVISIONS)
def test_integer_division_is_exact_in_int64(name: str) -> None:
    model = Lambda(INT_DIVISIONS[name])
    a, b = torch.tensor([2**30 + 1, -7, 7, -9, 2**40 + 3]), torch.tensor([1, 2, -2, -4, 3])
    conv = fx2mlx.convert(model, (a, b))
    result = conv.validate([(a, b)])
    assert result.ok, result.table()
    got = _run_generated(conv, (a, b))
    assert got.dtype == mx.int64
    assert np.array_equal(np.array(got), model(a, b).numpy())


def _run_generated(conv: fx2mlx.Conversion, inputs: tuple) -> mx.array:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        conv.save(Path(folder) / "out")
        generated = load_generated(Path(folder) / "out")
        return generated(*(mx.array(x.numpy()) for x in inputs))


# -- each side gets its own inputs ----------------------------------------------------------


class _AddInPlace(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.add_(1)
        return x * 3


def test_a_model_writing_its_input_sees_the_same_input_on_both_sides() -> None:
    x = torch.randn(2, 5)
    before = x.clone()
    conv = fx2mlx.convert(_AddInPlace(), (x.clone(),))
    result = conv.validate([(x,)])
    assert result.ok, result.table()  # MLX saw x, not x + 1 left behind by torch's forward
    assert torch.equal(x, before)  # and the caller's tensor is untouched


# -- NaN and inf -------------------------------------------------------------------------------


def test_matching_inf_and_nan_pass_and_are_left_out_of_the_error() -> None:
    model = Lambda(lambda x: torch.log(torch.relu(x)) + torch.sqrt(x - 1))
    conv = fx2mlx.convert(model, (torch.randn(4, 6),))
    result = conv.validate()
    assert result.ok, result.table()
    assert result.outputs[0].nonfinite > 0 and np.isfinite(result.max_abs)


def test_masked_attention_scores_match_in_place_and_kind() -> None:
    def scores(q: torch.Tensor) -> torch.Tensor:
        s = q @ q.transpose(-1, -2)
        causal = torch.ones(s.shape[-2:], dtype=torch.bool).triu(1)
        return s.masked_fill(causal, float("-inf"))

    result = fx2mlx.convert(Lambda(scores), (torch.randn(2, 5, 4),)).validate()
    assert result.ok, result.table()


@pytest.mark.parametrize(
    "got", [[1.0, float("inf"), 3.0], [1.0, float("nan"), 3.0], [1.0, 2.0, float("-inf")]]
)
def test_nonfinite_values_of_another_kind_or_place_fail(got: list[float]) -> None:
    check = _check(torch.tensor([1.0, float("-inf"), 3.0]), mx.array(got))
    assert not check.ok and "NaN/inf" in check.problem


# -- elementwise -------------------------------------------------------------------------------


def test_a_small_wrong_element_beside_large_correct_ones_fails() -> None:
    ref = torch.cat([torch.full((1000,), 1000.0), torch.tensor([1.0])])
    got = ref.clone()
    got[-1] = 1.5  # 50% off; the norm (3e-5 of it) and the max scaled by 1000 both hide it
    check = _check(ref, mx.array(got.numpy()))
    assert not check.ok and "element(s) beyond atol + rtol" in check.problem
    assert check.worst[0].index == [1000] and check.worst[0].mlx == 1.5


def test_the_table_states_each_check_and_its_scale() -> None:
    result = fx2mlx.convert(nn.Linear(4, 3), (torch.randn(2, 4),)).validate()
    text = result.table()
    assert "atol·max(1, max|torch|)" in text and "atol + rtol·|torch|" in text
    assert "atol unscaled" in text


# -- half precision ------------------------------------------------------------------------


class _HalfBlock(nn.Module):
    """Attention, a norm and an MLP: the ops a half-precision model is made of."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv, self.norm = nn.Linear(16, 48), nn.LayerNorm(16)
        self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        x = self.norm(x + F.softmax(q @ k.transpose(-1, -2) / 4, dim=-1) @ v)
        return x + self.mlp(x)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_model_validates_at_its_documented_tolerance(dtype: torch.dtype) -> None:
    model = _HalfBlock().to(dtype)
    result = fx2mlx.convert(model, (torch.randn(2, 6, 16, dtype=dtype),)).validate()
    assert result.ok, result.table()
    out = result.outputs[0]
    eps = torch.finfo(dtype).eps
    assert out.dtype == out.mlx_dtype == str(dtype).split(".")[-1]
    assert (out.rtol, out.atol) == (8 * eps, 8 * eps)  # README's table


def test_half_tolerance_is_a_few_ulps_not_a_blanket() -> None:
    x = torch.linspace(1, 2, 50).half()
    off = (x.float() * (1 + 16 * torch.finfo(torch.float16).eps)).half()  # 16 ulps
    assert not _check(x, mx.array(off.numpy())).ok
    near = (x.float() * (1 + 2 * torch.finfo(torch.float16).eps)).half()
    assert _check(x, mx.array(near.numpy())).ok


def test_a_float32_output_of_a_float16_model_gets_the_float16_tolerance() -> None:
    model = nn.Sequential(nn.Linear(8, 8), nn.Tanh()).half()
    wrapped = Lambda(lambda x: model(x).float())
    wrapped.inner = model  # the weights are the model's: they set its precision
    result = fx2mlx.convert(wrapped, (torch.randn(3, 8).half(),)).validate()
    assert result.ok, result.table()
    assert result.outputs[0].dtype == "float32"
    assert result.outputs[0].rtol == 8 * torch.finfo(torch.float16).eps


def test_bfloat16_inputs_and_outputs_validate() -> None:
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU()).to(torch.bfloat16)
    conv = fx2mlx.convert(model, (torch.randn(3, 8, dtype=torch.bfloat16),))
    sets = [conv.inputs, (torch.randn(5, 8, dtype=torch.bfloat16),)]
    result = conv.validate(sets)
    assert result.ok, result.table()
    assert result.outputs[0].mlx_dtype == "bfloat16"


# -- input sets ------------------------------------------------------------------------------


class _Masked(nn.Module):
    """x[B, T, 8] with a mask[T, T]: only the batch is dynamic (float inputs)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (x @ x.transpose(-1, -2)) * mask


def test_the_fresh_set_resizes_the_batch_of_x_and_leaves_the_mask() -> None:
    x, mask = torch.randn(2, 5, 8), torch.randn(5, 5)
    conv = fx2mlx.convert(_Masked(), (x, mask))
    fresh = conv.validation_inputs()[1]
    assert fresh[0].shape[0] != 2 and fresh[0].shape[1:] == (5, 8)
    assert fresh[1].shape == (5, 5)
    result = conv.validate()
    assert result.ok, result.table()


def test_every_validation_names_its_input_sets() -> None:
    conv = fx2mlx.convert(_Masked(), (torch.randn(2, 5, 8), torch.randn(5, 5)))
    result = conv.validate()
    assert result.input_sets[0] == "example: (2, 5, 8) float32, (5, 5) float32"
    assert result.input_sets[1].startswith("fresh random, dynamic dims resized: (")
    assert all(s in result.table() for s in result.input_sets)
    manifest = json.loads(json.dumps(conv.manifest()))
    assert manifest["report"]["validation"]["input_sets"] == result.input_sets
    given = conv.validate([conv.inputs])
    assert given.input_sets == ["given set 1: (2, 5, 8) float32, (5, 5) float32"]


def test_a_failing_row_names_the_input_set_it_failed_on() -> None:
    model = Lambda(lambda x: x.argmax(-1))
    conv = fx2mlx.convert(model, (torch.randn(3, 7),))
    conv.source = conv.source.replace("mx.argmax(", "mx.argmin(")  # a wrong conversion
    result = conv.validate()
    assert not result.ok
    assert result.outputs[0].inputs in result.input_sets
    assert "values differ" in result.table()


def test_the_readme_states_the_tolerance_table_the_code_uses() -> None:
    from pathlib import Path

    from fx2mlx.compare import tolerance_for

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for dtype in (torch.float16, torch.bfloat16):
        tol = tolerance_for(dtype, 0.0, 0.0)
        name, eps = str(dtype).split(".")[-1], torch.finfo(dtype).eps
        row = f"| {name} | {_e(eps)} | max(rtol, {_e(tol.rtol)}) | max(atol, {_e(tol.atol)}) |"
        assert row in readme
    assert tolerance_for(torch.float32, RTOL, ATOL) == tolerance_for(torch.float64, RTOL, ATOL)


def _e(x: float) -> str:
    return f"{x:.2e}".replace("e-0", "e-")  # README's spelling: 9.77e-4
