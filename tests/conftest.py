"""Shared helpers: run the CLI in-process and capture its streams."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from gradcalc.cli import main


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
