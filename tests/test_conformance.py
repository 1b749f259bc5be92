"""Conformance machinery without a real implementation: the errno mapping, the
Wine driver's line protocol, the model's projection and buffering cut, the
static support check and the verdicts."""

from __future__ import annotations

import errno

import pytest

from harness.constants import Op
from harness.external import COMPLETIONS, PEER, RESULTS, Observation, RealRun
from harness.external.compare import AGREE, DIFFER, ERROR, SKIPPED, judge
from harness.external.errnomap import POSIX_ONLY, error_text, wsa_error
from harness.external.linux import LINUX_CAPABILITIES
from harness.external.model import count_text, model_run
from harness.external.protocol import (
    INVALID_SOCKET_WIRE,
    ProtocolError,
    call_request,
    parse_response,
    request,
)
from harness.external.session import render_call, unsupported
from harness.external.wine import WINE_CAPABILITIES
from harness.parser import parse
from harness.profiles import DOCUMENTED, WINDOWS

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
    run = model_run(program, DOCUMENTED, LINUX_CAPABILITIES)
    assert run.cut is not None
    assert run.cut[0] == 4 and "hold back data" in run.cut[1] and "line 5" in run.cut[1]


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
        (HEAD + "t0: s2 = duplicate s1 1\n", "same process"),
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


def test_an_early_stop_is_a_skip_and_an_engine_failure_an_error() -> None:
    obs = _model_obs()
    assert _judge(obs[:2], stopped=(2, "advance too long (line 3)")) == (
        SKIPPED,
        "advance too long (line 3)",
    )
    assert _judge(obs[:2], stopped=(2, "engine failed: x"), failed=True)[0] == ERROR


def test_a_cut_with_an_agreeing_prefix_is_skipped_and_names_the_reason() -> None:
    program = parse(HEAD + "t0: c1 = connect s1 window=10\nt0: send s1 100\nt0: recv s1 1\n")
    model = model_run(program, WINDOWS, LINUX_CAPABILITIES)
    v = judge(program, WINDOWS, "linux", ALL, model, RealRun(model.observations[:4]))
    assert v.kind == SKIPPED and "the 4 steps before agree" in v.reason
