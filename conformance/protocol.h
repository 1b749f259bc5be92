/*
 * The drivers' side of the line protocol (harness/conformance/protocol.py):
 * the answers, the parsing of the requests both drivers take, and the table of
 * peers.  conformance/wine/driver.c and conformance/lwip/driver.c each include
 * it (each driver is one translation unit), after defining:
 *   sock_t     the type of a socket (SOCKET, int)
 *   NO_SOCKET  the value of no socket (INVALID_SOCKET, -1)
 */
#ifndef WSA_DRIVER_PROTOCOL_H
#define WSA_DRIVER_PROTOCOL_H

#include <stdio.h>
#include <string.h>

#define NWORKERS 2
#define MAX_PEERS 256

/* ----------------------------------------------------------------- answers */

static void answer_end(void)
{
    fputs(".\n", stdout);
    fflush(stdout);
}

static void answer_r(long long ret, long long err, long long e1, long long e2)
{
    printf("R %lld %lld %lld %lld\n", ret, err, e1, e2);
}

/* A blocked call on worker T completed. */
static void answer_c(int t, long long ret, long long err, long long e1, long long e2)
{
    printf("C %d %lld %lld %lld %lld\n", t, ret, err, e1, e2);
}

/* The request is refused: "X MESSAGE". */
static void refuse(const char *message)
{
    printf("X %s\n", message);
    answer_end();
}

/* The answer to a call started on a worker: its result if it FINISHED within
 * the wait (a worker leaves RET at -2 for a call it does not know), else "B". */
static void answer_call(int finished, const char *name, long long ret, long long err,
                        long long e1, long long e2)
{
    if (!finished) puts("B");
    else if (ret == -2) printf("X unknown call %s\n", name);
    else answer_r(ret, err, e1, e2);
    answer_end();
}

/* ---------------------------------------------------------------- requests */

/* "call T WAITMS NAME S X1 X2 X3"; 0 if malformed.  NAME holds 64 bytes. */
static int parse_call(const char *line, int *t, int *waitms, char *name,
                      unsigned long long *target, long long *x)
{
    return sscanf(line, "%*s %d %d %63s %llu %lld %lld %lld", t, waitms, name, target, &x[0],
                  &x[1], &x[2]) == 7;
}

/* "poll WAITMS [WANT]" (WANT -1 when not given: until none is blocked); 0 if malformed. */
static int parse_poll(const char *line, int *waitms, int *want)
{
    *want = -1;
    if (sscanf(line, "%*s %d", waitms) != 1) return 0;
    sscanf(line, "%*s %*d %d", want);
    return 1;
}

/* ------------------------------------------------------------------- peers */

/* The accepted sockets; a peer's id is its index + 1 (NO_SOCKET once closed). */
static sock_t peers[MAX_PEERS];
static int npeers;

/* The index of peer ID, or -1 (after refusing the request) if there is none. */
static int peer_index(long long id)
{
    if (id >= 1 && id <= npeers && peers[id - 1] != NO_SOCKET) return (int)id - 1;
    refuse("no such peer");
    return -1;
}

#endif
