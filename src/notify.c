/*
 * notify.c - the engine's wake-up line, an eventfd.
 *
 * Source threads signal it when whole lines are waiting in their inbox; the
 * signal handler signals it to stop. The engine's trigger loop sleeps in
 * wcs_notify_wait() between batches.
 */
#include "wcstream/notify.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int wcs_notify_init(struct wcs_notify *n)
{
    n->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return n->fd < 0 ? -errno : 0;
}

void wcs_notify_close(struct wcs_notify *n)
{
    if (n && n->fd >= 0)
        close(n->fd);
    if (n)
        n->fd = -1;
}

void wcs_notify_signal(struct wcs_notify *n)
{
    int saved = errno; /* async-signal-safe: keep the interrupted errno */
    uint64_t one = 1;
    ssize_t w = write(n->fd, &one, sizeof(one));
    (void)w;
    errno = saved;
}

int wcs_notify_wait(struct wcs_notify *n, int64_t timeout_ms)
{
    struct pollfd p = {.fd = n->fd, .events = POLLIN};
    int timeout = timeout_ms < 0 ? -1 : timeout_ms > 60000 ? 60000 : (int)timeout_ms;
    int r = poll(&p, 1, timeout);
    if (r <= 0)
        return 0;
    uint64_t v;
    ssize_t rd = read(n->fd, &v, sizeof(v));
    (void)rd;
    return 1;
}
