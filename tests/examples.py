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
