"""The exact layout choice: the min-cut never needs more transposes than the greedy choice,
needs fewer where greedy is trapped, and the result still computes what torch does."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator

import pytest
import torch
from torch import fx, nn

import fx2mlx
import fx2mlx.passes.assign_layout as assign_layout
from fx2mlx.layout import channels_last, identity, rank_of
from fx2mlx.passes.assign_layout import exact_pick
from fx2mlx.passes.layout_cost import demand
from fx2mlx.passes.layout_flow import FlowGraph
from fx2mlx.passes.layout_plan import plan_layout

from .fixtures.layout_models import MODELS
from .fixtures.layout_traps import GREEDY_TRAPS
from .helpers import assert_converts
from .test_layout_minimal import CASES, Probe


@pytest.fixture
def plans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The transposes of each plan ``assign_layout`` makes: greedy first, then exact."""
    counts: list[int] = []
    real = assign_layout.plan_layout

    def record(*args: object) -> object:
        plan = real(*args)  # type: ignore[arg-type]
        counts.append(plan.transposes)
        return plan

    monkeypatch.setattr(assign_layout, "plan_layout", record)
    yield counts


def _model(kind: str, name: str) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    if kind == "case":
        return Probe(CASES[name][0]), torch.randn(2, 4, 8, 8)
    cls, shape = (MODELS if kind == "model" else GREEDY_TRAPS)[name][:2]
    return cls(), torch.randn(*shape)


ALL = [("model", n) for n in MODELS] + [("case", n) for n in CASES]
ALL += [("trap", n) for n in GREEDY_TRAPS]


@pytest.mark.parametrize("kind,name", ALL, ids=[f"{k}-{n}" for k, n in ALL])
@pytest.mark.parametrize("cl_io", [False, True], ids=["torch-io", "channels-last-io"])
def test_exact_never_needs_more_than_greedy(
    kind: str, name: str, cl_io: bool, plans: list[int]
) -> None:
    model, x = _model(kind, name)
    conv = fx2mlx.convert(model.eval(), (x,), channels_last_io=cl_io)
    greedy, exact = plans
    assert exact <= greedy
    assert conv.report.transposes == exact


@pytest.mark.parametrize("name", sorted(GREEDY_TRAPS))
def test_exact_escapes_greedy_traps(name: str, plans: list[int]) -> None:
    _, _, greedy, minimum = GREEDY_TRAPS[name]
    model, x = _model("trap", name)
    conv = assert_converts(model, x, fresh=2)  # numerics: fresh inputs, random weights
    assert plans == [greedy, minimum]
    assert conv.report.transposes == minimum, conv.source
    code = conv.source.split("def sanitize")[0]
    assert len(re.findall(r"\.transpose\(", code)) == minimum, conv.source


def _brute_force(n: int, edges: list[tuple[int, int, int]]) -> int:
    """The cheapest cut over every split of nodes ``2..n-1`` (0 the source, 1 the sink)."""
    best = None
    for mask in range(1 << (n - 2)):
        side = {0} | {i + 2 for i in range(n - 2) if mask >> i & 1}
        cost = sum(c for u, v, c in edges if u in side and v not in side)
        best = cost if best is None else min(best, cost)
    return best or 0


def test_min_cut_is_minimum_on_random_graphs() -> None:
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(2, 8)
        edges = [(rng.randrange(n), rng.randrange(n), rng.randint(1, 5)) for _ in range(20)]
        graph = FlowGraph(n)
        for u, v, c in edges:
            graph.add_edge(u, v, c)
        flow, side = graph.min_cut(0, 1)
        assert 0 in side and 1 not in side
        assert flow == _brute_force(n, edges)
        assert flow == sum(c for u, v, c in edges if u in side and v not in side)


SMALL = [("case", n) for n in CASES] + [("trap", n) for n in GREEDY_TRAPS]
SMALL += [("model", n) for n in ("convnext", "efficientnet", "mobilenetv3")]


@pytest.mark.parametrize("kind,name", SMALL, ids=[f"{k}-{n}" for k, n in SMALL])
def test_min_cut_is_the_best_labelling(
    kind: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every PyTorch/channels-last labelling of the agnostic values, planned for real: none
    needs fewer transposes than the min-cut's (up to 12 values: 4096 plans)."""
    found: list[tuple[int, int]] = []
    real = assign_layout.solve

    def brute_force(nodes: list[fx.Node], rule_for: object, greedy: object) -> dict:
        labels = real(nodes, rule_for, greedy)  # type: ignore[arg-type]
        want = demand(nodes, assign_layout._rule_for, identity)
        values = list(labels)
        assert len(values) <= 12
        best = min(
            plan_layout(nodes, exact_pick(_labelling(values, bits), want), False).transposes
            for bits in itertools.product([False, True], repeat=len(values))
        )
        found.append((plan_layout(nodes, exact_pick(labels, want), False).transposes, best))
        return labels

    monkeypatch.setattr(assign_layout, "solve", brute_force)
    model, x = _model(kind, name)
    fx2mlx.convert(model.eval(), (x,))
    assert found and found[0][0] == found[0][1]


def _labelling(values: list[fx.Node], bits: tuple[bool, ...]) -> dict[fx.Node, tuple]:
    return {v: (channels_last if b else identity)(rank_of(v) or 0) for v, b in zip(values, bits)}


def test_the_cheaper_plan_is_applied(monkeypatch: pytest.MonkeyPatch, plans: list[int]) -> None:
    """Labels that cost more than greedy's (every agnostic value flipped) are not applied."""
    real = assign_layout.solve

    def flipped(nodes: list[fx.Node], rule_for: object, greedy: object) -> dict:
        labels = real(nodes, rule_for, greedy)  # type: ignore[arg-type]
        flip = {identity(len(p)): channels_last(len(p)) for p in labels.values()}
        return {v: flip.get(p, identity(len(p))) for v, p in labels.items()}

    monkeypatch.setattr(assign_layout, "solve", flipped)
    model, x = _model("case", "residual_of_input")
    conv = assert_converts(model, x)
    greedy, exact = plans
    assert exact > greedy
    assert conv.report.transposes == greedy, conv.source
