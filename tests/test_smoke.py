"""End-to-end smoke tests on tiny models (both frontends)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from .helpers import Lambda, assert_converts


@pytest.mark.parametrize("frontend", ["export", "fx"])
def test_mlp(frontend: str) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    conv = assert_converts(model, torch.randn(3, 4), frontend=frontend)
    assert conv.report.frontend == frontend


def test_dynamic_batch_runs_at_other_batch_sizes() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    conv = assert_converts(model, torch.randn(2, 3, 8, 8), fresh=0)
    assert conv.report.dynamic_batch
    result = conv.validate([(torch.randn(5, 3, 8, 8),), (torch.randn(1, 3, 8, 8),)])
    assert result.ok, result.table()


def test_elementwise_lambda() -> None:
    assert_converts(Lambda(lambda a, b: torch.relu(a) * b + 1.0), (torch.randn(2, 3), torch.randn(2, 3)))


@pytest.mark.parametrize("name", ["vad_cnn", "resnet18", "transformer"])
def test_examples_through_the_fx_frontend(name: str) -> None:
    import importlib

    from fx2mlx.examples import EXAMPLES

    module, attr = EXAMPLES[name].split(":")
    model, inputs = getattr(importlib.import_module(module), attr)()
    conv = assert_converts(model, inputs, frontend="fx")
    assert conv.report.frontend == "fx"
    if name != "transformer":  # fx keeps the whole module structure: same file as export
        import fx2mlx

        assert conv.source == fx2mlx.convert(model, inputs, frontend="export").source
