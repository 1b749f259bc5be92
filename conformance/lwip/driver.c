/*
 * lwip-driver: runs wsa-harness program steps with real lwIP socket calls.
 *
 * It links Debian's liblwip (2.1.3, the unix port: pthreads sys_arch, the
 * sockets API, LWIP_SO_LINGER, LWIP_NETIF_LOOPBACK) and brings up the stack
 * inside this process: the tcpip thread, and one netif with address
 * 10.0.0.1/8 that delivers packets for its own address to itself (lwIP's
 * loopback).  Both ends of every connection are lwIP sockets of this stack:
 * the program's socket, and the peer accepted from a listener on 10.0.0.1.
 *
 * It serves the line protocol of the Wine driver (harness/conformance/protocol.py,
 * conformance/wine/driver.c) on stdin/stdout, both the main and the peer
 * requests in the one process (harness/conformance/lwip.py):
 *   reset                          close every socket of the last program (abortive)
 *   call T WAITMS NAME S X1 X2 X3  run call NAME on worker T (t0, t1): "R ret errno e1 e2",
 *                                  or "B" if it is still running after WAITMS
 *   poll WAITMS [WANT]             "C T ret errno e1 e2" per blocked call that completed
 *   listen                         "R port listener-fd 0 0"
 *   accept WAITMS                  "R id 0 fd 0": the peer of the last connect
 *   precv ID N WAITMS | psend ID N | pclose ID | preset ID
 *   quit
 * Errors are errno values (lwIP sets the C library's errno); the harness maps
 * them to Winsock errors as for Linux (harness/conformance/errnomap.py).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lwip/opt.h"
#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/sockets.h"
#include "lwip/sys.h"
#include "lwip/tcpip.h"
#include "lwip/api.h"
#include "lwip/tcp.h"
#include "lwip/priv/sockets_priv.h"

typedef int sock_t;
#define NO_SOCKET (-1)
#include "../protocol.h"

#define MAX_SOCKS 1024
#define NETIF_ADDR "10.0.0.1"

/* The model delivers data at the send (SEMANTICS.md section 6); lwIP's Nagle
 * algorithm would hold a small segment until the last one is acknowledged, and
 * lwIP acknowledges late (delayed ACK), so every TCP socket sends at once (D80). */
static void no_delay(int s)
{
    int one = 1, saved = errno;
    lwip_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    errno = saved;
}

/* ------------------------------------------------------------------- stack */

static struct netif loop_netif;

static err_t drop_output(struct netif *netif, struct pbuf *p, const ip4_addr_t *dst)
{
    (void)netif; (void)p; (void)dst;
    return ERR_OK; /* only packets for 10.0.0.1 exist, and those are looped back */
}

static err_t drop_linkoutput(struct netif *netif, struct pbuf *p)
{
    (void)netif; (void)p;
    return ERR_OK;
}

static err_t loop_netif_init(struct netif *netif)
{
    netif->name[0] = 'l';
    netif->name[1] = 'p';
    netif->mtu = 1500;
    netif->output = drop_output;
    netif->linkoutput = drop_linkoutput;
    netif->flags = NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

static sys_sem_t started;

static void tcpip_started(void *arg)
{
    (void)arg;
    sys_sem_signal(&started);
}

static void bring_up(void)
{
    ip4_addr_t ip, mask, gw;
    sys_sem_new(&started, 0);
    tcpip_init(tcpip_started, NULL);
    sys_sem_wait(&started);
    ip4addr_aton(NETIF_ADDR, &ip);
    ip4addr_aton("255.0.0.0", &mask);
    ip4_addr_set_zero(&gw);
    LOCK_TCPIP_CORE();
    netif_add(&loop_netif, &ip, &mask, &gw, NULL, loop_netif_init, tcpip_input);
    netif_set_default(&loop_netif);
    netif_set_link_up(&loop_netif);
    netif_set_up(&loop_netif);
    UNLOCK_TCPIP_CORE();
}

static struct sockaddr_in address(int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = lwip_htons((u16_t)port);
    inet_pton(AF_INET, NETIF_ADDR, &a.sin_addr);
    return a;
}

/* --------------------------------------------------------------- workers */

typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int has_job, done, busy, index;
    char name[32];
    long long target, x[3];
    long long ret, err, e1, e2;
} worker_t;

static worker_t workers[NWORKERS];
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int created[MAX_SOCKS], ncreated;

static void remember_socket(int s)
{
    pthread_mutex_lock(&done_mu);
    if (s >= 0 && ncreated < MAX_SOCKS) created[ncreated++] = s;
    pthread_mutex_unlock(&done_mu);
}

static void run_call(worker_t *w)
{
    int s = (int)w->target, r = 0;
    const char *name = w->name;
    long long *x = w->x;
    w->ret = 0; w->err = 0; w->e1 = 0; w->e2 = 0;
    if (!strcmp(name, "__flush")) { errno = 0; return; }
    if (!strcmp(name, "startup")) return; /* lwIP needs no initialisation per caller */
    if (!strcmp(name, "getlasterror")) { w->ret = errno; return; }
    if (!strcmp(name, "socket")) {
        int n = lwip_socket(AF_INET, x[0] == 2 ? SOCK_DGRAM : SOCK_STREAM, 0);
        w->ret = n;
        w->err = n < 0 ? errno : 0;
        remember_socket(n);
        if (n >= 0 && x[0] != 2) no_delay(n);
        return;
    }
    if (!strcmp(name, "bind")) {
        struct sockaddr_in a = address((int)x[0]);
        socklen_t len = sizeof a;
        r = lwip_bind(s, (struct sockaddr *)&a, sizeof a);
        if (r == 0 && lwip_getsockname(s, (struct sockaddr *)&a, &len) == 0)
            w->e1 = lwip_ntohs(a.sin_port);
    } else if (!strcmp(name, "connect")) {
        struct sockaddr_in a = address((int)x[0]);
        r = lwip_connect(s, (struct sockaddr *)&a, sizeof a);
    } else if (!strcmp(name, "setlinger")) {
        struct linger l;
        l.l_onoff = (int)x[0];
        l.l_linger = (int)x[1];
        r = lwip_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else if (!strcmp(name, "setdontlinger")) {
        /* no SO_DONTLINGER: l_onoff = (V == 0), keeping l_linger (as for Linux) */
        struct linger l = {0, 0};
        socklen_t len = sizeof l;
        r = lwip_getsockopt(s, SOL_SOCKET, SO_LINGER, &l, &len);
        if (r == 0) {
            l.l_onoff = x[0] == 0;
            r = lwip_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
    } else if (!strcmp(name, "getlinger") || !strcmp(name, "getdontlinger")) {
        struct linger l;
        socklen_t len = sizeof l;
        memset(&l, 0xee, sizeof l);
        r = lwip_getsockopt(s, SOL_SOCKET, SO_LINGER, &l, &len);
        if (name[3] == 'l') {
            w->e1 = l.l_onoff;
            w->e2 = l.l_linger;
        } else {
            w->e1 = l.l_onoff == 0;
        }
    } else if (!strcmp(name, "fionbio")) {
        int v = x[0] != 0;
        r = lwip_ioctl(s, (long)FIONBIO, &v);
    } else if (!strcmp(name, "send") || !strcmp(name, "recv")) {
        char *buf = calloc(1, x[0] > 0 ? (size_t)x[0] : 1);
        r = name[0] == 's' ? (int)lwip_send(s, buf, (size_t)x[0], 0)
                           : (int)lwip_recv(s, buf, (size_t)x[0], 0);
        free(buf);
    } else if (!strcmp(name, "shutdown")) {
        r = lwip_shutdown(s, (int)x[0]);
    } else if (!strcmp(name, "closesocket")) {
        r = lwip_close(s);
    } else {
        w->ret = -2;
        return;
    }
    w->ret = r;
    w->err = r < 0 ? errno : 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->has_job) pthread_cond_wait(&w->cv, &w->mu);
        w->has_job = 0;
        pthread_mutex_unlock(&w->mu);
        run_call(w);
        pthread_mutex_lock(&done_mu);
        w->done = 1;
        pthread_cond_broadcast(&done_cv);
        pthread_mutex_unlock(&done_mu);
    }
    return NULL;
}

static struct timespec deadline(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) { t.tv_sec++; t.tv_nsec -= 1000000000L; }
    return t;
}

/* Start NAME on worker T; 1 if it finished within WAITMS. */
static int start_call(int t, int waitms, const char *name, long long target, const long long *x)
{
    worker_t *w = &workers[t];
    struct timespec until = deadline(waitms);
    int finished;
    snprintf(w->name, sizeof w->name, "%s", name);
    w->target = target;
    memcpy(w->x, x, sizeof w->x);
    w->busy = 1;
    pthread_mutex_lock(&done_mu);
    w->done = 0;
    pthread_mutex_unlock(&done_mu);
    pthread_mutex_lock(&w->mu);
    w->has_job = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_lock(&done_mu);
    while (!w->done && pthread_cond_timedwait(&done_cv, &done_mu, &until) == 0) {}
    finished = w->done;
    pthread_mutex_unlock(&done_mu);
    if (finished) w->busy = 0;
    return finished;
}

static void do_call(int t, int waitms, const char *name, long long target, long long *x)
{
    worker_t *w;
    int finished;
    if (t < 0 || t >= NWORKERS) { refuse("no such thread"); return; }
    w = &workers[t];
    if (w->busy) { refuse("thread is blocked"); return; }
    finished = start_call(t, waitms, name, target, x);
    answer_call(finished, name, w->ret, w->err, w->e1, w->e2);
}

static void do_poll(int waitms, int want)
{
    struct timespec until = deadline(waitms);
    int got = 0, i, any;
    pthread_mutex_lock(&done_mu);
    for (;;) {
        any = 0;
        for (i = 0; i < NWORKERS; i++) {
            worker_t *w = &workers[i];
            if (!w->busy) continue;
            if (w->done) {
                w->busy = 0;
                got++;
                answer_c(i, w->ret, w->err, w->e1, w->e2);
            } else {
                any = 1;
            }
        }
        if (!any || (want >= 0 && got >= want)) break;
        if (pthread_cond_timedwait(&done_cv, &done_mu, &until) != 0) {
            for (i = 0; i < NWORKERS; i++) /* a last look at what is done */
                if (workers[i].busy && workers[i].done) {
                    workers[i].busy = 0;
                    answer_c(i, workers[i].ret, workers[i].err, workers[i].e1, workers[i].e2);
                }
            break;
        }
    }
    pthread_mutex_unlock(&done_mu);
    answer_end();
}

/* ------------------------------------------------------------------ peer */

static int listener = -1;

static void abort_close(int s)
{
    struct linger l = {1, 0};
    lwip_setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    lwip_close(s);
}

/* The peer's reset is a real RST: lwip_close with SO_LINGER {1, 0} aborts only
 * while data is unsent or unacknowledged, and otherwise closes with FIN (or with
 * a RST only for unread data), so the peer aborts its pcb itself, under the core
 * lock (decision D80); lwip_close then frees the socket of the reset netconn. */
static void peer_abort(int s)
{
    struct lwip_sock *sock;
    LOCK_TCPIP_CORE();
    sock = lwip_socket_dbg_get_socket(s);
    if (sock != NULL && sock->conn != NULL && NETCONNTYPE_GROUP(sock->conn->type) == NETCONN_TCP
        && sock->conn->pcb.tcp != NULL && sock->conn->pcb.tcp->state != LISTEN)
        tcp_abort(sock->conn->pcb.tcp);
    UNLOCK_TCPIP_CORE();
}

/* The model delivers at once (SEMANTICS.md section 6) and Linux's loopback does
 * too; lwIP's loopback netif queues what it sends for the tcpip thread.  Deliver
 * the queue here, under the core lock, until it is empty (D80). */
static void settle_loopback(void)
{
    int i, saved = errno;
    LOCK_TCPIP_CORE();
    for (i = 0; i < 8 && loop_netif.loop_first != NULL; i++) netif_poll(&loop_netif);
    UNLOCK_TCPIP_CORE();
    errno = saved;
}

static int wait_readable(int s, int waitms)
{
    struct pollfd p;
    p.fd = s;
    p.events = POLLIN;
    p.revents = 0;
    return lwip_poll(&p, 1, waitms);
}

static void peer_request(const char *cmd, long long a, long long b, long long c)
{
    int i;
    if (!strcmp(cmd, "listen")) {
        struct sockaddr_in addr = address(0);
        socklen_t len = sizeof addr;
        if (listener < 0) {
            listener = lwip_socket(AF_INET, SOCK_STREAM, 0);
            lwip_bind(listener, (struct sockaddr *)&addr, sizeof addr);
            lwip_listen(listener, 16);
        }
        lwip_getsockname(listener, (struct sockaddr *)&addr, &len);
        answer_r(lwip_ntohs(addr.sin_port), 0, listener, 0);
    } else if (!strcmp(cmd, "accept")) {
        int s = -1, one = 1;
        if (wait_readable(listener, (int)a) > 0) s = lwip_accept(listener, NULL, NULL);
        if (s < 0 || npeers >= MAX_PEERS) answer_r(-1, errno, 0, 0);
        else {
            lwip_ioctl(s, (long)FIONBIO, &one);
            no_delay(s);
            peers[npeers++] = s;
            answer_r(npeers, 0, s, 0);
        }
    } else if (!strcmp(cmd, "precv") || !strcmp(cmd, "psend")) {
        char *buf;
        long r;
        if ((i = peer_index(a)) < 0) return;
        buf = calloc(1, b > 0 ? (size_t)b : 1);
        if (cmd[1] == 'r' && b == 0) {
            /* a zero-length read checks first (a reset), then gives 0 without
             * waiting (SEMANTICS.md section 7, D24): peek one byte, as the Linux
             * engine does (decisions D70, D80); lwIP's recv of 0 bytes would fail
             * with EWOULDBLOCK on an empty socket and read a reset as 0 */
            wait_readable(peers[i], (int)c);
            r = lwip_recv(peers[i], buf, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r > 0 || (r < 0 && (errno == EWOULDBLOCK || errno == EAGAIN))) r = 0;
        } else if (cmd[1] == 'r') {
            wait_readable(peers[i], (int)c);
            r = lwip_recv(peers[i], buf, (size_t)b, 0);
        } else {
            r = lwip_send(peers[i], buf, (size_t)b, 0);
            settle_loopback(); /* the model's data arrives at the send (D80) */
        }
        free(buf);
        answer_r(r, r < 0 ? errno : 0, 0, 0);
    } else if (!strcmp(cmd, "pclose") || !strcmp(cmd, "preset")) {
        int r;
        if ((i = peer_index(a)) < 0) return;
        settle_loopback(); /* our data in flight reaches the peer first */
        if (cmd[1] == 'r') peer_abort(peers[i]);
        r = lwip_close(peers[i]);
        settle_loopback(); /* and its FIN or RST reaches our socket */
        answer_r(r, r < 0 ? errno : 0, 0, 0);
        peers[i] = -1;
    } else {
        printf("X unknown request %s\n", cmd);
    }
    answer_end();
}

/* Close every socket of the last program (abortive).  A worker still blocked
 * in a call is not woken: closing a socket under a blocked call can block in
 * lwIP (no LWIP_NETCONN_FULLDUPLEX), so the driver says "stuck" at once and the
 * harness starts a fresh process, which costs a few milliseconds. */
static void reset_all(void)
{
    int i, s, one = 1;
    struct timespec until;
    pthread_mutex_lock(&done_mu);
    for (i = 0; i < NWORKERS; i++)
        if (workers[i].busy && !workers[i].done) {
            pthread_mutex_unlock(&done_mu);
            printf("X stuck: t%d is still blocked in a call\n", i);
            answer_end();
            return;
        }
    pthread_mutex_unlock(&done_mu);
    for (i = 0; i < npeers; i++)
        if (peers[i] >= 0) abort_close(peers[i]);
    npeers = 0;
    pthread_mutex_lock(&done_mu);
    for (i = 0; i < ncreated; i++) abort_close(created[i]);
    ncreated = 0;
    pthread_mutex_unlock(&done_mu);
    if (listener >= 0) {
        lwip_ioctl(listener, (long)FIONBIO, &one);
        while ((s = lwip_accept(listener, NULL, NULL)) >= 0) abort_close(s);
        one = 0;
        lwip_ioctl(listener, (long)FIONBIO, &one);
    }
    until = deadline(1000);
    pthread_mutex_lock(&done_mu);
    for (i = 0; i < NWORKERS; i++) {
        while (workers[i].busy && !workers[i].done &&
               pthread_cond_timedwait(&done_cv, &done_mu, &until) == 0) {}
        if (workers[i].busy && !workers[i].done) {
            pthread_mutex_unlock(&done_mu);
            printf("X stuck: t%d is still blocked after closing every socket\n", i);
            answer_end();
            return;
        }
        workers[i].busy = 0;
    }
    pthread_mutex_unlock(&done_mu);
    for (i = 0; i < NWORKERS; i++) {
        long long x[3] = {0, 0, 0};
        start_call(i, 1000, "__flush", 0, x); /* errno 0, as a fresh thread */
    }
    answer_end();
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    char line[512], cmd[64], name[64];
    int i;
    bring_up();
    for (i = 0; i < NWORKERS; i++) {
        workers[i].index = i;
        pthread_mutex_init(&workers[i].mu, NULL);
        pthread_cond_init(&workers[i].cv, NULL);
        pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    }
    puts("ready lwip");
    answer_end();
    while (fgets(line, sizeof line, stdin)) {
        long long a = 0, b = 0, c = 0, x[3] = {0, 0, 0};
        unsigned long long target = 0;
        int t = 0, waitms = 0, want = -1;
        if (sscanf(line, "%63s", cmd) != 1) continue;
        if (!strcmp(cmd, "quit")) break;
        if (!strcmp(cmd, "reset")) {
            reset_all();
        } else if (!strcmp(cmd, "call")) {
            if (parse_call(line, &t, &waitms, name, &target, x))
                do_call(t, waitms, name, (long long)target, x);
            else
                refuse("malformed call");
        } else if (!strcmp(cmd, "poll") && parse_poll(line, &waitms, &want)) {
            do_poll(waitms, want);
        } else if (!strcmp(cmd, "sleep") && sscanf(line, "%*s %d", &waitms) == 1) {
            struct timespec d = {waitms / 1000, (long)(waitms % 1000) * 1000000L};
            nanosleep(&d, NULL);
            answer_end();
        } else {
            sscanf(line, "%*s %lld %lld %lld", &a, &b, &c);
            peer_request(cmd, a, b, c);
        }
    }
    fflush(stdout);
    _exit(0); /* the tcpip thread and blocked workers end with the process */
}
