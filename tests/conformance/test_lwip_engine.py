"""The lwIP engine on a few programs: Debian's liblwip 2.1.3, both ends of each
connection in one user-space stack (conformance/lwip/driver.c).

These assert what lwIP does, as measured and recorded in docs/conformance.md
and docs/profiles.md; skipped when liblwip-dev is missing (`make conformance-deps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.conformance.compare import AGREE, DIFFER, KNOWN, PARTIAL, compare_program
from harness.conformance.engine import ExternalEngine
from harness.conformance.known_differences import apply_known, load_known
from harness.lang.parser import parse_file
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import DOCUMENTED, LINUX, LWIP

pytestmark = pytest.mark.conformance
REPO = Path(__file__).resolve().parents[2]
KNOWN_FILE = REPO / "conformance" / "known" / "lwip.txt"


@pytest.fixture(scope="module")
def lwip() -> Iterator[ExternalEngine]:
    if not (Path("/usr/include/lwip/lwip/sockets.h")).is_file():
        pytest.skip("liblwip-dev is not installed (`make conformance-deps`)")
    from harness.conformance.lwip import LwipEngine

    try:
        engine = LwipEngine()
    except HarnessError as exc:
        pytest.skip(str(exc))
    yield engine
    engine.close()


def _verdict(engine: ExternalEngine, path: str, profile: object) -> tuple[str, int]:
    v = compare_program(parse_file(REPO / path), engine, [profile])[profile.name]  # type: ignore[attr-defined]
    return v.kind, v.line


def test_lwip_runs_a_graceful_close(lwip: ExternalEngine) -> None:
    path = "conformance/programs/c02-graceful-close-peer-reads-all-then-0.wsa"
    assert _verdict(lwip, path, DOCUMENTED)[0] == AGREE
    assert _verdict(lwip, path, LWIP)[0] == AGREE


def test_lwip_needs_no_startup(lwip: ExternalEngine) -> None:
    # c10: a socket without WSAStartup: lwIP gives one (startup_required false)
    path = "conformance/programs/c10-socket-before-startup.wsa"
    assert _verdict(lwip, path, DOCUMENTED) == (DIFFER, 3)
    assert _verdict(lwip, path, LWIP)[0] in (AGREE, PARTIAL)


def test_lwip_close_under_a_blocked_recv_blocks(lwip: ExternalEngine) -> None:
    # c03: closesocket while t1 is blocked in recv does not return (no FULLDUPLEX)
    program = parse_file(REPO / "conformance/programs/c03-close-wakes-blocked-recv.wsa")
    v = compare_program(program, lwip, [LWIP])["lwip"]
    assert (v.kind, v.line) == (DIFFER, 7)
    assert v.detail[2].strip() == "lwip: -> blocked"
    known, entry = apply_known(v, load_known(KNOWN_FILE, "lwip"))
    assert known.kind == KNOWN and entry is not None and entry.name == "close-under-blocked-recv"
    # the next program starts on a fresh driver process: it agrees
    path = "conformance/programs/c02-graceful-close-peer-reads-all-then-0.wsa"
    assert _verdict(lwip, path, LWIP)[0] == AGREE


def test_lwip_differs_from_linux_on_linger_off(lwip: ExternalEngine) -> None:
    # c15: l_onoff = 0 forgets the timeout on lwIP; Linux keeps it
    path = "conformance/programs/c15-linger-off-keeps-given-timeout.wsa"
    assert _verdict(lwip, path, LINUX) == (DIFFER, 7)


def test_lwip_check_passes_on_the_conformance_programs(capsys: pytest.CaptureFixture[str]) -> None:
    if not (Path("/usr/include/lwip/lwip/sockets.h")).is_file():
        pytest.skip("liblwip-dev is not installed (`make conformance-deps`)")
    status = main(
        ["conformance", "--engine", "lwip", "--check", "--quiet", "--also", "linux",
         str(REPO / "conformance/programs")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0, out
    assert "lwip vs lwip (the engine's own profile):" in out
    assert "lwip vs linux:" in out
