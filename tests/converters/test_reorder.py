"""Element reordering against torch: pixel_shuffle / pixel_unshuffle on PyTorch's layout and
inside channels-last conv stacks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ..helpers import Lambda, assert_converts


@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("lead", [(), (2,), (2, 3)], ids=str)
def test_pixel_shuffle(lead: tuple, factor: int) -> None:
    x = torch.randn(*lead, 2 * factor * factor, 4, 5)
    conv = assert_converts(nn.PixelShuffle(factor), x)
    assert "pixel_shuffle(x, " in conv.source


@pytest.mark.parametrize("factor", [1, 2, 3])
@pytest.mark.parametrize("lead", [(), (2,), (2, 3)], ids=str)
def test_pixel_unshuffle(lead: tuple, factor: int) -> None:
    assert_converts(nn.PixelUnshuffle(factor), torch.randn(*lead, 2, 4 * factor, 5 * factor))


class Upscale(nn.Module):
    """A super-resolution tail: conv, shuffle, conv; and an unshuffle stem."""

    def __init__(self, r: int) -> None:
        super().__init__()
        self.down = nn.PixelUnshuffle(r)
        self.conv1 = nn.Conv2d(3 * r * r, 4 * r * r, 3, padding=1)
        self.shuffle = nn.PixelShuffle(r)
        self.conv2 = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shuffle(self.conv1(x))
        return self.conv2(y), F.pixel_unshuffle(self.conv2(y), 2)


@pytest.mark.parametrize("r", [2, 3])
def test_pixel_shuffle_in_conv_stack_stays_channels_last(r: int) -> None:
    conv = assert_converts(Upscale(r), torch.randn(2, 3 * r * r, 4, 6))
    assert "channels_last=True" in conv.source
    assert conv.report.transposes == 3  # the input, and the two outputs


def test_pixel_unshuffle_then_conv() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.PixelUnshuffle(2), nn.Conv2d(16, 5, 1))
    conv = assert_converts(model, torch.randn(2, 3, 6, 8))
    assert conv.report.transposes == 2


def test_pixel_shuffle_functional_after_permute() -> None:
    fn = Lambda(lambda x: F.pixel_shuffle(x.permute(0, 3, 1, 2), 2))
    assert_converts(fn, torch.randn(2, 5, 6, 8))
