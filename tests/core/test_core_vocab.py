"""The compiled core's enums are pinned to the shared vocabulary.

The core keeps its own copies of the numbers (docs/architecture.md): C enums,
hand-copied from harness/vocab/constants.py, trace.py, program.py and profiles.py
(and the binary form's shape from harness/lang/encoding.py).
``harness._core._vocabulary()`` lists every one of them by name; these tests
compare each with the Python value it copies, and fail with the list of names
that drifted or that nothing on the Python side pins.  A second test parses the
core's sources for their ``cdef enum`` blocks and checks that ``_vocabulary()``
lists exactly those members, so a new enum constant cannot escape the pin.

A core that is missing or older than its sources fails here with how to fix it
(``CORE.load``, as the engine fixtures do); ``WSA_HARNESS_NO_CORE=1`` skips.
"""

from __future__ import annotations

import re
from enum import IntEnum
from types import ModuleType

import pytest
from conftest import CORE, REPO

from harness import reference
from harness.engines import NO_CORE_ENV, no_core
from harness.lang import encoding, program, syntax
from harness.vocab import constants, profiles, trace

pytestmark = [
    pytest.mark.core,
    pytest.mark.skipif(no_core(), reason=f"{NO_CORE_ENV} is set: this checks the core"),
]

CORE_SOURCES = [REPO / "harness" / "_core.pyx", *sorted((REPO / "harness").glob("_core_*.pxi"))]

#: Core name prefix -> the IntEnum whose members it copies (core name = prefix + member name).
ENUMS: dict[str, type[IntEnum]] = {
    "OP_": constants.Op,
    "T_": constants.SockType,
    "LC_": constants.Lifecycle,
    "K_": constants.OpKind,
    "M_": constants.Mode,
    "ST_": constants.Status,
    "N_": constants.Note,
    "SCOPE_": profiles.CancelScope,
    "TIMING_": profiles.FdCloseTiming,
    "DAC_": profiles.DataAfterClose,
    "ORDER_": profiles.CheckOrder,
    "LOPT_": profiles.LingerOption,
    "LCLOSE_": profiles.LingerClose,
    "RR_": profiles.ResetReporting,
    "PCU_": profiles.PeerCloseUnread,
    "PORTS_": profiles.PortSpace,
    "RAS_": profiles.RecvAfterShutdown,
    "SDU_": profiles.ShutdownUnconnected,
    "LEOS_": profiles.LastErrorOnSuccess,
    "CUC_": profiles.CleanupClose,
    "CB_": profiles.CancelBlocking,
}
#: Core names that shorten the Python member name.
RENAMED = {"K_LINGER": "K_LINGER_CLOSE"}


def python_vocabulary() -> dict[str, int]:
    """Every number the core copies, under the core's name for it."""
    out: dict[str, int] = {}

    def put(name: str, value: int) -> None:
        assert out.get(name, value) == value, f"{name} means two numbers on the Python side"
        out[name] = int(value)

    for name, code in constants.ERROR_CODES.items():
        put(name, code)
    for name, bit in constants.FD_BITS.items():
        put(name, bit)
    for prefix, enum in ENUMS.items():
        for member in enum:
            put(prefix + member.name, member)
    for name, value in vars(trace).items():  # result and event kinds
        if re.fullmatch(r"[RE]_[A-Z_]+", name) and isinstance(value, int):
            put(name, value)
    for name, how in constants.SD_NAMES.items():
        put(name, how)
    put("SOCKET_ERROR", constants.SOCKET_ERROR)
    # the world's shape
    put("THREADS", constants.THREADS)
    put("PROCESSES", constants.PROCESSES)
    put("THREADS_PER_PROCESS", threads_per_process())
    put("DESC_STRIDE", descriptor_stride())
    # the lowered program's record and the canonical trace's layout
    for name in ("TARGET_NONE", "TARGET_SLOT", "TARGET_RAW", "TARGET_INVALID", "RECORD_WIDTH"):
        put(name, getattr(program, name))
    put("INVALID_DESCRIPTOR", program.INVALID_DESCRIPTOR)
    put("RESULT_WIDTH", trace.RESULT_WIDTH)
    put("EVENT_WIDTH", trace.EVENT_WIDTH)
    put("STEP_HEADER", trace.STEP_HEADER)
    put("SOCKET_WIDTH", len(trace.SOCKET_FIELDS))
    put("PEER_WIDTH", len(trace.PEER_FIELDS))
    put("OP_WIDTH", len(trace.OP_FIELDS))
    # argument ranges (the language's; the core validates them again)
    put("PORT_MAX", syntax.NUMBER_PARAMS["PORT"][1])
    put("NPORTS", syntax.NUMBER_PARAMS["PORT"][1] + 1)  # a bit for every port number
    assert syntax.NUMBER_PARAMS["ONOFF"][1] == syntax.NUMBER_PARAMS["SECS"][1]
    put("LINGER_MAX", syntax.NUMBER_PARAMS["SECS"][1])
    put("MAX_U31", constants.MAX_U31)
    # the fuzzer's binary form (the core's decoder, harness/_core_decode.pxi)
    put("BIN_STEP_BYTES", encoding.STEP_BYTES)
    put("BIN_PRELUDE_STEPS", len(encoding.PRELUDE_RAW))
    put("BIN_VARIANTS", len(encoding.VARIANTS))
    put("BIN_TABLE", len(encoding.TABLE))
    put("BIN_PRESETS", len(encoding.LIMIT_PRESETS))
    put("BIN_PROFILES", len(encoding.HEADER_PROFILES))
    for core_name, python_name in RENAMED.items():
        put(core_name, out.pop(python_name))
    return out


def threads_per_process() -> int:
    """t0, t1 in p0; t2, t3 in p1: the core finds a thread's process by division."""
    n = constants.THREADS // constants.PROCESSES
    assert constants.THREAD_PROCESS == tuple(t // n for t in range(constants.THREADS))
    return n


def descriptor_stride() -> int:
    """The spacing of descriptor values (SO-3: the lowest free multiple of 4).  The
    Python vocabulary has no name for it, so it is read off the reference model."""
    engine = reference.Engine(profiles.DOCUMENTED, profiles.DEFAULT_LIMITS)
    engine.step(constants.Op.STARTUP, 0, 0, 2, 2, 0)
    first, second = (
        engine.step(constants.Op.SOCKET, 0, 0, constants.SockType.STREAM, 0, 0)[0] for _ in range(2)
    )
    assert second - first == first, (first, second)
    return int(first)


def enum_members_in_sources() -> dict[str, str]:
    """Member name -> FILE:LINE for every ``cdef enum`` block of the core's sources."""
    found: dict[str, str] = {}
    for path in CORE_SOURCES:
        in_enum = False
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^\s*(?:cdef|cpdef)\s+enum\b[^:]*:\s*(?:#.*)?$", line):
                in_enum = True
                continue
            if not in_enum or not line.strip() or line.lstrip().startswith("#"):
                continue
            if m := re.match(r"^\s+([A-Za-z_]\w*)\s*(?:=|$|#)", line):
                found.setdefault(m.group(1), f"{path.name}:{number}")
            else:
                in_enum = False
    return found


@pytest.fixture(scope="module")
def core() -> ModuleType:
    return CORE.load()  # a missing or stale core fails here, with how to fix it


def drift(ours: dict[str, int], theirs: dict[str, int]) -> list[str]:
    """The core names whose value differs from the Python one, or that nothing pins."""
    wrong = [
        f"{n}: core {v}, Python {theirs[n]}"
        for n, v in ours.items()
        if n in theirs and v != theirs[n]
    ]
    unpinned = [
        f"{n}: core {v}, nothing on the Python side" for n, v in ours.items() if n not in theirs
    ]
    return sorted(wrong) + sorted(unpinned)


def test_every_core_constant_has_its_python_value(core: ModuleType) -> None:
    bad = drift(core._vocabulary(), python_vocabulary())
    assert not bad, "core constants that drifted from the vocabulary:\n  " + "\n  ".join(bad)


def test_vocabulary_lists_exactly_the_enum_members(core: ModuleType) -> None:
    in_sources = enum_members_in_sources()
    listed = core._vocabulary()
    missing = sorted(
        f"{name} ({where})" for name, where in in_sources.items() if name not in listed
    )
    extra = sorted(name for name in listed if name not in in_sources)
    assert not missing, "enum constants _vocabulary() does not list:\n  " + "\n  ".join(missing)
    assert not extra, "_vocabulary() names that no enum block defines:\n  " + "\n  ".join(extra)


def test_the_source_parser_finds_the_enum_blocks() -> None:
    """The parser above is not vacuous: it finds the opcodes and a profile switch."""
    members = enum_members_in_sources()
    assert {"OP_STARTUP", "OP_OVL", "WSAEINTR", "R_VALUE", "E_DESTROYED", "CB_STUB"} <= set(members)
    assert len(members) > 100


def test_a_drifted_or_unpinned_constant_is_reported_by_name() -> None:
    theirs = python_vocabulary()
    ours = {**theirs, "OP_CLOSESOCKET": theirs["OP_CLOSESOCKET"] + 1, "NEW_THING": 7}
    assert drift(ours, theirs) == [
        f"OP_CLOSESOCKET: core {theirs['OP_CLOSESOCKET'] + 1}, Python {theirs['OP_CLOSESOCKET']}",
        "NEW_THING: core 7, nothing on the Python side",
    ]


def test_python_vocabulary_covers_every_enum_family() -> None:
    theirs = python_vocabulary()
    assert theirs["K_LINGER"] == constants.OpKind.LINGER_CLOSE
    assert theirs["WSAEINTR"] == constants.WSAEINTR
    assert theirs["RECORD_WIDTH"] == program.RECORD_WIDTH
    assert all(isinstance(v, int) for v in theirs.values())
