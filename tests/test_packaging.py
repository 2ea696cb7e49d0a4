"""The dependency floors of pyproject.toml and the pins `make test-minimum` tests them at."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]


def _floors() -> dict[str, Version]:
    """Each runtime and user-facing extra dependency's ``>=`` floor, by package name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    floors = {}
    for spec in (*project["dependencies"], *extras["medical"], *extras["onnx"]):
        req = Requirement(spec)
        (floor,) = [s.version for s in req.specifier if s.operator == ">="]
        floors[req.name.lower()] = Version(floor)
    return floors


def _pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / ".ci" / "minimum-versions.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            (pin,) = [s.version for s in req.specifier if s.operator == "=="]
            pins[req.name.lower()] = Version(pin)
    return pins


def test_minimum_versions_pin_every_floor_and_only_the_floors() -> None:
    floors, pins = _floors(), _pins()
    assert set(pins) == set(floors)
    for name, floor in floors.items():
        # the floor's release, down to the floor's precision: torch>=2.5 is pinned as 2.5.x
        assert pins[name].release[:len(floor.release)] == floor.release, (name, floor, pins[name])
