"""README.md's "Extending fx2mlx" example runs as printed, and error messages point to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import fx2mlx
from fx2mlx.converters.registry import LAYERS, OPS

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Extending fx2mlx"


def _example() -> str:
    """The first Python block of the README's "Extending fx2mlx" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def registry() -> Iterator[None]:
    """The example registers converters: take them out again, so other tests (the generated
    op table, the conventions) see fx2mlx's own registry only."""
    ops, layers = dict(OPS), dict(LAYERS)
    try:
        yield
    finally:
        OPS.clear()
        OPS.update(ops)
        LAYERS.clear()
        LAYERS.update(layers)


def test_readme_example_runs(registry: None) -> None:
    code = _example()
    assert "fx2mlx.register_op(" in code and "fx2mlx.register_layer(" in code
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)  # its own asserts check the result
    conversion = namespace["conversion"]
    assert isinstance(conversion, fx2mlx.Conversion)
    assert "torch" not in conversion.source  # the generated file stands alone


def test_unsupported_op_message_points_to_the_section() -> None:
    class Unconvertible(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ops.aten.unique_consecutive.default(x)[0]

    with pytest.raises(fx2mlx.UnsupportedError) as info:
        fx2mlx.convert(Unconvertible(), torch.arange(6))
    title = SECTION.removeprefix("## ")
    assert f'"{title}"' in str(info.value) and "README.md" in str(info.value)
    assert f"\n{SECTION}\n" in (ROOT / "README.md").read_text()
