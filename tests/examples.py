"""Programs several test modules share."""

#: PROGRAMS.md's example, verbatim.
SPEC_EXAMPLE = """\
# abortive close after a linger timeout
@profile documented
@limits sockets=16 sndbuf=8192 window=65536 descriptors=64
t0: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1 window=100   -> 0
t0: send s1 300                  -> 300
t0: setsockopt s1 SO_LINGER 1 5  -> 0
t0: closesocket s1               -> blocked
advance 5000                     -> ok
  ! c1 reset
  ! socket 1 destroyed
  ! t0 closesocket -> 0
peer_recv c1 100                 -> SOCKET_ERROR WSAECONNRESET
"""

#: The same steps as a program that gives only what differs from the defaults.
SPEC_EXAMPLE_BARE = (
    "\n".join(line for line in SPEC_EXAMPLE.splitlines() if not line.startswith(("#", "@limits")))
    + "\n"
)

#: An abortive close whose peer sees the reset, every step with its expectation.
ABORTIVE_CLOSE = """\
# abortive close: the peer sees a reset
@profile documented
t0: startup 2.2                  -> 0
t0: s1 = socket stream           -> 4
t0: c1 = connect s1              -> 0
t0: setsockopt s1 SO_LINGER 1 0  -> 0
t0: closesocket s1               -> 0
  ! c1 reset
  ! socket 1 destroyed
peer_recv c1 10                  -> SOCKET_ERROR WSAECONNRESET
"""


S = "t0: s1 = socket stream\n"
C = S + "t0: c1 = connect s1\n"
OV = C + "t0: o1 = wsasend s1 10 event\n"

# Malformed programs: (id, program text, the exact error)
MALFORMED = [
    (
        "unknown-step",
        "t0: clozesocket s1",
        "1: unknown step 'clozesocket' (did you mean 'closesocket'?)",
    ),
    ("rebound", S + "t0: s1 = socket dgram", "2: variable s1 is already bound (line 1)"),
    ("unbound", "t0: closesocket s9", "1: variable s9 is not bound"),
    ("missing-var", "t0: socket stream", "1: 'socket' needs a variable: sN = socket ..."),
    ("missing-cvar", S + "t0: connect s1", "2: 'connect' needs a variable: cN = connect ..."),
    (
        "missing-ovar",
        S + "t0: wsarecv s1 1 event",
        "2: 'wsarecv' needs a variable: oN = wsarecv ...",
    ),
    (
        "forbidden-var",
        S + "t0: s2 = send s1 1",
        "2: 'send' does not bind a variable (found 's2 =')",
    ),
    (
        "env-var",
        C + "c2 = peer_recv c1 1",
        "3: 'peer_recv' does not bind a variable (found 'c2 =')",
    ),
    ("wrong-letter-s", "t0: c1 = socket stream", "1: 'socket' binds an sN variable, not 'c1'"),
    ("wrong-letter-c", S + "t0: s2 = connect s1", "2: 'connect' binds a cN variable, not 's2'"),
    (
        "wrong-letter-o",
        S + "t0: c1 = wsasend s1 1 event",
        "2: 'wsasend' binds an oN variable, not 'c1'",
    ),
    ("port-range", S + "t0: bind s1 70000", "2: number 70000 out of range for PORT (1..65535)"),
    ("port-zero", S + "t0: bind s1 0", "2: number 0 out of range for PORT (1..65535)"),
    (
        "env-prefix",
        "t0: advance 5",
        "1: 'advance' is an environment step and takes no thread prefix",
    ),
    ("ovl-prefix", OV + "t1: ovl o1", "4: 'ovl' is an observation and takes no thread prefix"),
    ("missing-prefix", "send #4 1", "1: 'send' is a call and needs a thread prefix: tN: send ..."),
    ("unknown-thread", "t4: startup 2.2", "1: unknown thread 't4'"),
    ("missing-colon", "t1 startup 2.2", "1: missing ':' after thread 't1'"),
    ("dup-limits", "@limits sockets=4\n@limits sndbuf=1", "2: duplicate @limits header"),
    ("dup-profile", "@profile windows\n@profile windows", "2: duplicate @profile header"),
    ("header-late", "t0: startup 2.2\n@profile windows", "2: header after the first step"),
    (
        "unknown-limit",
        "@limits foo=1",
        "1: unknown limit 'foo' (known: sockets, descriptors, sndbuf, window)",
    ),
    (
        "limit-range",
        "@limits descriptors=0",
        "1: number 0 out of range for descriptors (1..1048576)",
    ),
    ("limit-form", "@limits sockets", "1: expected NAME=N in @limits, got 'sockets'"),
    ("limit-dup", "@limits sockets=1 sockets=2", "1: duplicate limit 'sockets'"),
    (
        "unknown-profile",
        "@profile solaris",
        "1: unknown profile 'solaris' (known: documented, windows, linux, wine, lwip)",
    ),
    ("profile-arity", "@profile", "1: '@profile' takes one name, got 0"),
    ("unknown-header", "@frob", "1: unknown header '@frob' (known: @profile, @limits)"),
    (
        "event-no-arrow",
        "t0: startup 2.2\n  ! c1 reset",
        "2: '!' event line under a step without '->'",
    ),
    ("event-first", "# hi\n  ! c1 reset", "2: '!' event line before the first step"),
    ("arity", S + "t0: send s1", "2: 'send' takes 2 arguments (send S N), got 1"),
    ("arity-none", "t0: getlasterror 1", "1: 'getlasterror' takes no arguments, got 1"),
    ("arity-one", "advance", "1: 'advance' takes 1 argument (advance MS), got 0"),
    (
        "arity-optional",
        S + "t0: c1 = connect s1 window=1 2",
        "2: 'connect' takes 1 or 2 arguments (connect S [window=N]), got 3",
    ),
    (
        "arity-variant",
        S + "t0: setsockopt s1 SO_LINGER 1",
        "2: 'setsockopt' takes 4 arguments (setsockopt S SO_LINGER ONOFF SECS), got 3",
    ),
    (
        "arity-variants",
        S + "t0: setsockopt s1",
        "2: 'setsockopt' takes 3 or 4 arguments "
        "(setsockopt S SO_LINGER ONOFF SECS | setsockopt S SO_DONTLINGER V), got 1",
    ),
    (
        "option",
        S + "t0: getsockopt s1 SO_RCVBUF",
        "2: expected SO_LINGER or SO_DONTLINGER, got 'SO_RCVBUF'",
    ),
    ("ioctl", S + "t0: ioctlsocket s1 FIONREAD 1", "2: expected FIONBIO, got 'FIONREAD'"),
    (
        "secs-range",
        S + "t0: setsockopt s1 SO_LINGER 1 65536",
        "2: number 65536 out of range for SECS (0..65535)",
    ),
    (
        "count-range",
        S + "t0: send s1 2147483648",
        "2: number 2147483648 out of range for N (0..2147483647)",
    ),
    (
        "hex-range",
        S + "t0: s2 = duplicate s1 0x100000000",
        "2: number 0x100000000 out of range for PID (0..4294967295)",
    ),
    (
        "raw-range",
        "t0: closesocket #4294967296",
        "1: number #4294967296 out of range for #N (0..4294967295)",
    ),
    ("negative", S + "t0: recv s1 -1", "2: expected a number for N, got '-1'"),
    ("upper-hex", "advance 0X10", "1: expected a number for MS, got '0X10'"),
    ("version", "t0: startup 2", "1: expected a version M.m, got '2'"),
    ("version-range", "t0: startup 2.256", "1: number 256 out of range for m (0..255)"),
    ("sock-type", "t0: s1 = socket raw", "1: expected stream or dgram, got 'raw'"),
    ("mode", S + "t0: o1 = wsasend s1 10 blocking", "2: expected event or routine, got 'blocking'"),
    ("window", S + "t0: c1 = connect s1 win=5", "2: expected window=N, got 'win=5'"),
    (
        "how",
        S + "t0: shutdown s1 SD_NONE",
        "2: expected SD_RECEIVE, SD_SEND, SD_BOTH or a number for HOW, got 'SD_NONE'",
    ),
    (
        "mask-name",
        S + "t0: asyncselect s1 FD_ACCEPT",
        "2: unknown mask name 'FD_ACCEPT' (known: FD_READ, FD_WRITE, FD_CLOSE)",
    ),
    (
        "mask-dup",
        S + "t0: asyncselect s1 FD_READ|FD_READ",
        "2: duplicate FD_READ in mask 'FD_READ|FD_READ'",
    ),
    (
        "mask-number",
        S + "t0: asyncselect s1 3",
        "2: bad mask '3' (FD_READ, FD_WRITE, FD_CLOSE joined by '|', or 0)",
    ),
    (
        "desc-peer",
        C + "t0: closesocket c1",
        "3: expected a descriptor (sN, #N or INVALID_SOCKET), got 'c1'",
    ),
    ("peer-desc", C + "peer_recv s1 1", "3: expected a peer variable cN, got 's1'"),
    ("peer-unbound", C + "peer_close c2", "3: variable c2 is not bound"),
    ("ovl-peer", OV + "ovl c1", "4: expected an operation variable oN, got 'c1'"),
    ("same-line", "t0: s1 = duplicate s1 1", "1: variable s1 is not bound"),
    ("raw-not-comment", "#1 starts no comment", "1: unknown step '#1'"),
    ("raw-junk", S + "t0: send s1 #12x", "2: expected a number for N, got '#12x'"),
    ("no-name", "t0: -> 0", "1: missing step name before '->'"),
    ("no-result", "t0: startup 2.2 ->", "1: missing result after '->'"),
    ("bad-result", "t0: startup 2.2 -> zero", "1: malformed result 'zero'"),
    ("two-arrows", "t0: startup 2.2 -> 4 -> 5", "1: malformed result '4 -> 5'"),
    ("error-name", "t0: getlasterror -> WSAEFOO", "1: unknown error name 'WSAEFOO'"),
    ("error-number", S + "t0: send s1 1 -> SOCKET_ERROR 10054", "2: unknown error name '10054'"),
    ("error-missing", S + "t0: send s1 1 -> SOCKET_ERROR", "2: malformed result 'SOCKET_ERROR'"),
    (
        "linger-result",
        S + "t0: getsockopt s1 SO_LINGER -> 0 {onoff=1 linger=5}",
        "2: malformed result '0 {onoff=1 linger=5}' (expected 0 {onoff=N, linger=N})",
    ),
    (
        "message-fd",
        "t0: getmessage -> FD_ACCEPT #4 0",
        "1: unknown message 'FD_ACCEPT' (known: FD_READ, FD_WRITE, FD_CLOSE)",
    ),
    ("message-raw", "t0: getmessage -> FD_READ 4 0", "1: expected a descriptor value #N, got '4'"),
    (
        "note",
        OV + "ovl o1 -> done 10 sig",
        "4: unknown note 'sig' "
        "(known: unsignaled, signaled, routine-none, routine-queued, routine-ran)",
    ),
    (
        "event-unbound-o",
        C + "advance 1 -> ok\n  ! o1 -> done 1 signaled",
        "4: variable o1 is not bound",
    ),
    ("event-unbound-c", S + "advance 1 -> ok\n  ! c1 fin", "3: variable c1 is not bound"),
    ("event-later-var", "advance 1 -> ok\n  ! c1 fin\n" + C, "2: variable c1 is not bound"),
    (
        "event-pending",
        OV + "advance 1 -> ok\n  ! o1 -> pending",
        "5: malformed event 'o1 -> pending' (expected oN -> done|failed ...)",
    ),
    ("event-thread", "advance 1 -> ok\n  ! t5 recv -> 1", "2: unknown thread 't5'"),
    (
        "event-call",
        "advance 1 -> ok\n  ! t1 wsarecv -> 1",
        "2: unknown blocking call 'wsarecv' (known: closesocket, recv, send)",
    ),
    ("event-process", "advance 1 -> ok\n  ! posted p2 FD_READ #4 0", "2: unknown process 'p2'"),
    (
        "event-socket",
        "advance 1 -> ok\n  ! socket x destroyed",
        "2: expected a number for the socket id, got 'x'",
    ),
    ("event-junk", "advance 1 -> ok\n  ! frob", "2: malformed event 'frob'"),
    ("event-empty", "advance 1 -> ok\n  !", "2: empty event after '!'"),
    (
        "event-c-form",
        C + "advance 1 -> ok\n  ! c1 closed",
        "4: malformed event 'c1 closed' (expected cN fin|reset)",
    ),
    (
        "huge-number",
        "t0: startup 2.2 -> 99999999999999999999",
        "1: number 99999999999999999999 out of range for the result (0..9223372036854775807)",
    ),
    ("line-number-after-blanks", "\n\n# c\n\nt0: frob", "5: unknown step 'frob'"),
]
