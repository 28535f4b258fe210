"""The linter settings in pyproject.toml hold for the whole tree (pyflakes, no print outside entry points)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    completed = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                               capture_output=True, text=True, check=False)

    assert completed.returncode == 0, completed.stdout + completed.stderr
