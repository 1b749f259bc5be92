"""A campaign says where its corpus comes from: the seed folder it used (the
checkout's or the packaged one), each seed it could not encode and why, or
how many inputs it resumes from."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.fuzz.campaign import export_seeds

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "corpus" / "seeds"


def test_export_seeds_names_each_seed_without_a_binary_form(tmp_path: Path) -> None:
    skipped: list[str] = []
    count = export_seeds(SEEDS, tmp_path, skipped)
    assert count == len(list(tmp_path.glob("seed-*.bin")))
    assert count + len(skipped) == len(list(SEEDS.glob("*.wsa")))
    assert "010-bind-ports.wsa: port 80 has no binary form" in skipped
    assert export_seeds(SEEDS, tmp_path / "again") == count  # the list is optional


@pytest.mark.fuzz
def test_fuzz_names_its_seeds_then_resumes(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "harness", "fuzz", "--engines", "reference",
           "--profiles", "documented,windows", "--runs", "20", "--out", str(tmp_path)]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode in (0, 1), first.stdout + first.stderr
    exported = len(list((tmp_path / "corpus").glob("seed-*.bin")))
    want = f"seeding {tmp_path / 'corpus'} with {exported} seed programs from the checkout's seeds"
    assert f"{want} ({SEEDS})\n" in first.stdout, first.stdout
    assert "    010-bind-ports.wsa: port 80 has no binary form\n" in first.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert "seeding" not in again.stdout
    assert re.search(rf"^resuming from [1-9]\d* inputs in {re.escape(str(tmp_path))}", again.stdout,
                     re.M), again.stdout  # fmt: skip
