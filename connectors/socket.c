/*
 * socket.c - the socket:// and listen:// sources.
 *
 * socket://HOST:PORT connects to a text server and reads lines, like
 * Spark's socket source; when the server is not there or goes away it
 * retries with capped exponential backoff (Spark would die; a service
 * should not). listen://HOST:PORT accepts any number of clients, each a
 * stream of lines (`nc HOST PORT < book.txt`). Both read on a thread of
 * their own into an inbox (inbox.h) that the engine drains at each
 * trigger. Neither is replayable: a crash loses what was not committed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wcstream/inbox.h"
#include "wcstream/log.h"
#include "wcstream/source.h"

#define READ_CHUNK         (64 * 1024)
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define CONNECT_TIMEOUT_MS 10000

struct conn {
    int fd;
    struct wcs_framer fr;
};

struct sock_src {
    struct wcs_inbox ib;
    char host[256];
    char port[8];
    const char *desc;
    bool available_now;
    size_t max_line;
    int listen_fd;
    struct conn *conns; /* listen:// clients */
    size_t nconns, cap_conns;
    uint64_t accepted;
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
    s->listen_fd = -1;
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

/* Read what fd has into the inbox. 1 while open, 0 at end of stream. */
static int read_some(struct sock_src *s, int fd, struct wcs_framer *fr, char *chunk)
{
    ssize_t n = read(fd, chunk, READ_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n > 0 && wcs_inbox_feed(&s->ib, fr, chunk, (size_t)n) == 0)
        return 1;
    if (n < 0)
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
        backoff = BACKOFF_MIN_MS;
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
                               {.fd = s->ib.wake.fd, .events = POLLIN}};
        bool open = true, stop = false;
        while (open && !stop) {
            if (!wcs_inbox_wait_space(&s->ib)) {
                stop = true;
                break;
            }
            if (poll(pf, 2, -1) < 0 && errno != EINTR)
                break;
            if (pf[1].revents)
                stop = sleep_or_stop(s, 0);
            if (pf[0].revents)
                open = read_some(s, fd, &fr, chunk) == 1;
        }
        close(fd);
        if (stop)
            break;
        if (s->available_now) {
            wcs_info("%s: end of stream", s->desc);
            break;
        }
        wcs_warn("%s: connection closed by the server; reconnecting", s->desc);
        if (sleep_or_stop(s, BACKOFF_MIN_MS))
            break;
    }
    free(chunk);
    wcs_framer_free(&fr);
    wcs_inbox_close(&s->ib);
    return NULL;
}

static int client_init(struct wcs_source *src, struct wcs_uri *uri,
                       const struct wcs_source_env *env, char *err, size_t errlen)
{
    int r = sock_new(src, uri, env, err, errlen);
    if (r < 0)
        return r;
    struct sock_src *s = src->ctx;
    r = wcs_inbox_thread(&s->tid, client_thread, s);
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot start a thread: %s", src->desc, strerror(-r));
        return -1;
    }
    s->running = true;
    return 0;
}

/* ---- listen:// ---------------------------------------------------------- */

static int add_conn(struct sock_src *s, int fd)
{
    if (s->nconns == s->cap_conns) {
        size_t cap = s->cap_conns ? s->cap_conns * 2 : 16;
        struct conn *c = realloc(s->conns, cap * sizeof(*c));
        if (!c)
            return -1;
        s->conns = c;
        s->cap_conns = cap;
    }
    s->conns[s->nconns].fd = fd;
    wcs_framer_init(&s->conns[s->nconns].fr, s->max_line);
    s->nconns++;
    s->accepted++;
    return 0;
}

static void drop_conn(struct sock_src *s, size_t i)
{
    close(s->conns[i].fd);
    wcs_framer_free(&s->conns[i].fr);
    s->conns[i] = s->conns[--s->nconns];
}

static void accept_all(struct sock_src *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                wcs_warn("%s: accept failed: %s", s->desc, strerror(errno));
            return;
        }
        if (add_conn(s, fd) < 0) {
            wcs_error("%s: out of memory; refusing a client", s->desc);
            close(fd);
            return;
        }
        wcs_debug("%s: client connected (%zu open)", s->desc, s->nconns);
    }
}

static void *listen_thread(void *arg)
{
    struct sock_src *s = arg;
    char *chunk = malloc(READ_CHUNK);
    struct pollfd *pf = NULL;
    size_t pf_cap = 0;
    while (chunk && wcs_inbox_wait_space(&s->ib)) {
        if (s->available_now && s->accepted && !s->nconns)
            break; /* every client came and went: the finite run is over */
        size_t n = s->nconns + 2;
        if (n > pf_cap) {
            struct pollfd *np = realloc(pf, n * 2 * sizeof(*np));
            if (!np) {
                sleep_or_stop(s, 100);
                continue;
            }
            pf = np;
            pf_cap = n * 2;
        }
        pf[0] = (struct pollfd){.fd = s->ib.wake.fd, .events = POLLIN};
        pf[1] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
        for (size_t i = 0; i < s->nconns; i++)
            pf[i + 2] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
        if (poll(pf, (nfds_t)n, -1) < 0) {
            if (errno != EINTR)
                break;
            continue;
        }
        if (pf[0].revents && sleep_or_stop(s, 0))
            break;
        /* Back to front, so dropping (swap with the last) skips nothing. */
        for (size_t i = s->nconns; i-- > 0;)
            if (pf[i + 2].revents && read_some(s, s->conns[i].fd, &s->conns[i].fr, chunk) == 0)
                drop_conn(s, i);
        if (pf[1].revents)
            accept_all(s);
    }
    while (s->nconns)
        drop_conn(s, s->nconns - 1);
    free(pf);
    free(chunk);
    wcs_inbox_close(&s->ib);
    return NULL;
}

static int listen_init(struct wcs_source *src, struct wcs_uri *uri,
                       const struct wcs_source_env *env, char *err, size_t errlen)
{
    int r = sock_new(src, uri, env, err, errlen);
    if (r < 0)
        return r;
    struct sock_src *s = src->ctx;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot resolve %s: %s", src->desc, s->host, gai_strerror(rc));
        return -1;
    }
    int fd =
        socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, res->ai_protocol);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        snprintf(err, errlen, "%s: cannot listen on %s:%s: %s", src->desc, s->host, s->port,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    s->listen_fd = fd;
    r = wcs_inbox_thread(&s->tid, listen_thread, s);
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot start a thread: %s", src->desc, strerror(-r));
        return -1;
    }
    s->running = true;
    wcs_info("%s: listening; send text with: nc %s %s < FILE", src->desc, s->host, s->port);
    return 0;
}

/* ---- shared ------------------------------------------------------------- */

static int sock_pull(struct wcs_source *src, struct wcs_pull *p, char *err, size_t errlen)
{
    struct sock_src *s = src->ctx;
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
    free(s->conns);
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
    .usage = "listen://HOST:PORT     accept any number of clients (nc HOST PORT < FILE)",
    .init = listen_init,
    .pull = sock_pull,
    .finished = sock_finished,
    .destroy = sock_destroy,
};
