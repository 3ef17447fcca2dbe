"""The trace frontend: models export and fx can't follow, recorded on the example inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import fx2mlx
from fx2mlx.capture import FRONTENDS
from fx2mlx.cli import main
from tests.fixtures.models import DataDependent
from tests.fixtures.ux_models import UsesNumpy
from tests.helpers import assert_converts

HERE = Path(__file__).name


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.proj(x)))


class Padded(nn.Module):
    """Trims the padding to the longest sequence, as many audio and text models do."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = self.longest(lengths)  # a read outside forward itself
        mask = torch.arange(steps)[None, :] < lengths[:, None]
        x = x[:, :steps]
        for block in self.blocks:
            x = block(x)
        return self.head(x) * mask[..., None]

    def longest(self, lengths: torch.Tensor) -> int:
        return int(lengths.max())


class SplitByLengths(nn.Module):
    """``.tolist()`` sizes and a Python loop over the pieces: fx and export can't."""

    def forward(self, x: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, sizes.tolist(), dim=1)
        return torch.stack([p.mean(1) for p in parts[: len(parts)]], 1)


def _line(text: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if text in line)


def _padded_sets() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Inputs where the specialized value holds: the longest length is 6 in each."""
    gen = torch.Generator().manual_seed(3)
    return [
        (torch.randn(3, 10, 8, generator=gen), torch.tensor(lengths))
        for lengths in ([4, 6, 3], [6, 1, 5], [2, 2, 6])
    ]


def test_trace_is_a_frontend() -> None:
    assert FRONTENDS == ("auto", "export", "fx", "trace")


def test_int_of_a_max_specializes_and_is_reported() -> None:
    model = Padded().eval()
    sets = _padded_sets()
    conv = fx2mlx.convert(model, sets[0], frontend="trace")
    assert conv.report.frontend == "trace"
    result = conv.validate(sets)
    assert result.ok, result.table()
    (read,) = [w for w in conv.report.warnings if w.startswith("trace: ")]  # no TorchScript's
    assert "int() of a tensor specialized to the example's value 6" in read
    assert f"{HERE}:{_line('return int(lengths.max())')}: return int(lengths.max())" in read
    assert "x[:, :6]" in conv.source  # the specialized value, written in
    assert "class Block(nn.Module)" in conv.source  # hierarchy kept: one class per module type
    assert "for layer in self.blocks" in conv.source and "Block2" not in conv.source


def test_auto_falls_back_to_trace_and_says_why() -> None:
    conv = fx2mlx.convert(Padded().eval(), _padded_sets()[0])
    assert conv.report.frontend == "trace"
    used = [w for w in conv.report.warnings if w.startswith("trace used: ")]
    assert [w.split(" failed ")[0] for w in used] == ["trace used: export", "trace used: fx"]


def test_analyze_tries_trace_when_export_and_fx_fail() -> None:
    analysis = fx2mlx.analyze(Padded().eval(), _padded_sets()[0])
    assert [(f.name, f.ok) for f in analysis.frontends] == [
        ("export", False),
        ("fx", False),
        ("trace", True),
    ]
    assert analysis.frontend == "trace" and analysis.converts
    assert any("int() of a tensor specialized" in w for w in analysis.warnings)
    plain = fx2mlx.analyze(Block().eval(), torch.randn(2, 8))
    assert [f.name for f in plain.frontends] == ["export", "fx"]  # no fallback needed


def test_a_specialization_off_the_example_is_caught_by_validation() -> None:
    conv = fx2mlx.convert(Padded().eval(), _padded_sets()[0], frontend="trace")
    other = (torch.randn(3, 10, 8), torch.tensor([4, 5, 3]))  # longest is 5, not 6
    assert not conv.validate([other]).ok


def test_tolist_sizes_and_repeated_reads() -> None:
    x, sizes = torch.randn(2, 9, 4), torch.tensor([2, 3, 4])
    conv = assert_converts(SplitByLengths(), (x, sizes), frontend="trace", fresh=0)
    reads = [w for w in conv.report.warnings if w.startswith("trace: ")]
    assert len(reads) == 1 and "tolist() of a tensor specialized" in reads[0]
    assert "[2, 3, 4]" in reads[0]


def test_branch_on_a_value_is_specialized_and_flagged() -> None:
    class Branch(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for _ in range(3):
                if x.sum() > 0:
                    x = x - 1
            return x * 2

    x = torch.full((2, 3), 2.0)
    conv = assert_converts(Branch(), x, frontend="trace", fresh=0)
    (read,) = [w for w in conv.report.warnings if w.startswith("trace: ")]
    assert "bool() of a tensor" in read and "(3 times)" in read and "if x.sum() > 0:" in read


def test_numpy_round_trip_is_flagged() -> None:
    conv = fx2mlx.convert(UsesNumpy(), torch.randn(2, 3), frontend="trace")
    assert any("numpy conversion of a tensor" in w for w in conv.report.warnings)


def test_data_dependent_sizes_are_refused() -> None:
    with pytest.raises(fx2mlx.Fx2MlxError) as err:
        fx2mlx.convert(DataDependent(), torch.randn(2, 3))
    text = str(err.value)
    assert "- trace: DataDependentSize: aten.index.Tensor gives a data-dependent size" in text
    assert "return x[x != 0]" in text


def test_cli_frontend_trace(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    target = f"{Path(__file__).with_name('fixtures') / 'trace_models.py'}:Trimmed"
    args = ["convert", target, "-o", str(tmp_path / "o"), "--frontend", "trace"]
    assert main([*args, "--input-shape", "2,8", "--no-validate"]) == 0
    out = capsys.readouterr()
    assert "frontend trace" in out.out + out.err
    assert "int() of a tensor specialized" in out.out + out.err
