"""Shared helpers: run the CLI in-process and capture its streams."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings

from gradcalc.cli.main import main

# Hypothesis profiles: "ci" (default, derandomized so CI is reproducible) and "slow" (--slow).
settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None)
settings.register_profile("slow", max_examples=3000, deadline=None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run thousands of property examples")


def pytest_configure(config: pytest.Config) -> None:
    settings.load_profile("slow" if config.getoption("--slow") else "ci")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and the subprocesses it starts) uses a fresh derivative cache, never the
    real ~/.cache/gradcalc."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def gradcalc(capsys: pytest.CaptureFixture[str]):
    """Call gradcalc with argv; returns (status, stdout, stderr)."""

    def call(*argv: str) -> Result:
        status = main(list(argv))
        captured = capsys.readouterr()
        return Result(status, captured.out, captured.err)

    return call


@pytest.fixture
def points_file(tmp_path):
    """Write a --points CSV file; returns its path."""

    def write(text: str) -> str:
        path = tmp_path / "points.csv"
        path.write_text(text)
        return str(path)
    return write
