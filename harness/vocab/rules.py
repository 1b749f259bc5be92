"""Every rule the model applies: id -> section, source and the sentence behind it.

The ids ``CS-*`` and ``MS-1`` are SEMANTICS.md's own.  The others are minted
by this project for the numbered rules SEMANTICS.md states without an id
(docs/decisions.md D1); each names its section.  Sources:

* ``doc``: the source document ``closesocket.txt`` (quoted);
* ``ev X``: EVIDENCE.md item X;
* ``spec``: SEMANTICS.md states it (as a model rule or restriction);
* ``decision``: SEMANTICS.md marks it as the model's choice;
* ``measured P``: docs/profiles.md, from the conformance program(s) P.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    section: str
    source: str
    text: str


def _r(rid: str, section: str, source: str, text: str) -> Rule:
    return Rule(rid, section, source, text)


_RULES = [
    # §4 common rules
    _r("CS-E1", "§4", "doc", "A successful WSAStartup must occur before using this function."),
    _r("CS-E2", "§4", "doc", "The network subsystem has failed."),
    _r("CS-E3", "§4", "doc", "further references to s will fail with the error WSAENOTSOCK"),
    _r(
        "CS-E4",
        "§4",
        "doc",
        "A blocking Windows Sockets 1.1 call is in progress, or the "
        "service provider is still processing a callback function",
    ),
    _r(
        "REJ-1",
        "§4",
        "spec",
        "A line for a thread that is blocked (and not under version 1) "
        "is rejected. Nothing changes, and last_error is kept.",
    ),
    # §5.1 lifecycle and options
    _r("SU-1", "§5.1 startup", "ev A6", "If M is 0 it returns WSAVERNOTSUPPORTED directly."),
    _r(
        "SU-2",
        "§5.1 startup",
        "ev A5",
        "startup_count += 1, version = 1 if M == 1 else 2, "
        "returns 0; a successful startup sets last_error to 0.",
    ),
    _r("CU-1", "§5.1 cleanup", "ev A4", "If startup_count is 0: SOCKET_ERROR WSANOTINITIALISED."),
    _r("CU-2", "§5.1 cleanup", "ev A5", "startup_count -= 1. If it is still above 0, return 0."),
    _r(
        "CU-3",
        "§5.1 cleanup",
        "ev A7",
        "When it reaches 0, the process's sockets are 'reset and "
        "automatically deallocated as if closesocket were called': each descriptor in ascending "
        "value gets CS-7 with the documented cancellation switches, then CS-8, and on the last "
        "reference CS-9 with the abortive branch CS-9c (CS-9a if datagram, not connected, or "
        "reset).",
    ),
    _r(
        "CU-4",
        "§5.1 cleanup",
        "decision",
        "Each thread of P still blocked, in thread order, "
        "completes with SOCKET_ERROR WSAEINTR; a linger close among them first becomes abortive.",
    ),
    _r(
        "CU-5",
        "§5.1 cleanup",
        "ev A7",
        "Each of P's operations still pending, in id order, "
        "fails with WSA_OPERATION_ABORTED, unsignaled or routine-none.",
    ),
    _r("SO-1", "§5.1 socket", "spec", "P's table is full: INVALID_SOCKET WSAEMFILE."),
    _r(
        "SO-2",
        "§5.1 socket",
        "decision",
        "Non-destroyed sockets number `sockets`: INVALID_SOCKET WSAENOBUFS.",
    ),
    _r(
        "SO-3",
        "§5.1 socket",
        "spec",
        "Otherwise it creates a socket with refs 1 and returns the "
        "new value, the lowest free multiple of 4 in the process's table.",
    ),
    _r("BI-1", "§5.1 bind", "spec", "Already bound, or connected: WSAEINVAL."),
    _r(
        "BI-2",
        "§5.1 bind",
        "spec",
        "Any non-destroyed socket of either type holds PORT: WSAEADDRINUSE.",
    ),
    _r("BI-3", "§5.1 bind", "spec", "Otherwise it binds the port and returns 0."),
    _r("CN-1", "§5.1 connect", "spec", "Datagram: WSAEOPNOTSUPP (model restriction)."),
    _r("CN-2", "§5.1 connect", "spec", "connected (ever; it is never cleared): WSAEISCONN."),
    _r(
        "CN-3",
        "§5.1 connect",
        "spec",
        "Otherwise it creates the peer, sets connected, and "
        "returns 0; FD_WRITE is posted if the registration has it.",
    ),
    _r(
        "OPT-1",
        "§5.1 setsockopt/getsockopt",
        "ev D6",
        "SO_LINGER and SO_DONTLINGER on a datagram socket give WSAENOPROTOOPT.",
    ),
    _r("OPT-2", "§5.1 setsockopt", "ev D5", "SO_LINGER stores onoff and secs as given."),
    _r(
        "OPT-3",
        "§5.1 setsockopt",
        "ev D10",
        "SO_DONTLINGER V != 0 sets onoff to 0; V = 0 sets onoff to 1; secs is kept either way.",
    ),
    _r("OPT-4", "§5.1 getsockopt", "ev D5", "getsockopt SO_LINGER returns {onoff, linger}."),
    _r(
        "OPT-5",
        "§5.1 getsockopt",
        "ev D7",
        "getsockopt SO_DONTLINGER returns 1 if onoff == 0, else 0.",
    ),
    _r("NB-1", "§5.1 ioctlsocket", "ev G8", "FIONBIO 0 while a registration exists: WSAEINVAL."),
    _r("NB-2", "§5.1 ioctlsocket", "spec", "Otherwise it sets nonblocking = (V != 0)."),
    _r("SD-1", "§5.1 shutdown", "ev I2", "HOW not 0, 1 or 2: WSAEINVAL."),
    _r("SD-2", "§5.1 shutdown", "ev I2", "Not connected: WSAENOTCONN."),
    _r(
        "SD-3",
        "§5.1 shutdown",
        "ev F11",
        "SD_RECEIVE sets sd_recv, SD_SEND sets sd_send, SD_BOTH "
        "both; returns 0, on a reset connection too. Pending operations are not cancelled.",
    ),
    _r(
        "AS-1",
        "§5.1 asyncselect",
        "spec",
        "asyncselect sets nonblocking; MASK 0 removes the registration.",
    ),
    _r(
        "AS-2",
        "§5.1 asyncselect",
        "ev C9",
        "Otherwise it replaces the socket's registration, "
        "which duplicates share, with (P, S, MASK), and returns 0.",
    ),
    _r(
        "AS-3",
        "§5.1 asyncselect",
        "ev G3",
        "At registration it posts, in bit order, FD_READ if "
        "recv_queue > 0, FD_WRITE if connected, not reset and space > 0, FD_CLOSE if close_seen "
        "(subject to fd_close_timing).",
    ),
    _r("DU-1", "§5.1 duplicate", "ev C1", "PID not 0 or 1: WSAEINVAL."),
    _r("DU-2", "§5.1 duplicate", "spec", "The target has startup_count 0: WSANOTINITIALISED."),
    _r("DU-3", "§5.1 duplicate", "spec", "The target's table is full: WSAEMFILE."),
    _r(
        "DU-4",
        "§5.1 duplicate",
        "ev C9",
        "Otherwise it adds an entry in PID's table, refs += 1, "
        "and returns the value; options are shared, the registration is not copied.",
    ),
    _r("CB-1", "§5.1 cancelblocking", "spec", "Version 2: SOCKET_ERROR WSAEOPNOTSUPP."),
    _r("CB-2", "§5.1 cancelblocking", "spec", "The thread is not blocked: SOCKET_ERROR WSAEINVAL."),
    _r(
        "CB-3",
        "§5.1 cancelblocking",
        "doc",
        "Returns 0; the blocked operation completes with "
        "SOCKET_ERROR WSAEINTR: 'The (blocking) call was canceled through "
        "WSACancelBlockingCall'.",
    ),
    _r("LE-1", "§5.1 getlasterror", "decision", "Returns the thread's last_error."),
    _r("GM-1", "§5.1 getmessage", "spec", "Pops P's oldest message, or returns none."),
    _r(
        "SX-1",
        "§5.1 sleepex",
        "decision",
        "Runs the thread's queued routines in order, marks "
        "each routine-ran, and returns how many ran.",
    ),
    # §5.2 data transfer
    _r("TX-1", "§5.2", "spec", "Datagram, or not connected: WSAENOTCONN."),
    _r("TX-2", "§5.2", "spec", "reset: WSAECONNRESET, even if recv_queue still has data."),
    _r(
        "TX-3",
        "§5.2",
        "ev I2",
        "send or wsasend after sd_send, or a new recv or wsarecv after sd_recv: WSAESHUTDOWN.",
    ),
    _r(
        "TX-4",
        "§5.2",
        "spec",
        "N = 0: returns 0 with no other effect; an overlapped operation "
        "is created done 0, with notification.",
    ),
    _r("SEND-1", "§5.2 send", "spec", "No send is waiting and space >= N: queue N and return N."),
    _r(
        "SEND-2",
        "§5.2 send",
        "spec",
        "Nonblocking: queue k = min(N, space) (0 if a send is "
        "waiting) and return k; k = 0 fails with WSAEWOULDBLOCK and sets write_blocked.",
    ),
    _r(
        "SEND-3",
        "§5.2 send",
        "spec",
        "Blocking: queue what fits, then block until all N bytes are queued, and complete with N.",
    ),
    _r(
        "WSEND-1",
        "§5.2 wsasend",
        "spec",
        "All N bytes fit now: queue them; the operation is "
        "done N with its notification; returns 0.",
    ),
    _r(
        "WSEND-2",
        "§5.2 wsasend",
        "spec",
        "Otherwise queue what fits, return SOCKET_ERROR "
        "WSA_IO_PENDING, and complete as space frees.",
    ),
    _r(
        "RECV-1",
        "§5.2 recv",
        "spec",
        "recv_queue > 0: take min(N, recv_queue); post FD_READ if data remains.",
    ),
    _r("RECV-2", "§5.2 recv", "spec", "peer_fin: return 0."),
    _r("RECV-3", "§5.2 recv", "spec", "Nonblocking: WSAEWOULDBLOCK."),
    _r("RECV-4", "§5.2 recv", "spec", "Otherwise it blocks as an operation."),
    _r(
        "WRECV-1",
        "§5.2 wsarecv",
        "spec",
        "Data or FIN available: done at once, as recv would return; the call returns 0.",
    ),
    _r("WRECV-2", "§5.2 wsarecv", "spec", "Otherwise SOCKET_ERROR WSA_IO_PENDING."),
    _r(
        "NT-1",
        "§5.2 notification",
        "decision",
        "Event mode: signaled on completion. Routine "
        "mode: routine-queued, joining the issuing thread's queue; immediate completion too.",
    ),
    # §6 settling
    _r(
        "ST-1",
        "§6",
        "spec",
        "Deliver d = min(send_queue, window - buffered) while the network "
        "is up and the connection not reset.",
    ),
    _r(
        "ST-1R",
        "§6",
        "decision",
        "Data delivered to a closed peer application resets the "
        "connection instead (TCP); the bytes count as discarded.",
    ),
    _r(
        "ST-2",
        "§6",
        "spec",
        "Freed space goes to waiting sends in id order; those now fully "
        "queued complete with N (send) or done N (wsasend).",
    ),
    _r("ST-3", "§6", "spec", "write_blocked and space > 0: clear it and post FD_WRITE."),
    _r(
        "ST-4",
        "§6",
        "spec",
        "Network up, send_queue empty, no send waiting, sd_send or "
        "closing, FIN not sent: send FIN.",
    ),
    _r(
        "ST-5",
        "§6",
        "spec",
        "closing and fin_sent: destroy the socket; a linger close blocked on it completes with 0.",
    ),
    # §7 environment
    _r(
        "ENV-1",
        "§7",
        "spec",
        "advance adds MS to the clock, then settles; net_down and net_up "
        "switch the network. They print ok.",
    ),
    _r("PEER-1", "§7 peer steps", "spec", "Network down: SOCKET_ERROR WSAENETDOWN."),
    _r(
        "PEER-2", "§7 peer steps", "spec", "No such peer, or peer.closed: SOCKET_ERROR WSAENOTSOCK."
    ),
    _r("PEER-3", "§7 peer steps", "spec", "peer.reset: SOCKET_ERROR reset_code."),
    _r("PR-1", "§7 peer_recv", "spec", "buffered > 0: read k = min(N, buffered), return k."),
    _r("PR-2", "§7 peer_recv", "spec", "fin: return 0."),
    _r("PR-3", "§7 peer_recv", "spec", "Otherwise SOCKET_ERROR WSAEWOULDBLOCK."),
    _r(
        "PS-1",
        "§7 peer_send",
        "spec",
        "Waiting recv and wsarecv operations take the data in id "
        "order; the rest joins recv_queue; FD_READ if recv_queue was empty; returns N.",
    ),
    _r(
        "PS-2",
        "§7 peer_send",
        "spec",
        "Our socket closing or destroyed, data_after_close = "
        "discard: the data is dropped; returns N.",
    ),
    _r(
        "PS-3",
        "§7 peer_send",
        "ev E8",
        "Our socket closing or destroyed, data_after_close = "
        "reset: reset from our side with reset_code WSAECONNABORTED; returns N.",
    ),
    _r(
        "PC-1",
        "§7 peer_close",
        "spec",
        "Sets peer.closed, buffered becomes dropped; our socket "
        "gets peer_fin and close_seen, waiting recvs complete with 0, FD_CLOSE is posted.",
    ),
    _r(
        "PX-1",
        "§7 peer_reset",
        "spec",
        "Emits reset, sets peer.closed and peer.reset; if our "
        "socket is not destroyed the reset effects apply: reset, send_queue discarded, waiting "
        "operations fail with WSAECONNRESET, FD_CLOSE with fd_close_reset_error, and a closing "
        "socket is destroyed.",
    ),
    _r(
        "RS-1",
        "§7 reset from our side",
        "doc",
        "'the socket's virtual circuit is reset "
        "immediately, and any unsent data is lost. Any recv call on the remote side of the "
        "circuit will fail with WSAECONNRESET'",
    ),
    _r(
        "OVL-1",
        "§11 observations",
        "spec",
        "ovl prints the operation's state: pending, done N NOTE, failed ERR NOTE, or none.",
    ),
    # §8 closesocket
    _r("CS-5", "§8", "doc", "If this is the last reference to an underlying socket"),
    _r(
        "CS-6",
        "§8",
        "decision",
        "will fail with an error of WSAEWOULDBLOCK if the close "
        "operation cannot be completed immediately ... the socket handle is still valid, and a "
        "disconnect is not initiated",
    ),
    _r(
        "CS-7",
        "§8",
        "doc",
        "releases the socket descriptor s ... pending blocking, asynchronous "
        "calls issued by any thread in this process are canceled without posting any "
        "notification messages ... WSA_OPERATION_ABORTED",
    ),
    _r("CS-8", "§8", "doc", "refs -= 1. If refs > 0, return 0 and leave the connection untouched."),
    _r("CS-9", "§8", "doc", "the associated naming information and queued data are discarded"),
    _r("CS-9a", "§8", "decision", "Datagram, not connected, or reset: destroy. Return 0."),
    _r(
        "CS-9b",
        "§8",
        "doc",
        "returns immediately ... any data queued for transmission will be "
        "sent if possible before the underlying socket is closed",
    ),
    _r(
        "CS-9c",
        "§8",
        "doc",
        "'hard' or 'abortive' close ... any unsent data is lost. Any recv "
        "call on the remote side of the circuit will fail with WSAECONNRESET",
    ),
    _r("CS-9d", "§8", "doc", "graceful disconnect: nothing unsent, send FIN, destroy, return 0"),
    _r(
        "CS-9e",
        "§8",
        "doc",
        "blocks ... until the remaining data has been sent or until the "
        "time-out expires; terminates the connection before closesocket returns",
    ),
    _r("CS-9f", "§8", "doc", "or calls shutdown to initiate closure"),
    _r(
        "CS-D",
        "§8",
        "decision",
        "Destroy: lifecycle destroyed, deadline none, 'socket N "
        "destroyed'; every operation still pending on the socket, except a linger close, is "
        "cancelled as CS-7 cancels.",
    ),
    # §9 messages
    _r(
        "MS-1",
        "§9",
        "doc",
        "A message is posted only if a registration exists and its mask has "
        "the event. FD_CLOSE will not be posted after closesocket is called.",
    ),
    _r(
        "MS-2",
        "§9",
        "ev E3",
        "fd_close_timing = after_data: a FIN's FD_CLOSE waits until "
        "recv_queue is empty; the recv or wsarecv that empties it posts FD_CLOSE.",
    ),
    # docs/profiles.md: the switches of the measured profiles (source: the
    # conformance program that shows the behaviour)
    _r("PF-1", "profiles startup_required", "measured c10",
       "startup_required = false: CS-E1 is never checked; duplicate skips its startup check."),
    _r("PF-2", "profiles check_order", "measured 002",
       "check_order = descriptor_first: a descriptor argument is checked (CS-E3) before CS-E1."),
    _r("PF-3a", "profiles linger_option", "measured 012 c15 c17",
       "linger_option = bsd: l_onoff stored as 0 or 1, l_onoff = 0 keeps l_linger, "
       "and datagram sockets accept the linger options."),
    _r("PF-3b", "profiles linger_option", "measured 012 c15",
       "linger_option = wine: SO_DONTLINGER V is SO_LINGER {V == 0, 0} under the bsd rule."),
    _r("PF-4a", "profiles linger_close", "measured c06",
       "linger_close = bsd: no WSAEWOULDBLOCK; a linger close with data unsent blocks, "
       "nonblocking or not."),
    _r("PF-4b", "profiles linger_close", "measured c07",
       "linger_close = bsd: at the deadline the close returns 0 and the socket goes on "
       "closing gracefully, with no reset."),
    _r("PF-5a", "profiles reset_reporting", "measured c04 c13",
       "reset_reporting = once: the first transfer call after a reset fails with "
       "WSAECONNRESET (WSAESHUTDOWN after the peer's FIN); later recv reads end of file "
       "and send fails with WSAESHUTDOWN."),
    _r("PF-5b", "profiles reset_reporting", "measured c04",
       "reset_reporting = once: the first waiting operation gets the reset; the others "
       "see end of file (recv) or WSAESHUTDOWN (send)."),
    _r("PF-5c", "profiles reset_reporting", "measured c04",
       "reset_reporting = once: shutdown on a reset socket fails with WSAENOTCONN."),
    _r("PF-5d", "profiles reset_reporting", "measured c01",
       "reset_reporting = once: the peer's first step after a reset fails with reset_code; "
       "then peer_recv reads end of file and peer_send fails with WSAESHUTDOWN."),
    _r("PF-5e", "profiles reset_reporting", "measured c04 c12 016",
       "reset_reporting = eof: recv and peer_recv read a reset as end of file; sends fail "
       "and waiting operations still fail with WSAECONNRESET."),
    _r("PF-6", "profiles reset_keeps_received", "measured c01",
       "reset_keeps_received = true: bytes that arrived before a reset are read before "
       "the reset is reported."),
    _r("PF-7", "profiles peer_close_unread", "measured c05",
       "peer_close_unread = reset: a peer that closes with our data unread resets the "
       "connection (peer_reset)."),
    _r("PF-8", "profiles port_space", "measured 010",
       "port_space = per_type: stream and datagram sockets have separate ports."),
    _r("PF-9", "profiles recv_after_shutdown", "measured c16",
       "recv_after_shutdown = drain: recv after SD_RECEIVE returns the queued data, then 0."),
    _r("PF-10", "profiles shutdown_unconnected", "measured 014",
       "shutdown_unconnected = records: shutdown of an unconnected socket fails with "
       "WSAENOTCONN but sets sd_send/sd_recv."),
    _r("PF-11", "profiles last_error_on_success", "measured c09",
       "last_error_on_success = keep: a successful call leaves last_error alone."),
    _r("PF-12a", "profiles cancel_scope", "measured c03 c08",
       "cancel_scope = none: closesocket cancels nothing; a blocked call through the "
       "released descriptor holds a reference to the socket."),
    _r("PF-12b", "profiles cancel_scope", "measured c03",
       "cancel_scope = none: settling drops the references of finished holders; the last "
       "one closes the socket as CS-9 does, never blocking."),
    _r("PF-13", "profiles blocking_cancel_error", "measured c03",
       "blocking_cancel_error: the error of a blocking call cancelled by CS-7 or CS-D."),
    _r("PF-14", "profiles cleanup_close", "measured c11 045 047",
       "cleanup_close = as_closesocket: cleanup closes each descriptor as closesocket "
       "would under the profile, never blocking."),
    _r("PF-15", "profiles cancelblocking", "measured 004 005",
       "cancelblocking = stub: WSACancelBlockingCall checks nothing, returns 0 and "
       "changes nothing."),
]  # fmt: skip

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def describe(rule_id: str) -> str:
    """``ID [source] text`` for --explain."""
    r = RULES[rule_id]
    return f"{r.id} ({r.section}, {r.source}): {r.text}"
