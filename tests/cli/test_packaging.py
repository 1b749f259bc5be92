"""The installed distribution matches the source tree (pyproject.toml, setup.py)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import harness


def test_version_is_single_sourced() -> None:
    assert metadata.version("wsa-harness") == harness.__version__


def test_package_is_typed() -> None:
    assert (Path(harness.__file__).parent / "py.typed").is_file()


def test_console_script_is_declared() -> None:
    scripts = metadata.entry_points(group="console_scripts")
    assert scripts["wsa-harness"].value == "harness.cli.main:main"
