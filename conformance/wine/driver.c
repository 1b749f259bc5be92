/*
 * wsa-driver: runs wsa-harness program steps with real Winsock calls (under Wine).
 *
 * One long-running process serves many programs.  The harness
 * (harness/conformance/wine.py) sends one request per line on stdin; every
 * response is zero or more lines followed by a line holding a single ".".
 * The protocol is described in harness/conformance/protocol.py and parsed there.
 *
 * Two modes:
 *   wsa-driver.exe main   the program's process p0: worker threads t0 and t1
 *                         make the calls; WSAAsyncSelect posts to a message-only
 *                         window of the main thread; the process starts uninitialised
 *                         (no WSAStartup of its own), so the program's startup
 *                         and cleanup counting is real.
 *   wsa-driver.exe peer   the remote end: a listener on 127.0.0.1 and the
 *                         accepted sockets, one per successful connect.  It is a
 *                         separate process so that the program's WSACleanup
 *                         never touches it.
 *
 * Main-mode requests:
 *   reset                          close every socket of the last program (abortive),
 *                                  WSACleanup until uninitialised, fresh worker threads
 *   call T WAITMS NAME S X1 X2 X3  run call NAME on worker T; answer "R ret err e1 e2"
 *                                  if it returns within WAITMS, else "B" (blocked)
 *   poll WAITMS [WANT]             "C T ret err e1 e2" for every blocked call that
 *                                  completes within WAITMS, waiting only until WANT
 *                                  did (default -1: until none is blocked)
 *   ovl ID WAITMS                  "O pending" (still pending after WAITMS) | "O done BYTES EVENTSET RAN STATUS" |
 *                                  "O failed ERR EVENTSET RAN STATUS"
 *   getmsg WAITMS                  the oldest WSAAsyncSelect message: "M HANDLE EVENT ERR",
 *                                  or "M none" if none arrives within WAITMS
 *   drain WAITMS WANT              every message posted so far, one "M HANDLE EVENT ERR"
 *                                  each, oldest first, waiting up to WAITMS until WANT
 *                                  arrived (-1: the whole WAITMS)
 *   sleep MS                       answer after MS ms (tests: a driver that hangs)
 * Peer-mode requests (answers "R ret err 0 0"):
 *   listen | accept WAITMS | precv ID N WAITMS | psend ID N | pclose ID | preset ID | reset
 * Both: quit.  A request that cannot be parsed gets "X message".
 */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef SOCKET sock_t;
#define NO_SOCKET INVALID_SOCKET
#include "../protocol.h"

#define MAX_OPS 1024
#define MAX_SOCKS 4096
#define STATUS_PENDING_VALUE 0x103
#define WM_SOCKET (WM_USER + 1)

/* ------------------------------------------------------- overlapped operations */

typedef struct {
    WSAOVERLAPPED ov; /* first member: the completion routine gets this pointer */
    WSABUF wsabuf;
    char *mem;
    SOCKET s;
    int routine; /* 1: completion routine, 0: event */
    int thread;
    volatile LONG ran;
} op_t;

static op_t *ops[MAX_OPS];
static int nops;

/* -------------------------------------------------------------------- workers */

typedef struct {
    HANDLE handle, go, done;
    int busy, exit;
    char name[32];
    unsigned long long target;
    long long x[3];
    long long ret, err, e1, e2;
    volatile LONG routines; /* completion routines that ran on this thread */
    int index;
} worker_t;

static worker_t *workers[NWORKERS];
static HWND msgwin; /* message-only window of the main thread: WSAAsyncSelect target */
static SOCKET created[MAX_SOCKS];
static int ncreated;
static CRITICAL_SECTION lock;

static void remember_socket(SOCKET s)
{
    if (s == INVALID_SOCKET) return;
    EnterCriticalSection(&lock);
    if (ncreated < MAX_SOCKS) created[ncreated++] = s;
    LeaveCriticalSection(&lock);
}

static void CALLBACK completion_routine(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    op_t *op = (op_t *)ov;
    (void)err; (void)bytes; (void)flags;
    op->ran = 1;
    InterlockedIncrement(&workers[op->thread]->routines);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)port);
    return a;
}

static char *alloc_buffer(long long n)
{
    return (char *)calloc(1, n > 0 ? (size_t)n : 1);
}

static void start_overlapped(worker_t *w, int is_send)
{
    SOCKET s = (SOCKET)w->target;
    long long n = w->x[0];
    op_t *op;
    DWORD bytes = 0, flags = 0;
    int r;
    if (nops >= MAX_OPS) { w->ret = -1; w->err = WSAENOBUFS; return; }
    op = (op_t *)calloc(1, sizeof *op);
    op->mem = alloc_buffer(n);
    op->wsabuf.buf = op->mem;
    op->wsabuf.len = (ULONG)n;
    op->s = s;
    op->routine = (w->x[1] == 3);
    op->thread = w->index;
    if (!op->routine) op->ov.hEvent = WSACreateEvent();
    if (is_send)
        r = WSASend(s, &op->wsabuf, 1, &bytes, 0, &op->ov, op->routine ? completion_routine : NULL);
    else
        r = WSARecv(s, &op->wsabuf, 1, &bytes, &flags, &op->ov, op->routine ? completion_routine : NULL);
    w->ret = r;
    w->err = r ? WSAGetLastError() : 0;
    if (r == 0 || w->err == WSA_IO_PENDING) {
        EnterCriticalSection(&lock);
        ops[nops] = op;
        w->e1 = ++nops; /* operation ids start at 1 */
        LeaveCriticalSection(&lock);
    } else {
        if (op->ov.hEvent) WSACloseEvent(op->ov.hEvent);
        free(op->mem);
        free(op);
    }
}

static void run_call(worker_t *w)
{
    SOCKET s = (SOCKET)w->target;
    const char *name = w->name;
    long long *x = w->x;
    int r;
    w->ret = 0; w->err = 0; w->e1 = 0; w->e2 = 0;
    if (!strcmp(name, "__flush")) {
        while (SleepEx(0, TRUE) == WAIT_IO_COMPLETION) {}
        WSASetLastError(0);
        SetLastError(0);
        w->routines = 0;
        return;
    }
    if (!strcmp(name, "startup")) {
        WSADATA d;
        w->ret = WSAStartup(MAKEWORD((BYTE)x[0], (BYTE)x[1]), &d);
        return;
    }
    if (!strcmp(name, "getlasterror")) { w->ret = WSAGetLastError(); return; }
    if (!strcmp(name, "sleepex")) {
        /* X1 ms of grace for completions still in flight: an alertable wait that
         * returns as soon as routines ran */
        LONG before = w->routines;
        if (SleepEx(0, TRUE) != WAIT_IO_COMPLETION && x[0] > 0) SleepEx((DWORD)x[0], TRUE);
        w->ret = w->routines - before;
        return;
    }
    if (!strcmp(name, "socket")) {
        SOCKET n = x[0] == 2 ? socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)
                             : socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        w->ret = n == INVALID_SOCKET ? -1 : (long long)n;
        w->err = n == INVALID_SOCKET ? WSAGetLastError() : 0;
        remember_socket(n);
        return;
    }
    if (!strcmp(name, "duplicate")) {
        WSAPROTOCOL_INFOW info;
        SOCKET n = INVALID_SOCKET;
        if (WSADuplicateSocketW(s, GetCurrentProcessId(), &info) == 0)
            n = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                           WSA_FLAG_OVERLAPPED);
        w->ret = n == INVALID_SOCKET ? -1 : (long long)n;
        w->err = n == INVALID_SOCKET ? WSAGetLastError() : 0;
        remember_socket(n);
        return;
    }
    if (!strcmp(name, "wsasend") || !strcmp(name, "wsarecv")) {
        start_overlapped(w, name[3] == 's');
        return;
    }
    if (!strcmp(name, "cleanup")) r = WSACleanup();
    else if (!strcmp(name, "cancelblocking")) r = WSACancelBlockingCall();
    else if (!strcmp(name, "asyncselect")) r = WSAAsyncSelect(s, msgwin, WM_SOCKET, (long)x[0]);
    else if (!strcmp(name, "bind")) {
        struct sockaddr_in a = loopback((int)x[0]);
        int len = sizeof a;
        r = bind(s, (struct sockaddr *)&a, sizeof a);
        if (r == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0) w->e1 = ntohs(a.sin_port);
    } else if (!strcmp(name, "connect")) {
        struct sockaddr_in a = loopback((int)x[0]);
        r = connect(s, (struct sockaddr *)&a, sizeof a);
    } else if (!strcmp(name, "setlinger")) {
        struct linger l;
        l.l_onoff = (u_short)x[0];
        l.l_linger = (u_short)x[1];
        r = setsockopt(s, SOL_SOCKET, SO_LINGER, (char *)&l, sizeof l);
    } else if (!strcmp(name, "setdontlinger")) {
        int v = (int)x[0];
        r = setsockopt(s, SOL_SOCKET, SO_DONTLINGER, (char *)&v, sizeof v);
    } else if (!strcmp(name, "getlinger")) {
        struct linger l;
        int len = sizeof l;
        memset(&l, 0xee, sizeof l);
        r = getsockopt(s, SOL_SOCKET, SO_LINGER, (char *)&l, &len);
        w->e1 = l.l_onoff;
        w->e2 = l.l_linger;
    } else if (!strcmp(name, "getdontlinger")) {
        int v = -1, len = sizeof v;
        r = getsockopt(s, SOL_SOCKET, SO_DONTLINGER, (char *)&v, &len);
        w->e1 = v;
    } else if (!strcmp(name, "fionbio")) {
        u_long v = (u_long)x[0];
        r = ioctlsocket(s, FIONBIO, &v);
    } else if (!strcmp(name, "send") || !strcmp(name, "recv")) {
        char *buf = alloc_buffer(x[0]);
        r = name[0] == 's' ? send(s, buf, (int)x[0], 0) : recv(s, buf, (int)x[0], 0);
        free(buf);
    } else if (!strcmp(name, "shutdown")) r = shutdown(s, (int)x[0]);
    else if (!strcmp(name, "closesocket")) r = closesocket(s);
    else { w->ret = -2; return; }
    w->ret = r;
    w->err = r == SOCKET_ERROR ? WSAGetLastError() : 0;
}

static DWORD WINAPI worker_main(LPVOID arg)
{
    worker_t *w = (worker_t *)arg;
    for (;;) {
        WaitForSingleObject(w->go, INFINITE); /* not alertable: routines run only in sleepex */
        if (w->exit) return 0;
        run_call(w);
        SetEvent(w->done);
    }
}

static worker_t *new_worker(int index)
{
    worker_t *w = (worker_t *)calloc(1, sizeof *w);
    w->index = index;
    w->go = CreateEventW(NULL, FALSE, FALSE, NULL);
    w->done = CreateEventW(NULL, FALSE, FALSE, NULL);
    w->handle = CreateThread(NULL, 0, worker_main, w, 0, NULL);
    return w;
}

static void reset_main(void)
{
    int i, k;
    DWORD start = GetTickCount();
    for (i = 0; i < ncreated; i++) {
        struct linger l = {1, 0};
        setsockopt(created[i], SOL_SOCKET, SO_LINGER, (char *)&l, sizeof l);
        closesocket(created[i]);
    }
    ncreated = 0;
    for (k = 0; k < 1000 && WSACleanup() == 0; k++) {}
    for (i = 0; i < NWORKERS; i++) {
        worker_t *w = workers[i];
        if (!w) continue;
        if (w->busy) {
            DWORD spent = GetTickCount() - start;
            if (spent > 1000 || WaitForSingleObject(w->done, 1000 - spent) != WAIT_OBJECT_0) {
                printf("X stuck: t%d is still blocked after closing every socket\n", i);
                answer_end();
                return;
            }
            w->busy = 0;
        }
        /* the thread is kept: a flush job runs the completion routines still
         * queued to it and clears its last error, as a fresh thread would have */
        snprintf(w->name, sizeof w->name, "%s", "__flush");
        SetEvent(w->go);
        WaitForSingleObject(w->done, 1000);
    }
    for (i = 0; i < nops; i++) {
        op_t *op = ops[i];
        if (op->ov.Internal == STATUS_PENDING_VALUE) continue; /* still in use: leak it */
        if (op->ov.hEvent) WSACloseEvent(op->ov.hEvent);
        free(op->mem);
        /* a routine's APC may still be queued by a late cancellation: keep its
         * small op_t alive (leaked) rather than let the APC write freed memory */
        if (!op->routine) free(op);
    }
    nops = 0;
    {
        MSG m;
        while (PeekMessageW(&m, NULL, 0, 0, PM_REMOVE)) {}
    }
    answer_end();
}

static void do_call(int t, int waitms, const char *name, unsigned long long target, long long *x)
{
    worker_t *w;
    int finished;
    if (t < 0 || t >= NWORKERS) { refuse("no such thread"); return; }
    w = workers[t];
    if (w->busy) { refuse("thread is blocked"); return; }
    snprintf(w->name, sizeof w->name, "%s", name);
    w->target = target;
    memcpy(w->x, x, sizeof w->x);
    w->busy = 1;
    SetEvent(w->go);
    finished = WaitForSingleObject(w->done, (DWORD)waitms) == WAIT_OBJECT_0;
    if (finished) w->busy = 0;
    answer_call(finished, name, w->ret, w->err, w->e1, w->e2);
}

static void do_poll(int waitms, int want)
{
    DWORD start = GetTickCount();
    int got = 0;
    for (;;) {
        HANDLE hs[NWORKERS];
        int idx[NWORKERS], n = 0, i;
        DWORD spent = GetTickCount() - start, r;
        for (i = 0; i < NWORKERS; i++)
            if (workers[i]->busy) { hs[n] = workers[i]->done; idx[n++] = i; }
        if (!n) break;
        if (want >= 0 && got >= want) spent = (DWORD)waitms; /* take only what is done */
        r = WaitForMultipleObjects(n, hs, FALSE, spent >= (DWORD)waitms ? 0 : waitms - spent);
        if (r >= WAIT_OBJECT_0 + (DWORD)n) break;
        i = idx[r - WAIT_OBJECT_0];
        workers[i]->busy = 0;
        got++;
        answer_c(i, workers[i]->ret, workers[i]->err, workers[i]->e1, workers[i]->e2);
    }
    answer_end();
}

/* The oldest WSAAsyncSelect message, waiting up to WAITMS for one to arrive. */
static void do_getmsg(int waitms)
{
    MSG m;
    BOOL got = PeekMessageW(&m, msgwin, WM_SOCKET, WM_SOCKET, PM_REMOVE);
    if (!got && waitms > 0) {
        MsgWaitForMultipleObjects(0, NULL, FALSE, (DWORD)waitms, QS_POSTMESSAGE);
        got = PeekMessageW(&m, msgwin, WM_SOCKET, WM_SOCKET, PM_REMOVE);
    }
    if (got)
        printf("M %llu %d %d\n", (unsigned long long)m.wParam, WSAGETSELECTEVENT(m.lParam),
               WSAGETSELECTERROR(m.lParam));
    else
        puts("M none");
    answer_end();
}

/* Every message posted so far, waiting up to WAITMS until WANT arrived. */
static void do_drain(int waitms, int want)
{
    MSG m;
    DWORD start = GetTickCount();
    int got = 0;
    for (;;) {
        DWORD spent;
        while (PeekMessageW(&m, msgwin, WM_SOCKET, WM_SOCKET, PM_REMOVE)) {
            printf("M %llu %d %d\n", (unsigned long long)m.wParam, WSAGETSELECTEVENT(m.lParam),
                   WSAGETSELECTERROR(m.lParam));
            got++;
        }
        spent = GetTickCount() - start;
        if ((want >= 0 && got >= want) || spent >= (DWORD)waitms) break;
        MsgWaitForMultipleObjects(0, NULL, FALSE, (DWORD)waitms - spent, QS_POSTMESSAGE);
    }
    answer_end();
}

/* The operation's outcome.  WSAGetOverlappedResult answers for the socket it
 * is given; once that handle is closed it only says WSAENOTSOCK, so the
 * operation's own status (OVERLAPPED.Internal) is then reported as
 * RtlNtStatusToDosError gives it, the form GetQueuedCompletionStatus reports.
 * The raw status is the last number of the line. */
static ULONG status_to_error(ULONG status)
{
    typedef ULONG(WINAPI * convert_t)(LONG);
    static convert_t convert;
    if (!convert)
        convert = (convert_t)(void (*)(void))GetProcAddress(GetModuleHandleW(L"ntdll.dll"),
                                                            "RtlNtStatusToDosError");
    return convert ? convert((LONG)status) : status;
}

static void do_ovl(int id, int waitms)
{
    op_t *op;
    DWORD bytes = 0, flags = 0, start = GetTickCount();
    int set, ok, err;
    ULONG status;
    if (id < 1 || id > nops) { refuse("no such operation"); return; }
    op = ops[id - 1];
    /* up to WAITMS of grace for a completion still in flight */
    while (op->ov.Internal == STATUS_PENDING_VALUE && GetTickCount() - start < (DWORD)waitms)
        Sleep(5);
    status = (ULONG)op->ov.Internal;
    if (status == STATUS_PENDING_VALUE) { puts("O pending"); answer_end(); return; }
    set = op->ov.hEvent ? WaitForSingleObject(op->ov.hEvent, 0) == WAIT_OBJECT_0 : 0;
    ok = WSAGetOverlappedResult(op->s, &op->ov, &bytes, FALSE, &flags);
    err = ok ? 0 : WSAGetLastError();
    if (!ok && err == WSAENOTSOCK) {
        ok = (LONG)status >= 0;
        bytes = (DWORD)op->ov.InternalHigh;
        err = ok ? 0 : (int)status_to_error(status);
    }
    if (ok) printf("O done %lu %d %ld %lu\n", (unsigned long)bytes, set, (long)op->ran, status);
    else if (err == WSA_IO_INCOMPLETE) puts("O pending");
    else printf("O failed %d %d %ld %lu\n", err, set, (long)op->ran, status);
    answer_end();
}

/* ----------------------------------------------------------------------- peer */

static SOCKET listener = INVALID_SOCKET;

static void peer_close_socket(int i, int reset)
{
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(peers[i], SOL_SOCKET, SO_LINGER, (char *)&l, sizeof l);
    }
    answer_r(closesocket(peers[i]), WSAGetLastError(), 0, 0);
    peers[i] = INVALID_SOCKET;
}

static int wait_readable(SOCKET s, int waitms)
{
    fd_set set;
    struct timeval tv;
    FD_ZERO(&set);
    FD_SET(s, &set);
    tv.tv_sec = waitms / 1000;
    tv.tv_usec = (waitms % 1000) * 1000;
    return select(0, &set, NULL, NULL, &tv);
}

static void peer_request(char *cmd, long long a, long long b, long long c)
{
    int i;
    if (!strcmp(cmd, "listen")) {
        struct sockaddr_in addr = loopback(0);
        int len = sizeof addr;
        if (listener == INVALID_SOCKET) {
            listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
            bind(listener, (struct sockaddr *)&addr, sizeof addr);
            listen(listener, SOMAXCONN);
        }
        getsockname(listener, (struct sockaddr *)&addr, &len);
        answer_r(ntohs(addr.sin_port), 0, 0, 0);
    } else if (!strcmp(cmd, "accept")) {
        SOCKET s = INVALID_SOCKET;
        u_long one = 1;
        if (wait_readable(listener, (int)a) > 0) s = accept(listener, NULL, NULL);
        if (s == INVALID_SOCKET || npeers >= MAX_PEERS) answer_r(-1, WSAGetLastError(), 0, 0);
        else {
            ioctlsocket(s, FIONBIO, &one);
            peers[npeers++] = s;
            answer_r(npeers, 0, 0, 0);
        }
    } else if (!strcmp(cmd, "precv") || !strcmp(cmd, "psend")) {
        char *buf;
        int r;
        if ((i = peer_index(a)) < 0) return;
        buf = alloc_buffer(b);
        if (cmd[1] == 'r') {
            wait_readable(peers[i], (int)c);
            r = recv(peers[i], buf, (int)b, 0);
        } else {
            r = send(peers[i], buf, (int)b, 0);
        }
        free(buf);
        answer_r(r, r == SOCKET_ERROR ? WSAGetLastError() : 0, 0, 0);
    } else if (!strcmp(cmd, "pclose") || !strcmp(cmd, "preset")) {
        if ((i = peer_index(a)) < 0) return;
        peer_close_socket(i, cmd[1] == 'r');
    } else if (!strcmp(cmd, "reset")) {
        u_long one = 1;
        SOCKET s;
        struct linger l = {1, 0};
        for (i = 0; i < npeers; i++)
            if (peers[i] != INVALID_SOCKET) {
                setsockopt(peers[i], SOL_SOCKET, SO_LINGER, (char *)&l, sizeof l);
                closesocket(peers[i]);
            }
        npeers = 0;
        if (listener != INVALID_SOCKET) {
            ioctlsocket(listener, FIONBIO, &one);
            while ((s = accept(listener, NULL, NULL)) != INVALID_SOCKET) {
                setsockopt(s, SOL_SOCKET, SO_LINGER, (char *)&l, sizeof l);
                closesocket(s);
            }
            one = 0;
            ioctlsocket(listener, FIONBIO, &one);
        }
    } else {
        printf("X unknown peer request %s\n", cmd);
    }
    answer_end();
}

/* ----------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    char line[512], cmd[64], name[64];
    int peer_mode = argc > 1 && !strcmp(argv[1], "peer");
    int i;
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stdin), _O_BINARY);
    InitializeCriticalSection(&lock);
    if (peer_mode) {
        WSADATA d;
        WSAStartup(MAKEWORD(2, 2), &d);
    } else {
        msgwin = CreateWindowExW(0, L"STATIC", L"wsa-driver", 0, 0, 0, 0, 0, HWND_MESSAGE, NULL,
                                 NULL, NULL);
        for (i = 0; i < NWORKERS; i++) workers[i] = new_worker(i);
    }
    puts(peer_mode ? "ready peer" : "ready main");
    answer_end();
    while (fgets(line, sizeof line, stdin)) {
        long long a = 0, b = 0, c = 0, x[3] = {0, 0, 0};
        unsigned long long target = 0;
        int t = 0, waitms = 0, want = -1;
        if (sscanf(line, "%63s", cmd) != 1) continue;
        if (!strcmp(cmd, "quit")) break;
        if (!strcmp(cmd, "sleep") && sscanf(line, "%*s %d", &waitms) == 1) {
            Sleep((DWORD)waitms);
            answer_end();
            continue;
        }
        if (peer_mode) {
            sscanf(line, "%*s %lld %lld %lld", &a, &b, &c);
            peer_request(cmd, a, b, c);
        } else if (!strcmp(cmd, "reset")) {
            reset_main();
        } else if (!strcmp(cmd, "call")) {
            if (parse_call(line, &t, &waitms, name, &target, x))
                do_call(t, waitms, name, target, x);
            else
                refuse("malformed call");
        } else if (!strcmp(cmd, "poll") && parse_poll(line, &waitms, &want)) {
            do_poll(waitms, want);
        } else if (!strcmp(cmd, "drain") && sscanf(line, "%*s %d %d", &waitms, &t) == 2) {
            do_drain(waitms, t);
        } else if (!strcmp(cmd, "getmsg") && sscanf(line, "%*s %d", &waitms) == 1) {
            do_getmsg(waitms);
        } else if (!strcmp(cmd, "ovl") && sscanf(line, "%*s %d %d", &t, &waitms) == 2) {
            do_ovl(t, waitms);
        } else {
            printf("X unknown request %s\n", cmd);
            answer_end();
        }
    }
    return 0;
}
