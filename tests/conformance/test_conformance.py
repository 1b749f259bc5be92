"""Conformance machinery without a real implementation: the errno mapping, the
Wine driver's line protocol, the model's projection and buffering cut, the
static support check and the verdicts."""

from __future__ import annotations

import errno
from dataclasses import replace
from pathlib import Path

import pytest

from harness.conformance.compare import (
    AGREE,
    DIFFER,
    ERROR,
    KNOWN,
    PARTIAL,
    SKIPPED,
    Verdict,
    judge,
)
from harness.conformance.engine import (
    COMPLETIONS,
    PEER,
    RESULTS,
    FixedEngine,
    Observation,
    RealRun,
)
from harness.conformance.errnomap import POSIX_ONLY, error_text, wsa_error
from harness.conformance.known_differences import (
    KnownEntry,
    KnownFileError,
    apply_known,
    load_known,
    parse_known,
)
from harness.conformance.linux import LINUX_CAPABILITIES
from harness.conformance.model import count_text, model_run
from harness.conformance.protocol import (
    INVALID_SOCKET_WIRE,
    ProtocolError,
    call_request,
    parse_response,
    request,
)
from harness.conformance.report import (
    Report,
    judge_row,
    render_markdown,
    render_text,
    run_report,
    stale_entries,
)
from harness.conformance.session import render_call, unsupported
from harness.conformance.wine import WINE_CAPABILITIES
from harness.lang.parser import parse
from harness.lang.program import Program
from harness.vocab.constants import Op
from harness.vocab.profiles import DOCUMENTED, WINDOWS

# --- errno -> Winsock ------------------------------------------------------------


@pytest.mark.parametrize(
    ("err", "name"),
    [
        (errno.EWOULDBLOCK, "WSAEWOULDBLOCK"),
        (errno.EAGAIN, "WSAEWOULDBLOCK"),
        (errno.EINPROGRESS, "WSAEWOULDBLOCK"),
        (errno.ECONNRESET, "WSAECONNRESET"),
        (errno.ECONNABORTED, "WSAECONNABORTED"),
        (errno.EPIPE, "WSAESHUTDOWN"),
        (errno.ENOTCONN, "WSAENOTCONN"),
        (errno.EBADF, "WSAENOTSOCK"),
        (errno.ENOTSOCK, "WSAENOTSOCK"),
        (errno.EINVAL, "WSAEINVAL"),
        (errno.EISCONN, "WSAEISCONN"),
        (errno.EADDRINUSE, "WSAEADDRINUSE"),
        (errno.ENOPROTOOPT, "WSAENOPROTOOPT"),
        (errno.EMFILE, "WSAEMFILE"),
        (errno.ECONNREFUSED, "WSAECONNREFUSED"),
        (errno.EINTR, "WSAEINTR"),
    ],
)
def test_errno_maps_to_the_winsock_error(err: int, name: str) -> None:
    assert error_text(wsa_error(err)) == name


def test_no_error_stays_zero_and_unknown_errno_keeps_its_posix_name() -> None:
    assert wsa_error(0) == 0
    code = wsa_error(errno.ENOENT)
    assert code == POSIX_ONLY + errno.ENOENT
    assert error_text(code) == "ENOENT"


def test_error_text_names_model_and_extra_codes() -> None:
    assert error_text(10054) == "WSAECONNRESET"
    assert error_text(1236) == "ERROR_CONNECTION_ABORTED"
    assert error_text(676) == "ERROR_HANDLES_CLOSED"
    assert error_text(12345) == "12345"


# --- the driver protocol -------------------------------------------------------------


def test_requests_are_single_lines_and_invalid_socket_goes_out_unsigned() -> None:
    assert request("ovl", 3) == "ovl 3\n"
    assert call_request(1, 300, "send", 72, (100, 0, 0)) == "call 1 300 send 72 100 0 0\n"
    line = call_request(0, 300, "closesocket", -1, (0, 0, 0))
    assert line.split()[4] == str(INVALID_SOCKET_WIRE) == str(2**64 - 1)
    with pytest.raises(ValueError):
        request("two words")
    with pytest.raises(TypeError):
        request(True)


def test_parse_results_blocked_and_completions() -> None:
    r = parse_response(["R -1 10054 0 0"])
    assert r.result == (-1, 10054, 0, 0) and not r.blocked
    assert parse_response(["B"]).blocked
    c = parse_response(["C 1 -1 10004 0 0", "C 0 0 0 0 0"])
    assert c.completions == [(1, (-1, 10004, 0, 0)), (0, (0, 0, 0, 0))]
    assert parse_response([]).result is None
    assert parse_response(["ready main"]).ready == "main"
    assert parse_response(["X thread is blocked"]).refused == "thread is blocked"


def test_parse_overlapped_states() -> None:
    assert parse_response(["O pending"]).ovl == ("pending", 0, 0, 0)
    assert parse_response(["O done 30 1 0 0"]).ovl == ("done", 30, 1, 0)
    assert parse_response(["O failed 676 1 1 3221226030"]).ovl == ("failed", 676, 1, 1)


@pytest.mark.parametrize(
    "line", ["R 1 2 3", "R a b c d", "C 1 2", "O done 1 2", "O maybe", "Q", "B extra", " "]
)
def test_malformed_driver_lines_are_protocol_errors(line: str) -> None:
    with pytest.raises(ProtocolError):
        parse_response([line])


# --- the model side ------------------------------------------------------------------

HEAD = "t0: startup 2.2\nt0: s1 = socket stream\n"


def test_counts_compare_by_class() -> None:
    assert [count_text(k, 100) for k in (0, 1, 99, 100)] == ["0", "partial", "partial", "100"]


def test_projection_hides_descriptor_values_and_rejected_lines() -> None:
    program = parse(HEAD + "t0: c1 = connect s1\nt1: recv s1 100\nt1: getlasterror\n")
    run = model_run(program, DOCUMENTED, LINUX_CAPABILITIES)
    assert [o.result for o in run.observations] == ["0", "ok", "0", "blocked", None]
    assert run.cut is None


def test_projection_of_completions_and_overlapped_notes() -> None:
    program = parse(
        HEAD + "t0: c1 = connect s1\nt1: recv s1 100\npeer_send c1 30\n"
        "t0: o1 = wsarecv s1 100 routine\npeer_send c1 100\novl o1\nt0: sleepex\novl o1\n"
    )
    obs = model_run(program, DOCUMENTED, WINE_CAPABILITIES).observations
    assert obs[4].completions == ("t1 recv -> partial",)
    assert obs[7].result == "done 100 routine-not-ran"
    assert obs[8].result == "1"
    assert obs[9].result == "done 100 routine-ran"


def test_the_cut_stops_where_the_models_small_buffers_hold_data_back() -> None:
    program = parse(HEAD + "t0: c1 = connect s1 window=100\nt0: send s1 300\npeer_recv c1 50\n")
    # with nothing assumed delivered, no step is compared once data is held back
    caps = replace(LINUX_CAPABILITIES, delivery=0)
    run = model_run(program, DOCUMENTED, caps)
    assert run.cut is not None
    assert run.cut[0] == 4 and "hold back data" in run.cut[1] and "line 5" in run.cut[1]


HELD = HEAD + "t0: c1 = connect s1 window=100\nt0: send s1 300\n"


@pytest.mark.parametrize(
    ("steps", "cut"),
    [
        # the peer reads what the model's peer can: the real one has it too (D85)
        ("peer_recv c1 100\npeer_recv c1 100\npeer_recv c1 100\npeer_recv c1 10\n", None),
        # a graceful close, a shutdown, steps on another socket: no step tells
        ("t0: closesocket s1\npeer_recv c1 100\n", None),
        ("t0: shutdown s1 SD_SEND\nt0: s2 = socket stream\nt0: closesocket s2\n", None),
        # more than the model's peer has: the real peer reads more
        ("peer_recv c1 300\n", "peer_recv reads"),
        ("peer_recv c1 100\npeer_recv c1 150\n", "peer_recv reads"),
        # a linger close waits for (or discards) what only the model holds
        ("t0: setsockopt s1 SO_LINGER 1 10\nt0: closesocket s1\n", "hold back data"),
        ("t0: setsockopt s1 SO_LINGER 1 0\nt0: closesocket s1\n", "hold back data"),
        # the peer's own steps meet the data the real peer holds unread
        ("peer_send c1 10\n", "hold back data"),
        ("peer_close c1\n", "hold back data"),
        ("t0: cleanup\n", "hold back data"),
    ],
)
def test_steps_that_cannot_tell_where_held_back_data_waits_are_compared(
    steps: str, cut: str | None
) -> None:
    run = model_run(parse(HELD + steps), DOCUMENTED, WINE_CAPABILITIES)
    if cut is None:
        assert run.cut is None, run.cut
    else:
        assert run.cut is not None and cut in run.cut[1], run.cut
        assert run.cut[0] == len((HELD + steps).splitlines()) - 1


def test_held_back_data_past_what_a_real_stack_delivers_at_once_cuts() -> None:
    program = parse(
        "@limits sndbuf=200000\n" + HEAD + "t0: c1 = connect s1 window=100\n"
        "t0: send s1 70000\npeer_recv c1 100\n"
    )
    run = model_run(program, DOCUMENTED, LINUX_CAPABILITIES)
    assert run.cut is not None and run.cut[0] == 4 and "hold back data" in run.cut[1]


def test_the_cut_stops_at_a_send_limited_by_sndbuf() -> None:
    program = parse("@limits sndbuf=100\n" + HEAD + "t0: c1 = connect s1\nt0: send s1 300\n")
    run = model_run(program, DOCUMENTED, LINUX_CAPABILITIES)
    assert run.cut is not None and run.cut[0] == 3 and "limit this send" in run.cut[1]


def test_a_saturating_send_fills_both_and_the_comparison_goes_on() -> None:
    program = parse(
        HEAD + "t0: c1 = connect s1 window=0\nt0: ioctlsocket s1 FIONBIO 1\n"
        "t0: send s1 33554432\nt0: setsockopt s1 SO_LINGER 1 1\nt0: closesocket s1\n"
        "peer_recv c1 10\n"
    )
    run = model_run(program, DOCUMENTED, LINUX_CAPABILITIES)
    assert run.observations[4].result == "partial"
    assert run.observations[6].result == "SOCKET_ERROR WSAEWOULDBLOCK"
    # reading a connection the model holds back is not comparable
    assert run.cut is not None and run.cut[0] == 7


def test_socket_limits_of_the_model_cut() -> None:
    program = parse("@limits sockets=1\n" + HEAD + "t0: s2 = socket stream\n")
    run = model_run(program, DOCUMENTED, LINUX_CAPABILITIES)
    assert run.cut is not None and run.cut[0] == 2


# --- support -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("t2: startup 2.2\n", "process p1"),
        (HEAD + "t0: closesocket #4\n", "raw descriptor"),
        (HEAD + "t0: s2 = duplicate s1 1\n", "into process 0"),
        ("t0: startup 2.2\nt0: s1 = socket dgram\nt0: send s1 10\n", "datagram"),
        (HEAD + "t0: c1 = connect s1\nt0: send s1 100000000\n", "counts above"),
        (HEAD + "net_down\n", "net_down"),
    ],
)
def test_unsupported_steps_name_the_step_and_line(text: str, why: str) -> None:
    program = parse(text, "p.wsa")
    found = unsupported(program, WINE_CAPABILITIES)
    assert found is not None
    step, reason = found
    assert why in reason and f"at line {step.line}" in reason


@pytest.mark.parametrize(
    "line", ["t0: cleanup", "t0: asyncselect s1 FD_READ", "t0: o1 = wsarecv s1 10 event"]
)
def test_linux_declares_fewer_steps_than_wine(line: str) -> None:
    program = parse(HEAD + line + "\n")
    assert unsupported(program, WINE_CAPABILITIES) is None
    found = unsupported(program, LINUX_CAPABILITIES)
    assert found is not None and f"`{line}` at line 3" in found[1]


def test_render_call_uses_the_model_vocabulary() -> None:
    assert render_call(Op.SOCKET, (72, 0, 0, 0), 0) == "ok"
    assert render_call(Op.SOCKET, (-1, 10093, 0, 0), 0) == "INVALID_SOCKET WSANOTINITIALISED"
    assert render_call(Op.STARTUP, (10092, 0, 0, 0), 0) == "WSAVERNOTSUPPORTED"
    assert render_call(Op.GETSOCKOPT_LINGER, (0, 0, 1, 7), 0) == "0 {onoff=1, linger=7}"
    assert render_call(Op.RECV, (30, 0, 0, 0), 100) == "partial"
    assert render_call(Op.CLOSESOCKET, (-1, 10035, 0, 0), 0) == "SOCKET_ERROR WSAEWOULDBLOCK"


# --- verdicts ------------------------------------------------------------------------

ALL = frozenset({RESULTS, PEER, COMPLETIONS})
TEXT = HEAD + "t0: c1 = connect s1\nt0: send s1 100\npeer_recv c1 200\n"


def _judge(real: list[Observation], **kw: object) -> tuple[str, str]:
    program = parse(TEXT, "p.wsa")
    model = model_run(program, DOCUMENTED, LINUX_CAPABILITIES)
    v = judge(program, DOCUMENTED, "linux", ALL, model, RealRun(tuple(real), **kw))  # type: ignore[arg-type]
    return v.kind, v.reason


def _model_obs() -> list[Observation]:
    program = parse(TEXT, "p.wsa")
    return list(model_run(program, DOCUMENTED, LINUX_CAPABILITIES).observations)


def test_identical_observations_agree_and_unknown_results_are_not_compared() -> None:
    obs = _model_obs()
    assert _judge(obs)[0] == AGREE
    obs[0] = Observation(None)  # a made-up startup result
    assert _judge(obs)[0] == AGREE


def test_the_first_difference_is_reported_with_its_line() -> None:
    obs = _model_obs()
    obs[4] = Observation("SOCKET_ERROR WSAECONNRESET")
    obs[3] = Observation("SOCKET_ERROR WSAENOTSOCK")
    kind, reason = _judge(obs)
    assert kind == DIFFER and reason.startswith("line 4: `t0: send s1 100`: result")


def test_completions_differ_too() -> None:
    obs = _model_obs()
    obs[2] = Observation("0", ("t1 recv -> 0",))
    assert _judge(obs)[1] == "line 3: `t0: c1 = connect s1`: completions"


def test_an_early_stop_compares_up_to_its_line_and_an_engine_failure_is_an_error() -> None:
    obs = _model_obs()
    assert _judge(obs[:2], stopped=(2, "advance too long (line 3)")) == (
        PARTIAL,
        "advance too long (line 3)",
    )
    assert _judge(obs[:0], stopped=(0, "advance too long (line 1)"))[0] == SKIPPED
    assert _judge(obs[:2], stopped=(2, "engine failed: x"), failed=True)[0] == ERROR


def test_a_cut_with_an_agreeing_prefix_compares_up_to_its_line_and_names_the_reason() -> None:
    program = parse(HEAD + "t0: c1 = connect s1 window=10\nt0: send s1 100\npeer_recv c1 50\n")
    model = model_run(program, WINDOWS, LINUX_CAPABILITIES)
    v = judge(program, WINDOWS, "linux", ALL, model, RealRun(model.observations[:4]))
    assert v.kind == PARTIAL and v.upto == 5 and v.compared == 4
    assert v.summary().startswith("compared up to line 5 (4 steps agree): stopped before line 5")


def test_an_unsupported_step_ends_the_comparison_there() -> None:
    program = parse(HEAD + "t0: c1 = connect s1\nt2: startup 2.2\nt0: send s1 1\n")
    model = model_run(program, WINDOWS, LINUX_CAPABILITIES)
    real = RealRun(model.observations[:4])
    v = judge(program, WINDOWS, "linux", ALL, model, real, (4, "unsupported step t2"))
    assert (v.kind, v.upto, v.reason, v.compared) == (PARTIAL, 5, "unsupported step t2", 4)
    v = judge(program, WINDOWS, "linux", ALL, model, RealRun(()), (0, "unsupported"))
    assert (v.kind, v.compared) == (SKIPPED, 0)


# --- known differences ---------------------------------------------------------------

KNOWN_TEXT = """\
# differences no switch expresses
[blocked-send]
engine: wine
call: send
field: completions
when: blocked_send !reset
reason: engine bug: a blocked send is not woken by closesocket # not a comment
seen: c08-close-wakes-blocked-send.wsa

[connect-nonblocking]
engine: wine
call: connect, recv
field: result
reason: model restriction: connect completes at once
seen: 017-asyncselect.wsa c18.wsa
"""


def test_known_file_entries_skip_comments_and_blank_lines() -> None:
    entries = parse_known(KNOWN_TEXT, "wine.txt", "wine")
    assert list(entries) == ["blocked-send", "connect-nonblocking"]
    e = entries["blocked-send"]
    assert (e.engine, e.calls, e.fields, e.terms, e.source) == (
        "wine",
        frozenset({"send"}),
        frozenset({"completions"}),
        ((("blocked_send", True), ("reset", False)),),
        "wine.txt:2",
    )
    assert e.reason.endswith("# not a comment") and e.seen == ("c08-close-wakes-blocked-send.wsa",)
    c = entries["connect-nonblocking"]
    assert c.calls == frozenset({"connect", "recv"}) and c.terms == ((),) and len(c.seen) == 2
    assert parse_known("", "empty.txt") == {}


_GOOD = {
    "engine": "wine",
    "call": "send",
    "field": "result",
    "when": "connected",
    "reason": "engine bug: x",
    "seen": "a.wsa",
}


def _block(**change: str | None) -> str:
    fields = {**_GOOD, **change}
    return "[e]\n" + "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (_block(engine="linux"), 2, "[e] is about 'linux', this file is wine's"),
        (_block(field="result2"), 4, "field must be one of result, completions, messages"),
        (_block(field="result, message"), 4, "field must be one of result, completions"),
        (_block(when="twin_clsoed"), 5, "unknown fact 'twin_clsoed' (did you mean twin_closed?)"),
        (_block(reason="a bug"), 6, "the reason must start with 'engine bug:'"),
        (_block(seen="c08"), 7, "seen: the programs' file names (NAME.wsa, no folder)"),
        (_block(seen="x/c08.wsa"), 7, "no folder"),
        (_block(call=" , "), 3, "[e] names no call"),
        (_block(reason=None), 1, "[e] has no reason:"),
        (_block(seen=None), 1, "[e] has no seen:"),
        ("call: send\n", 1, "'call: send' before the first [NAME]"),
        ("[e]\nwhy: x\n", 2, "expected KEY: VALUE"),
        ("[e f]\n", 1, "an entry starts with [NAME]"),
        ("[e]\ncall: a\ncall: b\n", 3, "call given twice"),
        (_block() + _block(), 8, "e is already an entry at k.txt:1"),
    ],
)
def test_malformed_known_entries_say_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(KnownFileError) as info:
        parse_known(text, "k.txt", "wine")
    assert str(info.value).startswith(f"k.txt:{line}: "), str(info.value)
    assert message in str(info.value)


def test_the_repository_known_files_parse_and_name_existing_programs() -> None:
    root = Path(__file__).resolve().parents[2]
    folders = (root / "corpus" / "seeds", root / "conformance" / "programs")
    for engine in ("linux", "wine"):
        entries = load_known(root / "conformance" / "known" / f"{engine}.txt", engine)
        for e in entries.values():
            for program in e.seen:
                assert any((f / program).is_file() for f in folders), (e.name, program)


def test_unreadable_known_files_are_known_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KnownFileError, match="missing.txt: "):
        load_known(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"# fine\n[caf\xe9]\n")
    with pytest.raises(KnownFileError, match=r"bad.txt:2: not UTF-8 text"):
        load_known(bad)
    good = tmp_path / "good.txt"
    good.write_text(KNOWN_TEXT)
    assert load_known(good)["connect-nonblocking"].source == f"{good}:10"


ENTRY = parse_known(_block(), "k.txt")["e"]


def _differ(line: int, call: str = "send", facts: tuple[str, ...] = ("connected",)) -> Verdict:
    return Verdict(
        DIFFER,
        f"line {line}: `t0: {call} s1 10`: result",
        ("a", "b", "c"),
        5,
        line,
        field="result",
        call=call,
        index=line - 1,
        facts=frozenset(facts),
    )


def test_a_difference_where_the_condition_holds_is_known_in_any_program() -> None:
    v, entry = apply_known(_differ(8), {"e": ENTRY})
    assert entry is ENTRY
    assert (v.kind, v.note, v.line, v.detail) == (KNOWN, "[e] engine bug: x", 8, ("a", "b", "c"))
    assert v.summary() == "known: line 8: `t0: send s1 10`: result ([e] engine bug: x)"
    assert apply_known(_differ(3, facts=("connected", "reset")), [ENTRY])[0].kind == KNOWN


def test_an_entry_of_two_fields_covers_an_outcome_shown_in_either() -> None:
    # a send that fails at once in some runs (result) and stays blocked in others
    # (the completion the model expects never comes): one entry, one condition
    entry = parse_known(_block(field="result, completions"), "k.txt")["e"]
    assert entry.fields == frozenset({"result", "completions"})
    for v in (_differ(8), replace(_differ(8), field="completions")):
        assert apply_known(v, [entry])[0].kind == KNOWN
    assert apply_known(replace(_differ(8), field="messages"), [entry])[0].kind == DIFFER
    assert apply_known(_differ(8, facts=("stream",)), [entry])[0].kind == DIFFER


@pytest.mark.parametrize(
    "verdict",
    [
        _differ(8, facts=("stream",)),  # the condition does not hold
        _differ(8, call="recv"),  # another call
        replace(_differ(8), field="completions"),  # another field
        Verdict(ERROR, "engine failed: x"),
        Verdict(AGREE, compared=3),
    ],
)
def test_a_difference_the_entry_does_not_cover_stays(verdict: Verdict) -> None:
    assert apply_known(verdict, [ENTRY]) == (verdict, None)


def _report(rows: list[tuple[str, dict[str, Verdict]]], known: dict[str, KnownEntry]) -> Report:
    judged = [judge_row(name, v, "wine", known)[0] for name, v in rows]
    stale, unused = stale_entries(judged, "wine", known)
    return Report(
        "wine",
        ("documented", "windows", "wine"),
        tuple(judged),
        1.0,
        "wine",
        "conformance/known/wine.txt",
        tuple(stale),
        tuple(unused),
    )


def test_only_the_engines_own_profile_and_errors_fail_the_check() -> None:
    agree = Verdict(AGREE, compared=3)
    report = _report(
        [
            ("a/x.wsa", {"documented": _differ(8), "windows": _differ(8), "wine": agree}),
            ("a/a.wsa", {"documented": _differ(8), "windows": agree, "wine": _differ(8)}),
            ("a/q.wsa", {"documented": agree, "windows": agree, "wine": _differ(4, "recv")}),
            ("a/r.wsa", {"documented": Verdict(ERROR, "boom"), "windows": agree, "wine": agree}),
        ],
        {"e": ENTRY},
    )
    assert report.rows[1].verdicts["wine"].kind == KNOWN
    assert report.rows[1].verdicts["documented"].kind == DIFFER  # the list is for `wine` only
    assert report.failures() == [
        "a/q.wsa [wine]: differ: line 4: `t0: recv s1 10`: result",
        "a/r.wsa [documented]: error: boom",
    ]
    assert report.counts("wine") == {
        AGREE: 2,
        PARTIAL: 0,
        DIFFER: 1,
        KNOWN: 1,
        SKIPPED: 0,
        ERROR: 0,
    }


@pytest.mark.parametrize(
    ("verdict", "now"),
    [
        (Verdict(AGREE, compared=9), "a.wsa now agrees with `wine`"),
        (
            _differ(9, facts=("stream",)),
            "a.wsa now differs from `wine` at line 9 in result of send, where `connected` "
            "does not hold",
        ),
        (Verdict(PARTIAL, "stopped", compared=2, upto=3), "a.wsa now is partial under `wine`"),
    ],
)
def test_an_entry_its_seen_program_no_longer_shows_is_stale(verdict: Verdict, now: str) -> None:
    agree = Verdict(AGREE, compared=3)
    report = _report(
        [("a/a.wsa", {"documented": agree, "windows": agree, "wine": verdict})], {"e": ENTRY}
    )
    assert len(report.stale) == 1 and report.stale[0].startswith("k.txt:1: stale known entry [e]: ")
    assert now in report.stale[0]
    assert report.failures()[-1] == report.stale[0]


def test_known_verdicts_show_in_the_tables_with_their_reason() -> None:
    v = replace(
        _differ(8),
        detail=("a/a.wsa:8: t0: send s1 10", "  model (wine): -> 10", "  wine: -> blocked"),
    )
    report = _report([("a/a.wsa", {"documented": v, "windows": v, "wine": v})], {"e": ENTRY})
    text = render_text(report)
    assert "a/a.wsa: documented=differ line 8  windows=differ line 8  wine=known line 8" in text
    assert "  known (wine): [e] engine bug: x" in text
    assert (
        "wine vs wine (the engine's own profile): 0 agree, 0 agree up to a line, 0 differ, 1 known"
        in text
    )
    md = render_markdown(report, "wsa-harness conformance --engine wine a")
    assert "| `a.wsa` | differ line 8 | differ line 8 | known line 8 |" in md
    assert "- known differences: `conformance/known/wine.txt`" in md
    assert (
        "- `a.wsa` line 8: `t0: send s1 10`: model (wine): -> 10; model (wine): -> 10; "
        "model (wine): -> 10; wine: -> blocked (known (wine): [e] engine bug: x)"
    ) in md


class _FakeEngine(FixedEngine):
    """The model's own observations under `documented`, with one result changed."""

    name = "fake"
    capabilities = LINUX_CAPABILITIES

    def __init__(self, change: dict[str, tuple[int, str]]) -> None:
        self.change = change

    def observe(self, program: Program) -> RealRun:
        obs = list(model_run(program, DOCUMENTED, self.capabilities).observations)
        if program.filename in self.change:
            i, text = self.change[program.filename]
            obs[i] = Observation(text)
        return RealRun(tuple(obs))


def test_run_report_applies_the_known_list_to_the_measured_profile() -> None:
    programs = [parse(TEXT, f"d/{n}.wsa") for n in ("same", "listed", "moved", "new")]
    engine = _FakeEngine(
        {
            "d/listed.wsa": (3, "SOCKET_ERROR WSAENOTSOCK"),
            "d/moved.wsa": (4, "0"),
            "d/new.wsa": (3, "SOCKET_ERROR WSAENOTSOCK"),
        }
    )
    text = (
        "[send]\nengine: fake\ncall: send\nfield: result\nwhen: connected !reset\n"
        "reason: engine bug: s\nseen: listed.wsa\n"
        "[peer]\nengine: fake\ncall: peer_recv\nfield: result\nwhen: reset\n"
        "reason: open question: p\nseen: moved.wsa\n"
        "[gone]\nengine: fake\ncall: recv\nfield: result\n"
        "reason: engine bug: g\nseen: gone.wsa\n"
    )
    known = parse_known(text, "k", "fake")
    report = run_report(engine, programs, [DOCUMENTED, WINDOWS], "documented", None, known, "k")
    kinds = [r.verdicts["documented"].kind for r in report.rows]
    # the send entry matches wherever its condition holds: new.wsa too
    assert kinds == [AGREE, KNOWN, DIFFER, KNOWN]
    assert [r.verdicts["windows"].kind for r in report.rows] == [AGREE, DIFFER, DIFFER, DIFFER]
    assert report.stale == (
        "k:8: stale known entry [peer]: moved.wsa now differs from `documented` at line 5 in "
        "result of peer_recv, where `reset` does not hold",
    )
    assert report.unused == ("k:15: known entry [gone]: no seen program was run",)
    assert report.failures() == [report.failures()[0], report.stale[0]]
    assert report.failures()[0].startswith("d/moved.wsa [documented]: differ")


def test_a_malformed_known_file_exits_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli.main import main

    bad = tmp_path / "linux.txt"
    bad.write_text("# ok\n[e]\nfield: results\n")
    assert main(["conformance", "--engine", "linux", "--known", str(bad), "--check"]) == 2
    err = capsys.readouterr().err
    assert err == f"{bad}:2: [e] has no engine:\n"


def test_an_intermittent_entry_is_not_stale_when_its_program_agrees() -> None:
    entry = parse_known(_block(intermittent="yes"), "k.txt")["e"]
    assert entry.intermittent
    agree = Verdict(AGREE, compared=3)
    report = _report(
        [("a/a.wsa", {"documented": agree, "windows": agree, "wine": agree})], {"e": entry}
    )
    assert report.stale == ()
    other = _differ(9, call="recv")
    report = _report(
        [("a/a.wsa", {"documented": agree, "windows": agree, "wine": other})], {"e": entry}
    )
    assert len(report.stale) == 1 and "now differs from `wine` at line 9" in report.stale[0]
    with pytest.raises(KnownFileError, match="intermittent: yes or no"):
        parse_known(_block(intermittent="maybe"), "k.txt")


def test_a_step_that_brings_the_engine_down_ends_the_comparison_before_it() -> None:
    crash = ((Op.CLOSESOCKET, "blocked_send nonblocking", "the engine aborts here"),)
    caps = replace(LINUX_CAPABILITIES, crashes=crash)
    body = "t0: c1 = connect s1 window=0\nt1: send s1 33554432\n"
    fatal = parse(HEAD + body + "t0: ioctlsocket s1 FIONBIO 1\nt0: closesocket s1\n")
    run = model_run(fatal, DOCUMENTED, caps)
    assert run.crash is not None and run.crash[0] == 5
    assert "the engine aborts here" in run.crash[1] and "line 6" in run.crash[1]
    assert run.cut is not None and run.cut[0] == 5
    # the same close of a blocking socket is not the crash (D84)
    survived = parse(HEAD + body + "t0: closesocket s1\n")
    assert model_run(survived, DOCUMENTED, caps).crash is None


def test_a_saturating_send_the_models_window_takes_whole_ends_the_comparison() -> None:
    caps = replace(LINUX_CAPABILITIES, saturation=5000)
    whole = parse(HEAD + "t0: c1 = connect s1 window=100000\nt0: send s1 5000\n")
    run = model_run(whole, DOCUMENTED, caps)
    assert run.cut is not None and run.cut[0] == 3 and "takes this send" in run.cut[1]
    # a small window holds it back: the real stack is full too, and it is compared
    held = parse(HEAD + "t0: c1 = connect s1 window=100\nt0: send s1 5000\n")
    assert model_run(held, DOCUMENTED, caps).cut is None
