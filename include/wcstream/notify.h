/*
 * notify.h - wake the engine from any thread or a signal handler.
 *
 * An eventfd: source threads signal it when lines are waiting, the
 * SIGINT/SIGTERM handler signals it to stop. wcs_notify_signal() is
 * async-signal-safe.
 */
#ifndef WCSTREAM_NOTIFY_H
#define WCSTREAM_NOTIFY_H

#include <stdint.h>

struct wcs_notify {
    int fd;
};

/* 0 or -errno. */
int wcs_notify_init(struct wcs_notify *n);
void wcs_notify_close(struct wcs_notify *n);

/* Wake a waiter. Async-signal-safe. */
void wcs_notify_signal(struct wcs_notify *n);

/* Wait until signalled or timeout_ms passes (-1: forever). Clears the
 * signal. 1 when signalled, 0 on timeout. */
int wcs_notify_wait(struct wcs_notify *n, int64_t timeout_ms);

/* The fd, for callers that poll it among others (readable when signalled). */
static inline int wcs_notify_fd(const struct wcs_notify *n)
{
    return n->fd;
}

#endif
