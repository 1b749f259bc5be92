"""Every switch value a named profile uses has a seed pair that shows it, and
the switch alone explains the pair (docs/profiles.md, SEMANTICS.md section 10).

A pair is two seeds whose ``# switch: NAME [NAME...]`` headers name the same
switch first: one under ``@profile documented`` and one under a profile whose
NAME differs.  The second file's expectations must hold under ``documented``
with only the named switches taken from its profile, on both engines, and must
not hold under plain ``documented``.  (A header names two switches only where
one observable shows both, as cancel_status and cancel_notifies do.)
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest

from harness.lang.parser import parse_file
from harness.oracle.run import canonical, check
from harness.vocab.profiles import DOCUMENTED, LINUX, PROFILES, SWITCHES, WINDOWS, WINE, Profile
from harness.vocab.trace import decode

SEEDS = sorted((Path(__file__).resolve().parents[2] / "corpus" / "seeds").glob("*.wsa"))


def _switches_of(path: Path) -> list[str]:
    for line in path.read_text().splitlines():
        if line.startswith("# switch:"):
            return line.split(":", 1)[1].split()
    return []


PAIRS: dict[str, list[Path]] = defaultdict(list)
for _path in SEEDS:
    for _name in _switches_of(_path):
        PAIRS[_name].append(_path)

#: (switch, value) for every value a named profile gives that documented does not
NEEDED = sorted(
    {
        (s, int(getattr(p, s)))
        for p in PROFILES.values()
        for s in SWITCHES
        if getattr(p, s) != getattr(DOCUMENTED, s)
    }
)
SIDES = [p for p in SEEDS if _switches_of(p) and parse_file(p).profile != DOCUMENTED]


def test_switch_headers_name_switches() -> None:
    unknown = sorted(set(PAIRS) - set(SWITCHES))
    assert not unknown, f"'# switch:' names no switch: {unknown}"


@pytest.mark.parametrize(("switch", "value"), NEEDED, ids=[f"{s}={v}" for s, v in NEEDED])
def test_every_profile_value_has_a_seed_pair(switch: str, value: int) -> None:
    paths = PAIRS.get(switch, [])
    profiles = [parse_file(p).profile for p in paths]
    assert any(p == DOCUMENTED for p in profiles), f"{switch}: no documented seed in the pair"
    assert any(int(getattr(p, switch)) == value for p in profiles), (
        f"{switch}={value}: no seed under a profile with that value "
        f"(seeds with '# switch: {switch}': {[p.name for p in paths]})"
    )


def test_the_new_profiles_differ_from_documented() -> None:
    for profile in (WINDOWS, LINUX, WINE):
        assert profile.switches() != DOCUMENTED.switches(), profile.name


def _outcome_holds(program_path: Path, engine: ModuleType, profile: Profile) -> bool:
    program = parse_file(program_path)
    return check(program, decode(canonical(program, engine, profile))) == []


@pytest.mark.parametrize("path", SIDES, ids=[p.name for p in SIDES])
def test_the_switch_alone_explains_the_pair(engine_module: ModuleType, path: Path) -> None:
    own = parse_file(path).profile
    alone = DOCUMENTED
    for switch in _switches_of(path):
        alone = alone.flipped(switch, own)
    assert _outcome_holds(path, engine_module, alone), (
        f"{path.name}: its expectations do not hold under documented with only "
        f"{', '.join(_switches_of(path))} from {own.name}: another switch is involved"
    )
    assert not _outcome_holds(path, engine_module, DOCUMENTED), (
        f"{path.name}: its expectations also hold under documented: it shows no difference"
    )
