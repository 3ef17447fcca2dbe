"""The generated root keeps forward()'s inputs: their order and the unused ones."""

from __future__ import annotations

import torch

from ..helpers import Lambda, assert_converts


def test_second_input_read_first() -> None:
    """Regression: the root's inputs once took first-use order (broke BertModel with a mask)."""
    assert_converts(Lambda(lambda a, b: a - (b + 1)), (torch.randn(3, 4), torch.randn(3, 4)))


def test_unused_input_kept_in_signature() -> None:
    """Regression: an input forward() never reads stays in the drop-in signature."""
    assert_converts(Lambda(lambda a, b: a * 2), (torch.randn(3, 4), torch.randn(2, 2)))
