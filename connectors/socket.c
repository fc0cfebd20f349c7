/*
 * socket.c - the socket:// and listen:// sources.
 *
 * socket://HOST:PORT connects to a text server and reads lines, like
 * Spark's socket source; when the server is not there or goes away it
 * retries with capped exponential backoff (Spark would die; a service
 * should not). listen://HOST:PORT accepts up to maxClients clients (epoll),
 * each a stream of lines (`nc -N HOST PORT < book.txt`); one more is accepted
 * and closed at once, and counted. Both read on a thread of their own into
 * an inbox (inbox.h) that the engine drains at each trigger. Neither is
 * replayable: a crash loses what was not committed.
 *
 * What a listen:// client can make the service hold is its unfinished
 * line, at most clientBuffer bytes (the framer cuts a longer line there,
 * as at --max-line-bytes, whichever is smaller): so the clients' share of
 * memory is at most maxClients x clientBuffer, besides the shared inbox.
 * The counters (clients open, accepted, refused) go out with each pull as
 * the source's progress metrics.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wcstream/inbox.h"
#include "wcstream/log.h"
#include "wcstream/progress.h"
#include "wcstream/source.h"

#define READ_CHUNK         (64 * 1024)
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define CONNECT_TIMEOUT_MS 10000
#define KEEPALIVE_IDLE_S   10                  /* socket:// silence before the first probe */
#define KEEPALIVE_INTVL_S  5                   /* between unanswered probes */
#define KEEPALIVE_PROBES   3                   /* unanswered ones that end the connection */
#define MAX_CLIENTS        1024                /* listen:// maxClients default */
#define CLIENT_BUFFER      ((size_t)256 << 10) /* listen:// clientBuffer default */
#define EPOLL_EVENTS       64
#define ACCEPT_BATCH       32 /* clients accepted per wake-up */
#define GONE_READS         64 /* reads of a client that has hung up, per wake-up */
#define REFUSAL_LOG_NS     ((int64_t)10 * 1000000000) /* one warning per 10 s */

/* A listen:// client, in a doubly linked list (epoll hands back its address). */
struct conn {
    int fd;
    struct wcs_framer fr;
    struct conn *prev, *next;
};

struct sock_src {
    struct wcs_inbox ib;
    char host[256];
    char port[8];
    const char *desc;
    bool available_now;
    size_t max_line;
    int listen_fd;
    /* listen:// only; the counters are read by the engine thread's pull */
    int epoll_fd;
    int spare_fd; /* /dev/null, closed to accept and refuse when out of fds */
    struct conn *conns;
    size_t max_clients, client_buffer;
    atomic_uint_fast64_t nconns, accepted, refused;
    int64_t refusal_logged_ns;
    pthread_t tid;
    bool running;
};

static int parse_target(struct sock_src *s, struct wcs_uri *uri, char *err, size_t errlen)
{
    uint16_t port;
    if (wcs_uri_host_port(uri->target, s->host, sizeof(s->host), &port, err, errlen) < 0)
        return WCS_EUSAGE;
    snprintf(s->port, sizeof(s->port), "%u", port);
    return 0;
}

/* The shared part of both sources' init(). 0, -1 or WCS_EUSAGE. */
static int sock_new(struct wcs_source *src, struct wcs_uri *uri, const struct wcs_source_env *env,
                    char *err, size_t errlen)
{
    struct sock_src *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    src->ctx = s;
    s->listen_fd = s->epoll_fd = s->spare_fd = -1;
    s->desc = src->desc;
    s->available_now = env->available_now;
    s->max_line = env->max_line;
    if (wcs_inbox_init(&s->ib, env->max_bytes, env->notify) < 0) {
        snprintf(err, errlen, "%s: cannot create an eventfd: %s", src->desc, strerror(errno));
        return -1;
    }
    return parse_target(s, uri, err, errlen);
}

/* Wait for the wake fd for up to ms; true when asked to stop. */
static bool sleep_or_stop(struct sock_src *s, int64_t ms)
{
    wcs_notify_wait(&s->ib.wake, ms);
    pthread_mutex_lock(&s->ib.mu);
    bool stop = s->ib.stopping;
    pthread_mutex_unlock(&s->ib.mu);
    return stop;
}

/* Read what fd has into the inbox. 2 when bytes came, 1 while open
 * without them, 0 at end of stream. */
static int read_some(struct sock_src *s, int fd, struct wcs_framer *fr, char *chunk)
{
    ssize_t n = read(fd, chunk, READ_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n > 0 && wcs_inbox_feed(&s->ib, fr, chunk, (size_t)n) == 0)
        return 2;
    /* A reset is a peer's abortive close: ordinary, and a flood of them
     * must not flood the log. */
    if (n < 0 && errno == ECONNRESET)
        wcs_debug("%s: connection reset by the peer", s->desc);
    else if (n < 0)
        wcs_warn("%s: read failed: %s", s->desc, strerror(errno));
    else if (n > 0)
        wcs_error("%s: out of memory; dropping the connection", s->desc);
    wcs_inbox_feed(&s->ib, fr, NULL, 0); /* the half line at disconnect counts */
    return 0;
}

/* ---- socket:// ---------------------------------------------------------- */

/* Connect without blocking a stop: wait for the connection or the wake
 * fd, whichever comes first. 0, or -1 with errno (EINTR when stopping). */
static int connect_or_stop(struct sock_src *s, int fd, const struct addrinfo *ai)
{
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return -1;
    struct pollfd pf[2] = {{.fd = fd, .events = POLLOUT}, {.fd = s->ib.wake.fd, .events = POLLIN}};
    int r = poll(pf, 2, CONNECT_TIMEOUT_MS);
    if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (r < 0 || pf[1].revents) {
        errno = EINTR; /* the caller checks whether it was asked to stop */
        return -1;
    }
    int e = 0;
    socklen_t len = sizeof(e);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0 || e) {
        errno = e ? e : errno;
        return -1;
    }
    return 0;
}

/* The source only reads, so a server that vanishes without closing (its
 * host crashed or lost the network, a NAT forgot the connection) would
 * leave it waiting on a dead connection for ever, never reconnecting.
 * Keepalive probes after a silence find that out: the host answers a
 * reset once it is back, or none answers within KEEPALIVE_INTVL_S x
 * KEEPALIVE_PROBES, and the read fails. Best effort: a failure here
 * leaves the connection as it was. */
static void keep_alive(int fd)
{
    int on = 1, idle = KEEPALIVE_IDLE_S, intvl = KEEPALIVE_INTVL_S, probes = KEEPALIVE_PROBES;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
}

static int dial(struct sock_src *s, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    int rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd >= 0 && connect_or_stop(s, fd, ai) == 0)
            break;
        snprintf(why, whylen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        keep_alive(fd);
    return fd;
}

static void *client_thread(void *arg)
{
    struct sock_src *s = arg;
    char *chunk = malloc(READ_CHUNK);
    struct wcs_framer fr;
    wcs_framer_init(&fr, s->max_line);
    int64_t backoff = BACKOFF_MIN_MS;
    bool warned = false;
    while (chunk) {
        char why[256];
        int fd = dial(s, why, sizeof(why));
        if (fd < 0) {
            if (!warned)
                wcs_warn("%s: cannot connect: %s; retrying with backoff up to %d ms", s->desc, why,
                         BACKOFF_MAX_MS);
            else
                wcs_debug("%s: cannot connect: %s; retrying in %lld ms", s->desc, why,
                          (long long)backoff);
            warned = true;
            if (sleep_or_stop(s, backoff))
                break;
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        wcs_info("%s: connected", s->desc);
        warned = false;
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
                               {.fd = s->ib.wake.fd, .events = POLLIN}};
        bool open = true, stop = false, fed = false;
        while (open && !stop) {
            if (!wcs_inbox_wait_space(&s->ib)) {
                stop = true;
                break;
            }
            if (poll(pf, 2, -1) < 0) {
                if (errno == EINTR)
                    continue; /* revents are last round's */
                wcs_warn("%s: poll failed: %s", s->desc, strerror(errno));
                wcs_inbox_feed(&s->ib, &fr, NULL, 0); /* no half line for the next connection */
                break;
            }
            if (pf[1].revents)
                stop = sleep_or_stop(s, 0);
            if (pf[0].revents) {
                int r = read_some(s, fd, &fr, chunk);
                open = r > 0;
                fed |= r == 2;
            }
        }
        close(fd);
        if (stop)
            break;
        if (s->available_now) {
            wcs_info("%s: end of stream", s->desc);
            break;
        }
        /* A server that accepts and closes at once (a proxy without its
         * backend) is backed off like one that refuses: only a connection
         * that brought data starts the backoff over. */
        if (fed)
            backoff = BACKOFF_MIN_MS;
        wcs_warn("%s: connection closed by the server; reconnecting in %lld ms", s->desc,
                 (long long)backoff);
        if (sleep_or_stop(s, backoff))
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    wcs_framer_free(&fr);
    wcs_inbox_close(&s->ib, chunk ? 0 : ENOMEM); /* an error is the stream's, not its end */
    free(chunk);
    return NULL;
}

static int client_init(struct wcs_source *src, struct wcs_uri *uri,
                       const struct wcs_source_env *env, char *err, size_t errlen)
{
    int r = sock_new(src, uri, env, err, errlen);
    if (r < 0)
        return r;
    struct sock_src *s = src->ctx;
    if ((r = wcs_uri_check_unused(uri, err, errlen)) < 0) /* before it dials */
        return r;
    r = wcs_inbox_thread(&s->tid, client_thread, s);
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot start a thread: %s", src->desc, strerror(-r));
        return -1;
    }
    s->running = true;
    return 0;
}

/* ---- listen:// ---------------------------------------------------------- */

/* Whether another client may come in; warns (at most once per 10 s)
 * when not, and counts the refusal. */
static bool admit(struct sock_src *s, const char *why)
{
    if (!why && atomic_load(&s->nconns) < s->max_clients)
        return true;
    uint64_t n = atomic_fetch_add(&s->refused, 1) + 1;
    int64_t now = wcs_now_ns();
    if (!s->refusal_logged_ns || now - s->refusal_logged_ns >= REFUSAL_LOG_NS) {
        s->refusal_logged_ns = now;
        wcs_warn("%s: refusing clients: %s (%" PRIu64 " refused so far; progress metrics "
                 "clientsRefused)",
                 s->desc, why ? why : "maxClients reached", n);
    }
    return false;
}

static int add_conn(struct sock_src *s, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->fd = fd;
    wcs_framer_init(&c->fr, s->max_line < s->client_buffer ? s->max_line : s->client_buffer);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        wcs_framer_free(&c->fr);
        free(c);
        return -e;
    }
    c->next = s->conns;
    if (c->next)
        c->next->prev = c;
    s->conns = c;
    atomic_fetch_add(&s->nconns, 1);
    atomic_fetch_add(&s->accepted, 1);
    return 0;
}

/* Close a client; closing its fd also takes it out of the epoll set. */
static void drop_conn(struct sock_src *s, struct conn *c)
{
    close(c->fd);
    wcs_framer_free(&c->fr);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    atomic_fetch_sub(&s->nconns, 1);
}

/* Out of file descriptors: accept the waiting client with the spare
 * one's number and close it, rather than leave it in the backlog, where
 * the listening socket would stay readable and the loop would spin.
 * 0, or -1 when there was no spare (then it waits a little instead). */
static int refuse_without_fd(struct sock_src *s)
{
    if (s->spare_fd < 0) /* another thread took its number last time */
        s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->spare_fd < 0) {
        sleep_or_stop(s, 100); /* a stop is seen by the loop's next wait */
        return -1;
    }
    close(s->spare_fd);
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        admit(s, "out of file descriptors (ulimit -n)");
    }
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

/* Accept what waits, ACCEPT_BATCH at most: a burst of short connections
 * (in the backlog and perhaps gone already) is read, and the gone ones
 * dropped, between two batches, rather than all taken at once, counted
 * as open and pushed over maxClients. */
static void accept_some(struct sock_src *s)
{
    for (int k = 0; k < ACCEPT_BATCH; k++) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && refuse_without_fd(s) == 0)
                continue;
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                wcs_warn("%s: accept failed: %s", s->desc, strerror(errno));
            return;
        }
        if (!admit(s, NULL)) {
            close(fd);
            continue;
        }
        int r = add_conn(s, fd);
        if (r < 0) {
            admit(s, strerror(-r));
            close(fd);
            continue;
        }
        wcs_debug("%s: client connected (%" PRIuFAST64 " open)", s->desc, atomic_load(&s->nconns));
    }
}

static void *listen_thread(void *arg)
{
    struct sock_src *s = arg;
    char *chunk = malloc(READ_CHUNK);
    struct epoll_event ev[EPOLL_EVENTS];
    int error = chunk ? 0 : ENOMEM; /* the stream's, not its end */
    bool stop = error;
    while (!stop && wcs_inbox_wait_space(&s->ib)) {
        if (s->available_now && atomic_load(&s->accepted) && !atomic_load(&s->nconns)) {
            /* Every client came and went, but one that connected since
             * the last wait is in the backlog, its lines sent: take it.
             * Else the finite run is over, and later clients are refused
             * now rather than let in by the kernel and reset unread. */
            accept_some(s);
            if (atomic_load(&s->nconns))
                continue;
            shutdown(s->listen_fd, SHUT_RD);
            break;
        }
        int n = epoll_wait(s->epoll_fd, ev, EPOLL_EVENTS, -1);
        if (n < 0 && errno != EINTR) {
            error = errno;
            break;
        }
        /* Level-triggered: a client with more to say than one read comes
         * back in the next round, after the others had their turn. */
        for (int i = 0; i < n && !stop; i++) {
            void *p = ev[i].data.ptr;
            if (p == &s->ib.wake) {
                stop = sleep_or_stop(s, 0);
            } else if (p == &s->listen_fd) {
                accept_some(s);
            } else {
                /* One read at a time into the inbox, so it passes its
                 * capacity by one read at most. A client that has hung up
                 * is read to its end now, so its slot is free at once
                 * (else a burst of short connections, each needing a
                 * round for its data and one for its end, could keep
                 * maxClients busy). */
                struct conn *c = p;
                bool gone = ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
                for (int k = 0; k < (gone ? GONE_READS : 1); k++) {
                    if (!wcs_inbox_wait_space(&s->ib)) {
                        stop = true;
                        break;
                    }
                    if (read_some(s, c->fd, &c->fr, chunk) == 0) {
                        drop_conn(s, c);
                        break;
                    }
                }
            }
        }
    }
    while (s->conns)
        drop_conn(s, s->conns);
    free(chunk);
    wcs_inbox_close(&s->ib, error);
    return NULL;
}

/* Warn when the file descriptor limit is below what maxClients needs
 * (src/main.c raises the soft limit to the hard one at start). */
static void check_fd_limit(struct sock_src *s)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < s->max_clients + 64)
        wcs_warn("%s: maxClients=%zu, but the process may open only %llu files (ulimit -n): "
                 "clients past that are refused",
                 s->desc, s->max_clients, (unsigned long long)rl.rlim_cur);
}

/* Listen on the first of a name's addresses that can be bound (localhost
 * may name ::1 first, on a kernel without IPv6); -1 with the last errno. */
static int listen_first(const struct addrinfo *res)
{
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        /* SOMAXCONN: a burst of connections waits in the kernel's queue
         * while the thread is busy; the kernel caps it at somaxconn. */
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            return fd;
        int e = errno;
        close(fd);
        errno = e;
    }
    return -1;
}

static int listen_init(struct wcs_source *src, struct wcs_uri *uri,
                       const struct wcs_source_env *env, char *err, size_t errlen)
{
    int r = sock_new(src, uri, env, err, errlen);
    if (r < 0)
        return r;
    struct sock_src *s = src->ctx;
    s->max_clients = MAX_CLIENTS;
    s->client_buffer = CLIENT_BUFFER;
    if (wcs_uri_get_size(uri, "maxClients", 1, 1000000, &s->max_clients, err, errlen) < 0 ||
        wcs_uri_get_bytes(uri, "clientBuffer", 64, (size_t)64 << 20, &s->client_buffer, err,
                          errlen) < 0)
        return WCS_EUSAGE;
    if ((r = wcs_uri_check_unused(uri, err, errlen)) < 0) /* before the port is taken */
        return r;
    check_fd_limit(s);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot resolve %s: %s", src->desc, s->host, gai_strerror(rc));
        return -1;
    }
    int fd = listen_first(res);
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot listen on %s:%s: %s", src->desc, s->host, s->port,
                 strerror(errno));
        return -1;
    }
    s->listen_fd = fd;
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s->listen_fd};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &s->ib.wake};
    if ((s->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &lev) < 0 ||
        epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->ib.wake.fd, &wev) < 0) {
        snprintf(err, errlen, "%s: cannot set up epoll: %s", src->desc, strerror(errno));
        return -1;
    }
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    r = wcs_inbox_thread(&s->tid, listen_thread, s);
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot start a thread: %s", src->desc, strerror(-r));
        return -1;
    }
    s->running = true;
    wcs_info("%s: listening; send text with: nc -N %s %s < FILE", src->desc, s->host, s->port);
    return 0;
}

/* ---- shared ------------------------------------------------------------- */

static int sock_pull(struct wcs_source *src, struct wcs_pull *p, char *err, size_t errlen)
{
    struct sock_src *s = src->ctx;
    if (s->listen_fd >= 0 && (p->metrics = cJSON_CreateObject())) {
        cJSON_AddNumberToObject(p->metrics, "clientsOpen", (double)atomic_load(&s->nconns));
        cJSON_AddNumberToObject(p->metrics, "clientsAccepted", (double)atomic_load(&s->accepted));
        cJSON_AddNumberToObject(p->metrics, "clientsRefused", (double)atomic_load(&s->refused));
    }
    return wcs_inbox_take(&s->ib, p, err, errlen);
}

static bool sock_finished(struct wcs_source *src)
{
    struct sock_src *s = src->ctx;
    return s->available_now && wcs_inbox_finished(&s->ib);
}

static void sock_destroy(struct wcs_source *src)
{
    struct sock_src *s = src->ctx;
    if (!s)
        return;
    if (s->running) {
        wcs_inbox_stop(&s->ib);
        pthread_join(s->tid, NULL);
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->epoll_fd >= 0)
        close(s->epoll_fd);
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    while (s->conns) /* when the thread never started */
        drop_conn(s, s->conns);
    wcs_inbox_destroy(&s->ib);
    free(s);
    src->ctx = NULL;
}

const struct wcs_source_plugin wcs_source_socket = {
    .scheme = "socket",
    .usage = "socket://HOST:PORT     connect to a text server (reconnects with backoff)",
    .init = client_init,
    .pull = sock_pull,
    .finished = sock_finished,
    .destroy = sock_destroy,
};

const struct wcs_source_plugin wcs_source_listen = {
    .scheme = "listen",
    .usage = "listen://HOST:PORT     accept clients (nc -N HOST PORT < FILE); options\n"
             "                         maxClients=N (1024), clientBuffer=SIZE (256KiB)",
    .init = listen_init,
    .pull = sock_pull,
    .finished = sock_finished,
    .destroy = sock_destroy,
};
