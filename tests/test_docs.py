"""Generated documentation stays in sync with the code."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_supported_ops_table_is_current() -> None:
    spec = importlib.util.spec_from_file_location("ops_table", ROOT / "scripts" / "ops_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    current = (ROOT / "docs" / "supported-ops.md").read_text()
    assert current == module.table(), "run: .venv/bin/python scripts/ops_table.py"


def test_contributing_example_is_the_code() -> None:
    """The worked example in docs/contributing-converters.md is quoted from the repository."""
    doc = (ROOT / "docs" / "contributing-converters.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```python\n")[1:]]
    sources = [ROOT / "src/fx2mlx/converters/norm.py", ROOT / "tests/converters/test_norm.py"]
    code = "\n".join(p.read_text() for p in sources)
    assert len(blocks) == 3
    for block in blocks:
        assert block in code, f"docs/contributing-converters.md quotes code that changed:\n{block}"


def test_architecture_names_every_module() -> None:
    """docs/architecture.md names every module outside the converter families and examples,
    so a new module can't land without a line saying where it sits."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "src" / "fx2mlx"
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel.startswith(("converters/", "examples/")) or path.name == "__init__.py":
            continue
        if f"`{rel}`" not in doc and f"`{rel.removesuffix('.py')}`" not in doc:
            missing.append(rel)
    assert not missing, f"docs/architecture.md does not mention: {missing}"


def _zoo_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("zoo_table", ROOT / "scripts" / "zoo_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zoo_table_is_current() -> None:
    """docs/zoo.md renders docs/zoo.json, whose rows are the registry's, passing unless
    blocked (the zoo tests check each row's status still holds, without this reconverting)."""
    pytest.importorskip("transformers")
    from fx2mlx.examples.hf_zoo import BLOCKED, UNSANITIZED, ZOO

    doc = json.loads((ROOT / "docs" / "zoo.json").read_text())
    fix = "run: .venv/bin/python scripts/zoo_table.py"
    assert (ROOT / "docs" / "zoo.md").read_text() == _zoo_table().render(doc), fix
    assert [r["name"] for r in doc["rows"]] == list(ZOO), fix
    for row in doc["rows"]:
        assert row["status"] == ("xfail" if row["name"] in BLOCKED else "pass"), fix
        assert row["summary"] == ZOO[row["name"]].summary, fix
        assert row["sanitize"] == UNSANITIZED.get(row["name"], ""), fix
