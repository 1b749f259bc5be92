"""The core's byte decoder against the Python one: one more differential.

The compiled core decodes the fuzzer's bytes itself (harness/_core_decode.pxi):
``decode_bytes(data, max_steps)`` gives the lowered program and the limits,
``run_bytes(data, profile, max_steps)`` decodes and runs in one C call.  It is
written independently of harness/lang/encoding.py, which stays the readable
definition of the binary form, so the two are compared like the engines are:
for any bytes and any step bound, ``decode_bytes`` must give exactly
``decode_lowered``'s records and limits, and ``run_bytes`` exactly
``run_lowered`` of them.  Hypothesis, the edge cases (no bytes, a header
alone, every header, every OP byte, bounds from negative to huge), a seeded
loop of 20,000 random inputs, and, when atheris is installed, a short
libFuzzer run of ``fuzz/fuzz_decode.py``.

A core that is missing or older than its sources fails here with how to fix it
(``CORE.load``); ``WSA_HARNESS_NO_CORE=1`` skips.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from array import array
from pathlib import Path
from types import ModuleType

import pytest
from conftest import CORE, REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.engines import NO_CORE_ENV, no_core
from harness.lang.encoding import (
    FIRST_BYTE,
    HEADER_PROFILES,
    LIMIT_PRESETS,
    NotRepresentable,
    decode_lowered,
    encode,
    header_profile,
)
from harness.lang.parser import parse_file
from harness.vocab.profiles import DOCUMENTED, PROFILES, Limits, Profile

pytestmark = [
    pytest.mark.core,
    pytest.mark.skipif(no_core(), reason=f"{NO_CORE_ENV} is set: this checks the core"),
]

#: run_bytes picks the profile from these by the header's bits 6-7
HEADER_PROFILE_SET = tuple(PROFILES[name] for name in HEADER_PROFILES)
#: step bounds: none, the prelude cut (1), the campaigns' (20), past any input, absurd
BOUNDS = (None, -(2**80), -1, 0, 1, 2, 5, 20, 1000, 2**63, 2**80)


@pytest.fixture(scope="module")
def core() -> ModuleType:
    return CORE.load()  # a missing or stale core fails here, with how to fix it


def same_decode(core: ModuleType, data: bytes, max_steps: int | None) -> array[int]:
    """Assert the two decoders agree on ``data``; returns the lowered program."""
    code, limits = decode_lowered(data, max_steps)
    core_code, core_limits = core.decode_bytes(data, max_steps)
    assert isinstance(core_code, array) and core_code.typecode == "q"
    assert list(core_code) == list(code), (data.hex(), max_steps)
    assert core_limits == (limits.sockets, limits.descriptors, limits.sndbuf, limits.window)
    assert Limits(*core_limits) == limits
    return code


def same_run(
    core: ModuleType, data: bytes, max_steps: int | None, profile: Profile | None = None
) -> None:
    """Assert run_bytes is run_lowered of the Python decoder's program; profile
    None passes the header's four and expects the one its bits 6-7 name."""
    code, limits = decode_lowered(data, max_steps)
    if profile is None:
        expected = core.run_lowered(code, header_profile(data), limits)
        got = core.run_bytes(data, HEADER_PROFILE_SET, max_steps)
    else:
        expected = core.run_lowered(code, profile, limits)
        got = core.run_bytes(data, profile, max_steps)
    assert isinstance(got, array) and got.typecode == "q"
    assert got == expected, (data.hex(), max_steps, profile)


# --- Hypothesis --------------------------------------------------------------------------

bounds = st.one_of(st.sampled_from(BOUNDS), st.integers(-3, 120))
profiles = st.one_of(st.none(), st.sampled_from(sorted(PROFILES.values(), key=lambda p: p.name)))


@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=400), max_steps=bounds)
def test_decode_bytes_is_decode_lowered(core: ModuleType, data: bytes, max_steps: int | None):
    same_decode(core, data, max_steps)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=400), max_steps=bounds, profile=profiles)
def test_run_bytes_is_run_lowered_of_decode_lowered(
    core: ModuleType, data: bytes, max_steps: int | None, profile: Profile | None
) -> None:
    same_run(core, data, max_steps, profile)


@st.composite
def programs(draw: st.DrawFn) -> bytes:
    """Bytes that stay on the variants that bind and close, so that programs get
    many variables, stale ones and blocked threads (uniform bytes rarely do)."""
    busy = [
        FIRST_BYTE[v]
        for v in FIRST_BYTE
        if v.op.name in ("SOCKET", "DUPLICATE", "CLOSESOCKET", "CONNECT", "WSASEND", "SEND")
    ]
    header = draw(st.integers(0, 255))
    steps = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(busy), st.integers(0, 255)),
                st.binary(min_size=3, max_size=3),
            ),
            max_size=100,
        )
    )
    return bytes([header]) + b"".join(bytes([op]) + rest for op, rest in steps)


@settings(max_examples=500, deadline=None)
@given(data=programs(), max_steps=st.sampled_from((None, 20, 60)))
def test_decoders_agree_on_programs_with_many_variables(
    core: ModuleType, data: bytes, max_steps: int | None
) -> None:
    same_decode(core, data, max_steps)
    same_run(core, data, max_steps)


# --- edge cases ----------------------------------------------------------------------------


def test_no_bytes(core: ModuleType) -> None:
    code, limits = core.decode_bytes(b"")
    assert list(code) == [0] and Limits(*limits) == Limits()
    for max_steps in BOUNDS:
        same_decode(core, b"", max_steps)
        same_run(core, b"", max_steps)
        same_run(core, b"", max_steps, DOCUMENTED)


@pytest.mark.parametrize("header", range(256))
def test_every_header(core: ModuleType, header: int) -> None:
    """A header alone, with a partial step, and with whole steps: its prelude,
    its limits preset (bits 3-5) and its profile (bits 6-7)."""
    _, limits = core.decode_bytes(bytes([header]))
    assert Limits(*limits) == LIMIT_PRESETS[(header >> 3) & 7]
    rng = random.Random(header)
    for tail in (b"", b"\x05\x00\x00", rng.randbytes(4), rng.randbytes(40), rng.randbytes(203)):
        data = bytes([header]) + tail
        for max_steps in (None, 1, 20):
            same_decode(core, data, max_steps)
            same_run(core, data, max_steps)


#: the first OP byte of each op's first variant (a stream socket, a plain connect, ...)
FIRST_BYTE_OF = {v.op.name: b for v, b in reversed(FIRST_BYTE.items())}


@pytest.mark.parametrize("op_byte", range(256))
def test_every_op_byte(core: ModuleType, op_byte: int) -> None:
    """Each OP byte after a full prelude and after none, with SEL values that
    reach every target kind and thread rule, and B, C that reach every number kind."""
    rng = random.Random(op_byte)
    for header in (0, 7, 0b11_101_000):
        for sel in (0, 7, 4, 0xC5, 0xE3, 0xF9, 0xFF, rng.randrange(256)):
            for b in (0, 0x45, 0x83, 0xC1, 0xE7, 0xFF):
                step = bytes([op_byte, sel, b, rng.randrange(256)])
                # once alone, once after a socket, a closesocket of it and a blocking send
                prefix = bytes([FIRST_BYTE_OF["SOCKET"], 0, 0, 0, FIRST_BYTE_OF["CLOSESOCKET"],
                                4, 0, 0, FIRST_BYTE_OF["SEND"], 1, 0x40, 9])  # fmt: skip
                for data in (bytes([header]) + step, bytes([header]) + prefix + step):
                    same_decode(core, data, None)
                    same_run(core, data, None)


@pytest.mark.parametrize("preset", range(8))
@pytest.mark.parametrize("profile_bits", range(4))
def test_every_preset_and_header_profile_runs_as_named(
    core: ModuleType, preset: int, profile_bits: int
) -> None:
    rng = random.Random(preset * 4 + profile_bits)
    for _ in range(50):
        data = bytes([profile_bits << 6 | preset << 3 | rng.randrange(8)]) + rng.randbytes(80)
        assert header_profile(data).name == HEADER_PROFILES[profile_bits]
        same_run(core, data, 20)
        for profile in PROFILES.values():  # an explicit profile wins over the header's
            same_run(core, data, 20, profile)


def test_max_steps_cuts_after_the_prelude_and_counts_it(core: ModuleType) -> None:
    data = bytes([0]) + random.Random(3).randbytes(400)
    lengths = {}
    for max_steps in BOUNDS:
        code = same_decode(core, data, max_steps)
        lengths[max_steps] = (len(code) - 1) // 8
    assert lengths[1] == lengths[0] == lengths[-(2**80)] == 4  # the full prelude, never cut
    assert lengths[20] == 20
    assert lengths[None] == lengths[2**80] == lengths[1000] > 50


def test_seed_corpus_in_binary_form(core: ModuleType) -> None:
    """Every seed and regression program the encoder can represent."""
    done = 0
    for path in sorted((REPO / "corpus").glob("*/*.wsa")):
        try:
            data = encode(parse_file(path))
        except NotRepresentable:
            continue
        same_decode(core, data, None)
        same_run(core, data, None)
        done += 1
    assert done > 10


def test_any_byte_buffer(core: ModuleType) -> None:
    data = bytes([0x41]) + random.Random(5).randbytes(120)
    code, limits = core.decode_bytes(data, 20)
    trace = core.run_bytes(data, DOCUMENTED, 20)
    for other in (bytearray(data), memoryview(data), memoryview(bytearray(data)), array("B", data)):
        assert core.decode_bytes(other, 20) == (code, limits)
        assert core.run_bytes(other, DOCUMENTED, 20) == trace
    assert core.run_bytes(data, list(HEADER_PROFILE_SET), 20) == core.run_bytes(
        data, HEADER_PROFILE_SET, 20
    )


def test_bad_arguments(core: ModuleType) -> None:
    with pytest.raises(ValueError, match="sequence of 4"):
        core.run_bytes(b"\x00", HEADER_PROFILE_SET[:3], 20)
    with pytest.raises(TypeError):
        core.decode_bytes("not bytes", 20)
    with pytest.raises(TypeError):
        core.run_bytes(b"\x00", DOCUMENTED, "20")


# --- fuzz smoke ------------------------------------------------------------------------------


def random_input(rng: random.Random) -> bytes:
    """Mostly fuzz-size inputs (a header and 20 steps), some short, some long."""
    size = rng.choice((0, 1, 2, 4, 5, 8, 9, 13, 81, 81, 81, 81, 160, rng.randrange(400)))
    data = bytearray(rng.randbytes(size))
    if data and rng.random() < 0.5:
        data[0] |= 0b111 if rng.random() < 0.5 else 0  # no prelude, as fuzzer_inputs half the time
    return bytes(data)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_inputs(core: ModuleType, seed: int) -> None:
    """10,000 inputs per seed from random.Random(seed), without atheris."""
    rng = random.Random(seed)
    for _ in range(10_000):
        data = random_input(rng)
        max_steps = rng.choice((None, 1, 20, 20, 20, 100))
        same_decode(core, data, max_steps)
        same_run(core, data, max_steps)


@pytest.mark.fuzz
def test_decoder_fuzz_target_smoke(tmp_path: Path) -> None:
    """fuzz/fuzz_decode.py under libFuzzer, bounded by -runs."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted((REPO / "corpus" / "seeds").glob("*.wsa"))[:30]:
        try:
            (corpus / path.stem).write_bytes(encode(parse_file(path)))
        except NotRepresentable:
            continue
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, str(REPO / "fuzz" / "fuzz_decode.py"), "-runs=5000", "-seed=1",
         "-max_len=400", f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Done 5000 runs" in out.stderr
    assert not list(tmp_path.glob("crash-*"))
