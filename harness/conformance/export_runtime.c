/*@HEADER@*/
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _MSC_VER
#pragma comment(lib, "ws2_32.lib")
#pragma comment(lib, "user32.lib")
#endif

/* ============================================================ the program */

/* Step opcodes and the names of their calls (wsa-harness's Op numbering). */
/*@OPS@*/

typedef struct {
    int line;           /* the program line of the step */
    int op;             /* OP_... */
    int thread;         /* 0 or 1 (t0, t1); -1 for peer steps, ovl and advance */
    int target;         /* variable index; NO_VAR; INVALID_VAR for INVALID_SOCKET */
    int bind;           /* variable index the step binds, or NO_VAR */
    long long x[3];     /* numeric arguments (PROGRAMS.md order) */
    const char *text;   /* the step as written */
    const char *expect; /* expected result as a real stack shows it; NULL: not checked */
    const char *expect_completions; /* blocked calls completing in this step, "; "-joined */
    const char *expect_messages;    /* WSAAsyncSelect messages posted in this step */
    /* What the models expect (any profile), which says how long to wait:
     * the result all of them give (NULL: they differ), and how many completions
     * and messages the most expecting one has. */
    const char *hint;
    int hint_completions, hint_messages;
} step_t;

#define NO_VAR (-1)
#define INVALID_VAR (-2)

/*@PROGRAM@*/

/* ====================================================== names and classes */

static const char *name_of(int code, int extra)
{
    int i;
    for (i = 0; error_names[i].name; i++)
        if (error_names[i].code == code && (extra || !error_names[i].extra))
            return error_names[i].name;
    return NULL;
}

/* A Winsock error as wsa-harness names it (errnomap.error_text). */
static void error_text(char *out, size_t size, long long code)
{
    const char *name = name_of((int)code, 1);
    if (name) snprintf(out, size, "%s", name);
    else snprintf(out, size, "%lld", code);
}

/* Only the model's own names (trace.error_name): completions and messages. */
static void model_error_text(char *out, size_t size, long long code)
{
    const char *name = name_of((int)code, 0);
    if (name) snprintf(out, size, "%s", name);
    else snprintf(out, size, "%lld", code);
}

/* A byte count by class: 0, the full N, or partial. */
static void count_text(char *out, size_t size, long long k, long long n)
{
    if (k == 0 || k == n) snprintf(out, size, "%lld", k);
    else snprintf(out, size, "partial");
}

/* ================================================================ workers */

#define NWORKERS 2
#define MAX_OPS 1024
#define STATUS_PENDING_VALUE 0x103
#define WM_SOCKET (WM_USER + 1)

typedef struct {
    WSAOVERLAPPED ov; /* first member: the completion routine gets this pointer */
    WSABUF wsabuf;
    char *mem;
    SOCKET s;
    int routine;
    int thread;
    volatile LONG ran;
} op_t;

typedef struct {
    HANDLE handle, go, done;
    int busy, index, op;
    unsigned long long target;
    long long x[3];
    long long ret, err, e1, e2;
    volatile LONG routines;
} worker_t;

static op_t *ops[MAX_OPS];
static int nops;
static worker_t workers[NWORKERS];
static HWND msgwin;
static CRITICAL_SECTION lock;

static void CALLBACK completion_routine(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
    op_t *op = (op_t *)ov;
    (void)err; (void)bytes; (void)flags;
    op->ran = 1;
    InterlockedIncrement(&workers[op->thread].routines);
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
    op_t *op;
    DWORD bytes = 0, flags = 0;
    int r;
    if (nops >= MAX_OPS) { w->ret = -1; w->err = WSAENOBUFS; return; }
    op = (op_t *)calloc(1, sizeof *op);
    op->mem = alloc_buffer(w->x[0]);
    op->wsabuf.buf = op->mem;
    op->wsabuf.len = (ULONG)w->x[0];
    op->s = s;
    op->routine = (w->x[1] == MODE_ROUTINE);
    op->thread = w->index;
    if (!op->routine) op->ov.hEvent = WSACreateEvent();
    if (is_send)
        r = WSASend(s, &op->wsabuf, 1, &bytes, 0, &op->ov, op->routine ? completion_routine : NULL);
    else
        r = WSARecv(s, &op->wsabuf, 1, &bytes, &flags, &op->ov,
                    op->routine ? completion_routine : NULL);
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

/* One call on a worker thread: the step's Winsock function. */
static void run_call(worker_t *w)
{
    SOCKET s = (SOCKET)w->target;
    long long *x = w->x;
    int r = 0;
    w->ret = 0; w->err = 0; w->e1 = 0; w->e2 = 0;
    switch (w->op) {
    case OP_STARTUP: {
        WSADATA d;
        w->ret = WSAStartup(MAKEWORD((BYTE)x[0], (BYTE)x[1]), &d);
        return;
    }
    case OP_GETLASTERROR: w->ret = WSAGetLastError(); return;
    case OP_SLEEPEX: {
        /* X1 ms of grace for routines still in flight; returns as soon as some ran */
        LONG before = w->routines;
        if (SleepEx(0, TRUE) != WAIT_IO_COMPLETION && x[0] > 0) SleepEx((DWORD)x[0], TRUE);
        w->ret = w->routines - before;
        return;
    }
    case OP_SOCKET: {
        SOCKET n = x[0] == 2 ? socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)
                             : socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        w->ret = n == INVALID_SOCKET ? -1 : (long long)n;
        w->err = n == INVALID_SOCKET ? WSAGetLastError() : 0;
        return;
    }
    case OP_DUPLICATE: {
        WSAPROTOCOL_INFOW info;
        SOCKET n = INVALID_SOCKET;
        if (WSADuplicateSocketW(s, GetCurrentProcessId(), &info) == 0)
            n = WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                           WSA_FLAG_OVERLAPPED);
        w->ret = n == INVALID_SOCKET ? -1 : (long long)n;
        w->err = n == INVALID_SOCKET ? WSAGetLastError() : 0;
        return;
    }
    case OP_WSASEND: start_overlapped(w, 1); return;
    case OP_WSARECV: start_overlapped(w, 0); return;
    case OP_CLEANUP: r = WSACleanup(); break;
    case OP_CANCELBLOCKING: r = WSACancelBlockingCall(); break;
    case OP_ASYNCSELECT: r = WSAAsyncSelect(s, msgwin, WM_SOCKET, (long)x[0]); break;
    case OP_BIND: {
        struct sockaddr_in a = loopback((int)x[0]);
        int len = sizeof a;
        r = bind(s, (struct sockaddr *)&a, sizeof a);
        if (r == 0 && getsockname(s, (struct sockaddr *)&a, &len) == 0) w->e1 = ntohs(a.sin_port);
        break;
    }
    case OP_CONNECT: {
        struct sockaddr_in a = loopback((int)x[0]);
        r = connect(s, (struct sockaddr *)&a, sizeof a);
        break;
    }
    case OP_SETSOCKOPT_LINGER: {
        struct linger l;
        l.l_onoff = (u_short)x[0];
        l.l_linger = (u_short)x[1];
        r = setsockopt(s, SOL_SOCKET, SO_LINGER, (char *)&l, sizeof l);
        break;
    }
    case OP_SETSOCKOPT_DONTLINGER: {
        int v = (int)x[0];
        r = setsockopt(s, SOL_SOCKET, SO_DONTLINGER, (char *)&v, sizeof v);
        break;
    }
    case OP_GETSOCKOPT_LINGER: {
        struct linger l;
        int len = sizeof l;
        memset(&l, 0xee, sizeof l);
        r = getsockopt(s, SOL_SOCKET, SO_LINGER, (char *)&l, &len);
        w->e1 = l.l_onoff;
        w->e2 = l.l_linger;
        break;
    }
    case OP_GETSOCKOPT_DONTLINGER: {
        int v = -1, len = sizeof v;
        r = getsockopt(s, SOL_SOCKET, SO_DONTLINGER, (char *)&v, &len);
        w->e1 = v;
        break;
    }
    case OP_IOCTLSOCKET_FIONBIO: {
        u_long v = (u_long)x[0];
        r = ioctlsocket(s, FIONBIO, &v);
        break;
    }
    case OP_SEND:
    case OP_RECV: {
        char *buf = alloc_buffer(x[0]);
        r = w->op == OP_SEND ? send(s, buf, (int)x[0], 0) : recv(s, buf, (int)x[0], 0);
        free(buf);
        break;
    }
    case OP_SHUTDOWN: r = shutdown(s, (int)x[0]); break;
    case OP_CLOSESOCKET: r = closesocket(s); break;
    default: w->ret = -2; return;
    }
    w->ret = r;
    w->err = r == SOCKET_ERROR ? WSAGetLastError() : 0;
}

static DWORD WINAPI worker_main(LPVOID arg)
{
    worker_t *w = (worker_t *)arg;
    for (;;) {
        WaitForSingleObject(w->go, INFINITE); /* not alertable: routines run only in sleepex */
        run_call(w);
        SetEvent(w->done);
    }
    return 0;
}

/* Run a call on worker T; 1 if it returned within WAITMS, 0 if it is blocked. */
static int worker_call(int t, int waitms, int op, unsigned long long target, const long long *x)
{
    worker_t *w = &workers[t];
    w->op = op;
    w->target = target;
    memcpy(w->x, x, sizeof w->x);
    w->busy = 1;
    SetEvent(w->go);
    if (WaitForSingleObject(w->done, (DWORD)waitms) == WAIT_OBJECT_0) {
        w->busy = 0;
        return 1;
    }
    return 0;
}

/* ================================================================== peer */

/* The remote end lives in a second process (this program run with --peer), so
 * that the program's WSACleanup never reaches it.  It serves the peer requests
 * of the wsa-harness Wine driver: listen, accept WAITMS, precv ID N WAITMS,
 * psend ID N, pclose ID, preset ID; each answered by "R ret err 0 0" and ".". */

#define MAX_PEERS 256
static SOCKET listener = INVALID_SOCKET;
static SOCKET peers[MAX_PEERS];
static int npeers;

static void answer_r(long long ret, long long err)
{
    printf("R %lld %lld 0 0\n.\n", ret, err);
    fflush(stdout);
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

static int peer_main(void)
{
    char line[256], cmd[32];
    WSADATA d;
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stdin), _O_BINARY);
    WSAStartup(MAKEWORD(2, 2), &d);
    while (fgets(line, sizeof line, stdin)) {
        long long a = 0, b = 0, c = 0;
        int i;
        if (sscanf(line, "%31s %lld %lld %lld", cmd, &a, &b, &c) < 1) continue;
        i = (int)a - 1;
        if (!strcmp(cmd, "quit")) break;
        if (!strcmp(cmd, "listen")) {
            struct sockaddr_in addr = loopback(0);
            int len = sizeof addr;
            listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
            bind(listener, (struct sockaddr *)&addr, sizeof addr);
            listen(listener, SOMAXCONN);
            getsockname(listener, (struct sockaddr *)&addr, &len);
            answer_r(ntohs(addr.sin_port), 0);
        } else if (!strcmp(cmd, "accept")) {
            SOCKET s = INVALID_SOCKET;
            u_long one = 1;
            if (wait_readable(listener, (int)a) > 0) s = accept(listener, NULL, NULL);
            if (s == INVALID_SOCKET || npeers >= MAX_PEERS) answer_r(-1, WSAGetLastError());
            else {
                ioctlsocket(s, FIONBIO, &one);
                peers[npeers++] = s;
                answer_r(npeers, 0);
            }
        } else if (i < 0 || i >= npeers || peers[i] == INVALID_SOCKET) {
            answer_r(-1, WSAENOTSOCK);
        } else if (!strcmp(cmd, "precv") || !strcmp(cmd, "psend")) {
            char *buf = alloc_buffer(b);
            int r;
            if (cmd[1] == 'r') {
                wait_readable(peers[i], (int)c);
                r = recv(peers[i], buf, (int)b, 0);
            } else {
                r = send(peers[i], buf, (int)b, 0);
            }
            free(buf);
            answer_r(r, r == SOCKET_ERROR ? WSAGetLastError() : 0);
        } else if (!strcmp(cmd, "pclose") || !strcmp(cmd, "preset")) {
            if (cmd[1] == 'r') {
                struct linger l = {1, 0};
                setsockopt(peers[i], SOL_SOCKET, SO_LINGER, (char *)&l, sizeof l);
            }
            answer_r(closesocket(peers[i]), WSAGetLastError());
            peers[i] = INVALID_SOCKET;
        } else {
            answer_r(-1, WSAEINVAL);
        }
    }
    return 0;
}

static HANDLE peer_in, peer_out, peer_process;

static int start_peer(void)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE child_in, child_out;
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    char exe[MAX_PATH], cmd[MAX_PATH + 16];
    if (!CreatePipe(&child_in, &peer_in, &sa, 0) || !CreatePipe(&peer_out, &child_out, &sa, 0))
        return 0;
    SetHandleInformation(peer_in, HANDLE_FLAG_INHERIT, 0);
    SetHandleInformation(peer_out, HANDLE_FLAG_INHERIT, 0);
    GetModuleFileNameA(NULL, exe, sizeof exe);
    snprintf(cmd, sizeof cmd, "\"%s\" --peer", exe);
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = child_in;
    si.hStdOutput = child_out;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    if (!CreateProcessA(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return 0;
    CloseHandle(child_in);
    CloseHandle(child_out);
    CloseHandle(pi.hThread);
    peer_process = pi.hProcess;
    return 1;
}

static int peer_failed;

/* One peer request; its "R ret err" answer in *ret, *err.  0 if the peer is gone. */
static int peer_ask(long long *ret, long long *err, const char *fmt, long long a, long long b,
                    long long c)
{
    char req[128], line[128];
    DWORD n;
    size_t len = 0;
    int got = 0;
    snprintf(req, sizeof req, fmt, a, b, c);
    strcat(req, "\n");
    if (peer_failed || !WriteFile(peer_in, req, (DWORD)strlen(req), &n, NULL)) {
        peer_failed = 1;
        return 0;
    }
    for (;;) {
        char ch;
        if (!ReadFile(peer_out, &ch, 1, &n, NULL) || n != 1) { peer_failed = 1; return 0; }
        if (ch == '\r') continue;
        if (ch != '\n') {
            if (len + 1 < sizeof line) line[len++] = ch;
            continue;
        }
        line[len] = 0;
        len = 0;
        if (!strcmp(line, ".")) return got;
        if (sscanf(line, "R %lld %lld", ret, err) == 2) got = 1;
    }
}

static void stop_peer(void)
{
    DWORD n;
    if (!peer_failed) WriteFile(peer_in, "quit\n", 5, &n, NULL);
    CloseHandle(peer_in);
    if (WaitForSingleObject(peer_process, 5000) != WAIT_OBJECT_0) TerminateProcess(peer_process, 1);
}

/* ================================================================ session */

/* How the session maps the program to real calls (as harness/conformance/session.py):
 * the first bind of model port P takes an ephemeral port and later binds of P reuse it;
 * connect goes to the peer's listener; a call by a blocked thread is not made (the
 * model rejects it); peer steps on a closed peer are not made. */

static long long handles[NVARS + 1], generation_of[NVARS + 1], peer_of[NVARS + 1],
    op_id[NVARS + 1], op_mode[NVARS + 1], op_n[NVARS + 1];
static int bound[NVARS + 1], peer_closed[MAX_PEERS + 1];
static int blocked_op[NWORKERS], blocked_n[NWORKERS], is_blocked[NWORKERS];
static int version, listen_port, nports, registered;
static long long port_model[64], port_real[64];

/* real handle -> its generation (bumped each time socket/duplicate returns it) and
 * the variable last bound to it (how messages name descriptors) */
#define MAX_HANDLES 1024
static unsigned long long seen_handle[MAX_HANDLES];
static long long seen_generation[MAX_HANDLES];
static int seen_name[MAX_HANDLES], nseen;

static int seen_index(unsigned long long h, int add)
{
    int i;
    for (i = 0; i < nseen; i++)
        if (seen_handle[i] == h) return i;
    if (!add || nseen >= MAX_HANDLES) return -1;
    seen_handle[nseen] = h;
    seen_generation[nseen] = 0;
    seen_name[nseen] = NO_VAR;
    return nseen++;
}

static long long generation(unsigned long long h)
{
    int i = seen_index(h, 0);
    return i < 0 ? 0 : seen_generation[i];
}

/* messages drained and not yet taken by a getmessage step */
#define MAX_QUEUE 256
static MSG queue[MAX_QUEUE];
static int qhead, qtail;

#define TEXT_SIZE 160
static char result[TEXT_SIZE], completions[4 * TEXT_SIZE], messages[8 * TEXT_SIZE],
    stop_reason[2 * TEXT_SIZE];
enum { GO_ON, STOPPED, FAILED, NOT_MADE };

/* The real handle of the step's target (-1: INVALID_SOCKET or unbound); *reused
 * is set when the variable's descriptor was closed and a later socket took its number. */
static long long var_handle(int v, int *reused)
{
    *reused = 0;
    if (v == INVALID_VAR || v == NO_VAR || !bound[v]) return -1;
    if (handles[v] != -1 && generation((unsigned long long)handles[v]) != generation_of[v])
        *reused = 1;
    return handles[v];
}

static void bind_var(const step_t *st, long long value)
{
    if (st->bind == NO_VAR) return;
    bound[st->bind] = 1;
    if (st->op == OP_SOCKET || st->op == OP_DUPLICATE) {
        handles[st->bind] = value;
        generation_of[st->bind] = value == -1 ? 0 : generation((unsigned long long)value);
    } else if (st->op == OP_CONNECT) {
        peer_of[st->bind] = value;
    } else {
        op_id[st->bind] = 0;
    }
}

static const char *call_name(int op)
{
    return op == OP_SEND ? "send" : op == OP_RECV ? "recv" : "closesocket";
}

static void render_call(const step_t *st, worker_t *w)
{
    char e[64];
    long long ret = w->ret;
    error_text(e, sizeof e, w->err);
    switch (st->op) {
    case OP_SOCKET:
    case OP_DUPLICATE:
        if (ret != -1) snprintf(result, TEXT_SIZE, "ok");
        else snprintf(result, TEXT_SIZE, "INVALID_SOCKET %s", e);
        return;
    case OP_STARTUP:
    case OP_GETLASTERROR:
        if (ret) error_text(result, TEXT_SIZE, ret);
        else snprintf(result, TEXT_SIZE, "0");
        return;
    case OP_SLEEPEX: snprintf(result, TEXT_SIZE, "%lld", ret); return;
    default: break;
    }
    if (ret == -1) snprintf(result, TEXT_SIZE, "SOCKET_ERROR %s", e);
    else if (st->op == OP_GETSOCKOPT_LINGER)
        snprintf(result, TEXT_SIZE, "0 {onoff=%lld, linger=%lld}", w->e1, w->e2);
    else if (st->op == OP_GETSOCKOPT_DONTLINGER) snprintf(result, TEXT_SIZE, "0 %lld", w->e1);
    else if (st->op == OP_SEND || st->op == OP_RECV) count_text(result, TEXT_SIZE, ret, st->x[0]);
    else snprintf(result, TEXT_SIZE, "%lld", ret);
}

static void after_call(const step_t *st, worker_t *w)
{
    long long ret, err;
    int i;
    switch (st->op) {
    case OP_SOCKET:
    case OP_DUPLICATE:
        if (w->ret != -1 && (i = seen_index((unsigned long long)w->ret, 1)) >= 0) {
            seen_generation[i]++;
            if (st->bind != NO_VAR) seen_name[i] = st->bind;
        }
        bind_var(st, w->ret);
        break;
    case OP_BIND:
        for (i = 0; i < nports && port_model[i] != st->x[0]; i++) {}
        if (w->ret == 0 && i == nports && nports < 64) {
            port_model[nports] = st->x[0];
            port_real[nports++] = w->e1;
        }
        break;
    case OP_CONNECT:
        if (!peer_ask(&ret, &err, "accept %lld", w->ret == 0 ? BLOCK_WAIT_MS : 0, 0, 0)) ret = 0;
        bind_var(st, ret > 0 ? ret : 0);
        break;
    case OP_WSASEND:
    case OP_WSARECV:
        if (st->bind != NO_VAR) {
            int ok = w->ret == 0 || (w->ret == -1 && w->err == WSA_IO_PENDING);
            bound[st->bind] = 1;
            op_id[st->bind] = ok ? w->e1 : 0;
            op_mode[st->bind] = st->x[1];
            op_n[st->bind] = st->x[0];
        }
        break;
    default: break;
    }
}

/* A message as the harness shows it: "FD_READ s1 0". */
static void message_text(char *out, size_t size, const MSG *m)
{
    char e[64], raw[32];
    const char *fd, *name = NULL;
    long ev = WSAGETSELECTEVENT(m->lParam), er = WSAGETSELECTERROR(m->lParam);
    int i = seen_index((unsigned long long)m->wParam, 0);
    fd = ev == FD_READ ? "FD_READ" : ev == FD_WRITE ? "FD_WRITE" : ev == FD_CLOSE ? "FD_CLOSE" : NULL;
    if (i >= 0 && seen_name[i] != NO_VAR) name = var_names[seen_name[i]];
    if (!name) {
        snprintf(raw, sizeof raw, "#%llu", (unsigned long long)m->wParam);
        name = raw;
    }
    if (er) model_error_text(e, sizeof e, er);
    else snprintf(e, sizeof e, "0");
    if (fd) snprintf(out, size, "%s %s %s", fd, name, e);
    else snprintf(out, size, "%ld %s %s", ev, name, e);
}

/* Every message posted so far, waiting up to WAITMS until WANT arrived (-1: the
 * whole wait); queued for getmessage, and shown in *shown ("; "-joined) if given. */
static void drain(int waitms, int want, char *shown, size_t size)
{
    MSG m;
    DWORD start = GetTickCount();
    int got = 0;
    char text[TEXT_SIZE];
    if (shown) shown[0] = 0;
    for (;;) {
        DWORD spent;
        while (PeekMessageW(&m, msgwin, WM_SOCKET, WM_SOCKET, PM_REMOVE)) {
            if ((qtail + 1) % MAX_QUEUE != qhead) {
                queue[qtail] = m;
                qtail = (qtail + 1) % MAX_QUEUE;
            }
            if (shown && strlen(shown) + TEXT_SIZE + 2 < size) {
                message_text(text, sizeof text, &m);
                if (shown[0]) strcat(shown, "; ");
                strcat(shown, text);
            }
            got++;
        }
        spent = GetTickCount() - start;
        if ((want >= 0 && got >= want) || spent >= (DWORD)waitms) break;
        MsgWaitForMultipleObjects(0, NULL, FALSE, (DWORD)waitms - spent, QS_POSTMESSAGE);
    }
}

static void get_message(const step_t *st)
{
    if (qhead == qtail) {
        int expects = st->hint == NULL || strcmp(st->hint, "none") != 0;
        drain(expects ? SETTLE_MS : 0, expects ? 1 : 0, NULL, 0);
    }
    if (qhead == qtail) { snprintf(result, TEXT_SIZE, "none"); return; }
    message_text(result, TEXT_SIZE, &queue[qhead]);
    qhead = (qhead + 1) % MAX_QUEUE;
}

/* A step by thread T: 0 when there is nothing to compare (no result). */
static int thread_step(const step_t *st, int *outcome)
{
    int t = st->thread, i, reused;
    long long x[3], handle;
    worker_t *w = &workers[t];
    int wait;
    if (is_blocked[t]) {
        if (version == 1) {
            snprintf(stop_reason, sizeof stop_reason,
                     "t%d calls while blocked under version 1 (blocking hooks) (line %d)", t,
                     st->line);
            *outcome = STOPPED;
            return 0;
        }
        bind_var(st, st->op == OP_SOCKET || st->op == OP_DUPLICATE ? -1 : 0);
        return 0; /* the model rejects it: not made */
    }
    if (st->op == OP_GETMESSAGE) { get_message(st); return 1; }
    handle = var_handle(st->target, &reused);
    if (reused) {
        bind_var(st, st->op == OP_DUPLICATE ? -1 : 0);
        return 0; /* the variable no longer names the socket it was bound to */
    }
    memcpy(x, st->x, sizeof x);
    if (st->op == OP_BIND) {
        x[0] = 0;
        for (i = 0; i < nports; i++)
            if (port_model[i] == st->x[0]) x[0] = port_real[i];
    } else if (st->op == OP_CONNECT) {
        x[0] = listen_port;
    } else if (st->op == OP_SLEEPEX) {
        /* grace for routines still in flight, when a model says some ran */
        x[0] = st->hint == NULL || strcmp(st->hint, "0") != 0 ? SETTLE_MS : 0;
    } else if (st->op == OP_STARTUP && st->x[0] > 0) {
        version = st->x[0] == 1 ? 1 : 2;
    } else if (st->op == OP_ASYNCSELECT) {
        registered = 1;
    }
    /* a call every model says blocks is confirmed blocked sooner */
    wait = st->hint && !strcmp(st->hint, "blocked") ? BLOCK_CONFIRM_MS : BLOCK_WAIT_MS;
    if (!worker_call(t, wait, st->op, handle < 0 ? (unsigned long long)INVALID_SOCKET
                                                           : (unsigned long long)handle, x)) {
        is_blocked[t] = 1;
        blocked_op[t] = st->op;
        blocked_n[t] = (int)(st->op == OP_SEND || st->op == OP_RECV ? st->x[0] : 0);
        bind_var(st, st->op == OP_SOCKET || st->op == OP_DUPLICATE ? -1 : 0);
        snprintf(result, TEXT_SIZE, "blocked");
        return 1;
    }
    if (w->ret == -2) {
        snprintf(stop_reason, sizeof stop_reason, "no call for `%s` (line %d)", st->text, st->line);
        *outcome = FAILED;
        return 0;
    }
    after_call(st, w);
    render_call(st, w);
    return 1;
}

static int peer_step(const step_t *st, int *outcome)
{
    long long peer = bound[st->target] ? peer_of[st->target] : 0, ret = 0, err = 0;
    char e[64];
    int ok;
    if (peer <= 0 || peer > MAX_PEERS || peer_closed[peer]) return 0;
    if (st->op == OP_PEER_RECV)
        ok = peer_ask(&ret, &err, "precv %lld %lld %lld", peer, st->x[0],
                      st->hint && !strcmp(st->hint, "SOCKET_ERROR WSAEWOULDBLOCK") ? 0 : SETTLE_MS);
    else if (st->op == OP_PEER_SEND)
        ok = peer_ask(&ret, &err, "psend %lld %lld", peer, st->x[0], 0);
    else {
        ok = peer_ask(&ret, &err, st->op == OP_PEER_RESET ? "preset %lld" : "pclose %lld", peer,
                      0, 0);
        peer_closed[peer] = 1;
    }
    if (!ok) {
        snprintf(stop_reason, sizeof stop_reason, "engine failed: the peer process exited");
        *outcome = FAILED;
        return 0;
    }
    error_text(e, sizeof e, err);
    if (ret == -1) snprintf(result, TEXT_SIZE, "SOCKET_ERROR %s", e);
    else if (st->op == OP_PEER_RECV || st->op == OP_PEER_SEND)
        count_text(result, TEXT_SIZE, ret, st->x[0]);
    else snprintf(result, TEXT_SIZE, "%lld", ret);
    return 1;
}

static void status_error(char *out, size_t size, ULONG status)
{
    typedef ULONG(WINAPI * convert_t)(LONG);
    convert_t convert = (convert_t)(void (*)(void))GetProcAddress(GetModuleHandleW(L"ntdll.dll"),
                                                                  "RtlNtStatusToDosError");
    error_text(out, size, convert ? (long long)convert((LONG)status) : (long long)status);
}

static int ovl_step(const step_t *st)
{
    long long id = bound[st->target] ? op_id[st->target] : 0;
    op_t *op;
    DWORD bytes = 0, flags = 0, start = GetTickCount();
    int set, ok, err;
    DWORD waitms;
    ULONG status;
    const char *note;
    char shown[64];
    if (id < 1 || id > nops) return 0;
    op = ops[id - 1];
    waitms = st->hint && !strcmp(st->hint, "pending") ? 0 : SETTLE_MS;
    while (op->ov.Internal == STATUS_PENDING_VALUE && GetTickCount() - start < waitms) Sleep(5);
    status = (ULONG)op->ov.Internal;
    if (status == STATUS_PENDING_VALUE) { snprintf(result, TEXT_SIZE, "pending"); return 1; }
    set = op->ov.hEvent ? WaitForSingleObject(op->ov.hEvent, 0) == WAIT_OBJECT_0 : 0;
    ok = WSAGetOverlappedResult(op->s, &op->ov, &bytes, FALSE, &flags);
    err = ok ? 0 : WSAGetLastError();
    shown[0] = 0;
    if (!ok && err == WSAENOTSOCK) {
        /* the handle is closed: the operation's own status, as a Win32 error */
        ok = (LONG)status >= 0;
        bytes = (DWORD)op->ov.InternalHigh;
        if (!ok) status_error(shown, sizeof shown, status);
    } else if (!ok) {
        error_text(shown, sizeof shown, err);
    }
    if (!ok && err == WSA_IO_INCOMPLETE) { snprintf(result, TEXT_SIZE, "pending"); return 1; }
    if (op_mode[st->target] == MODE_ROUTINE) note = op->ran ? "routine-ran" : "routine-not-ran";
    else note = set ? "signaled" : "unsignaled";
    if (ok) {
        count_text(shown, sizeof shown, (long long)bytes, op_n[st->target]);
        snprintf(result, TEXT_SIZE, "done %s %s", shown, note);
    } else {
        snprintf(result, TEXT_SIZE, "failed %s %s", shown, note);
    }
    return 1;
}

static int advance_step(const step_t *st, int *outcome)
{
    int t, closing = 0;
    for (t = 0; t < NWORKERS; t++)
        if (is_blocked[t] && blocked_op[t] == OP_CLOSESOCKET) closing = 1;
    if (!closing) return 0;
    if (st->x[0] > MAX_SLEEP_MS) {
        snprintf(stop_reason, sizeof stop_reason,
                 "advance %lld while a closesocket is blocked: longer than the %d ms this "
                 "engine sleeps (line %d)", st->x[0], MAX_SLEEP_MS, st->line);
        *outcome = STOPPED;
        return 0;
    }
    Sleep((DWORD)st->x[0]);
    return 0;
}

static int cmp_text(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Completions of blocked calls, sorted and "; "-joined: waits up to WAITMS until
 * WANT of them completed (-1: all), then takes any others already done. */
static void poll_completions(int waitms, int want)
{
    char done[NWORKERS][TEXT_SIZE];
    int ndone = 0, i;
    DWORD start = GetTickCount();
    completions[0] = 0;
    for (;;) {
        HANDLE hs[NWORKERS];
        int idx[NWORKERS], n = 0;
        DWORD spent = GetTickCount() - start, r;
        worker_t *w;
        char e[64];
        for (i = 0; i < NWORKERS; i++)
            if (is_blocked[i]) { hs[n] = workers[i].done; idx[n++] = i; }
        if (!n) break;
        if (want >= 0 && ndone >= want) spent = (DWORD)waitms; /* take only what is done */
        r = WaitForMultipleObjects(n, hs, FALSE, spent >= (DWORD)waitms ? 0 : waitms - spent);
        if (r >= WAIT_OBJECT_0 + (DWORD)n) break;
        i = idx[r - WAIT_OBJECT_0];
        w = &workers[i];
        w->busy = 0;
        is_blocked[i] = 0;
        if (w->ret == -1) {
            model_error_text(e, sizeof e, w->err);
            snprintf(done[ndone++], TEXT_SIZE, "t%d %s -> SOCKET_ERROR %s", i, call_name(blocked_op[i]),
                     e);
        } else if (blocked_op[i] == OP_SEND || blocked_op[i] == OP_RECV) {
            count_text(e, sizeof e, w->ret, blocked_n[i]);
            snprintf(done[ndone++], TEXT_SIZE, "t%d %s -> %s", i, call_name(blocked_op[i]), e);
        } else {
            snprintf(done[ndone++], TEXT_SIZE, "t%d %s -> %lld", i, call_name(blocked_op[i]), w->ret);
        }
    }
    qsort(done, (size_t)ndone, TEXT_SIZE, cmp_text);
    for (i = 0; i < ndone; i++) {
        if (i) strcat(completions, "; ");
        strcat(completions, done[i]);
    }
}

/* ================================================================== main */

int main(int argc, char **argv)
{
    int i, t, mismatches = 0, outcome = GO_ON;
    long long ret, err;
    if (argc > 1 && !strcmp(argv[1], "--peer")) return peer_main();
    _setmode(_fileno(stdout), _O_BINARY);
    InitializeCriticalSection(&lock);
    msgwin = CreateWindowExW(0, L"STATIC", L"wsa-export", 0, 0, 0, 0, 0, HWND_MESSAGE, NULL, NULL,
                             NULL);
    for (t = 0; t < NWORKERS; t++) {
        workers[t].index = t;
        workers[t].go = CreateEventW(NULL, FALSE, FALSE, NULL);
        workers[t].done = CreateEventW(NULL, FALSE, FALSE, NULL);
        workers[t].handle = CreateThread(NULL, 0, worker_main, &workers[t], 0, NULL);
    }
    printf("wsa-harness trace 1\nprogram %s\n", PROGRAM_FILE);
    for (i = 0; program_source[i]; i++) printf("source %s\n", program_source[i]);
    if (!start_peer() || !peer_ask(&ret, &err, "listen", 0, 0, 0)) {
        printf("failed 0 engine failed: cannot start the peer process\nend\n");
        fprintf(stderr, "%s: cannot start the peer process\n", PROGRAM_FILE);
        return 2;
    }
    listen_port = (int)ret;
    for (i = 0; i < NSTEPS; i++) {
        const step_t *st = &steps[i];
        int has = 0;
        result[0] = 0;
        completions[0] = 0;
        if (st->thread >= 0) has = thread_step(st, &outcome);
        else if (st->op == OP_OVL) has = ovl_step(st);
        else if (st->op == OP_ADVANCE) has = advance_step(st, &outcome);
        else has = peer_step(st, &outcome);
        if (outcome != GO_ON) {
            printf("%s %d %s\n", outcome == FAILED ? "failed" : "stopped", i, stop_reason);
            fprintf(stderr, "%s:%d: %s\n", PROGRAM_FILE, st->line, stop_reason);
            break;
        }
        for (t = 0; t < NWORKERS; t++)
            if (is_blocked[t]) {
                poll_completions(st->hint_completions ? SETTLE_MS : 0, st->hint_completions);
                break;
            }
        messages[0] = 0;
        if (registered)
            drain(st->hint_messages ? SETTLE_MS : 0, st->hint_messages, messages, sizeof messages);
        printf("step %d %s\n", st->line, has ? result : "-");
        if (completions[0]) printf("completions %s\n", completions);
        if (messages[0]) printf("messages %s\n", messages);
        if (has && st->expect && strcmp(result, st->expect)) {
            fprintf(stderr, "%s:%d: `%s`: expected -> %s, observed -> %s\n", PROGRAM_FILE,
                    st->line, st->text, st->expect, result);
            mismatches++;
        }
        if (st->expect_completions && strcmp(completions, st->expect_completions)) {
            fprintf(stderr, "%s:%d: `%s`: expected completions: %s; observed: %s\n",
                    PROGRAM_FILE, st->line, st->text,
                    st->expect_completions[0] ? st->expect_completions : "none",
                    completions[0] ? completions : "none");
            mismatches++;
        }
        if (st->expect_messages && strcmp(messages, st->expect_messages)) {
            fprintf(stderr, "%s:%d: `%s`: expected messages: %s; observed: %s\n", PROGRAM_FILE,
                    st->line, st->text, st->expect_messages[0] ? st->expect_messages : "none",
                    messages[0] ? messages : "none");
            mismatches++;
        }
    }
    printf("end\n");
    fflush(stdout);
    fprintf(stderr, "%s: %d step(s) differ from the program's expectations\n", PROGRAM_FILE,
            mismatches);
    stop_peer();
    ExitProcess(outcome == FAILED ? 2 : mismatches ? 1 : 0); /* ends threads still blocked */
}
