"""The compiler's own code is black-formatted and ruff-clean (rules in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ["src", "tests", "scripts"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_black_clean() -> None:
    proc = _run("black", "--check", "--quiet", *TREES)
    assert proc.returncode == 0, f"black would reformat:\n{proc.stderr}"


def test_ruff_clean() -> None:
    proc = _run("ruff", "check", "--no-cache", *TREES)
    assert proc.returncode == 0, f"ruff:\n{proc.stdout}{proc.stderr}"
