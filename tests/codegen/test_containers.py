"""Containers and repeated children: named Sequential children, a list item called twice,
an optional child whose calls don't start at its own input node."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from ..helpers import assert_converts, assert_roundtrip

FRONTENDS = ["export", "fx"]


class DenseLayer(nn.Sequential):
    """A Sequential subclass that names its children, as DenseNet's layers do."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(channels))
        self.add_module("relu1", nn.ReLU())
        self.add_module("conv1", nn.Conv2d(channels, channels, 3, padding=1))


class NamedFeatures(nn.Module):
    """``features`` is a Sequential of named children, one of them a numbered Sequential."""

    def __init__(self) -> None:
        super().__init__()
        numbered = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())
        self.features = nn.Sequential(
            OrderedDict(conv0=nn.Conv2d(3, 4, 3), norm0=nn.BatchNorm2d(4), relu0=nn.ReLU())
        )
        self.features.add_module("dense", DenseLayer(4))
        self.features.add_module("tail", numbered)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def _randomize_stats(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_sequential_with_named_children(frontend: str, tmp_path: Path) -> None:
    """Named children are attributes (``self.features.conv0``), numbered ones list items."""
    model = _randomize_stats(NamedFeatures())
    inputs = (torch.randn(2, 3, 8, 8),)
    conv = assert_converts(model, inputs, frontend=frontend)
    assert "self.features.conv0 = nn.Conv2d" in conv.source
    assert "self.features.dense.conv1 = nn.Conv2d" in conv.source
    assert "self.features.tail = [nn.Conv2d" in conv.source
    assert_roundtrip(model, conv, inputs, tmp_path / "out")


class SharedLayer(nn.Module):
    """One layer in a list, called twice (ALBERT shares its layer group across depth)."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.groups = nn.ModuleList([nn.Linear(8, 8)])
        self.calls = calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.calls):
            x = self.groups[0](x)
        return x


@pytest.mark.parametrize("calls", [2, 3])
def test_list_item_called_repeatedly_is_no_loop_over_the_list(calls: int) -> None:
    conv = assert_converts(SharedLayer(calls), torch.randn(2, 8))
    assert "for layer in self.groups" not in conv.source


class Merge(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.reduction = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduction(self.norm(x))


class Stage(nn.Module):
    """``downsample`` is a two-layer child in one instance and None in the other (Swin)."""

    def __init__(self, down: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.downsample = Merge() if down else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x) + x
        if self.downsample is not None:
            x = self.downsample(x)
        return x


class Stages(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleList([Stage(True), Stage(False)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        return x


def test_optional_child_whose_output_reads_its_own_nodes() -> None:
    """The call's output node reads the child's inner nodes, not the call's input."""
    conv = assert_converts(Stages(), torch.randn(2, 3, 8))
    assert 'if "downsample" in self:\n            x = self.downsample(x)\n' in conv.source
