/*
 * inbox.h - a bounded hand-off of whole lines from a reader thread.
 *
 * Non-replayable sources (socket, listen, stdin) read on a thread of their
 * own, so reading overlaps with the engine's work and the engine never
 * blocks on a network peer. The thread frames what it reads straight into
 * the inbox; the engine takes whole lines out at each trigger. When the
 * inbox holds its capacity the thread stops reading, the kernel buffers
 * fill, and TCP backpressure slows the sender: memory stays bounded.
 */
#ifndef WCSTREAM_INBOX_H
#define WCSTREAM_INBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "wcstream/buf.h"
#include "wcstream/framer.h"
#include "wcstream/notify.h"
#include "wcstream/source.h"

struct wcs_inbox {
    pthread_mutex_t mu;
    pthread_cond_t space;
    struct wcs_buf buf; /* whole lines, guarded by mu */
    size_t head;        /* buf's bytes before head are taken already */
    size_t cap;
    uint64_t rows_in, rows_out; /* lines put and taken since start */
    uint64_t cuts;              /* lines cut by the framers */
    bool closed;                /* the stream has ended for good */
    int error;                  /* why it ended before its end (an errno), or 0 */
    bool stopping;              /* the source is being destroyed */
    struct wcs_notify *notify;  /* the engine's */
    struct wcs_notify wake;     /* wakes the reader thread's poll() */
};

/* 0 or -errno. */
int wcs_inbox_init(struct wcs_inbox *ib, size_t cap, struct wcs_notify *notify);

/* Free the buffer and the wake fd (the reader thread must have ended).
 * Accepts an inbox whose init failed (zeroed). */
void wcs_inbox_destroy(struct wcs_inbox *ib);

/* Reader side: block while the inbox is full. false once stopping. */
bool wcs_inbox_wait_space(struct wcs_inbox *ib);

/* Reader side: frame n bytes read from a stream into the inbox and wake
 * the engine when whole lines arrived. With n == 0, flush the framer's
 * pending line (the stream ended). 0 or -ENOMEM. */
int wcs_inbox_feed(struct wcs_inbox *ib, struct wcs_framer *fr, const char *data, size_t n);

/* Reader side: the stream has ended, at its end (error 0) or not (an
 * errno: the engine's take fails with it once the lines before it are
 * taken); nothing more will be put. */
void wcs_inbox_close(struct wcs_inbox *ib, int error);

/* Engine side: move whole lines (up to p->budget bytes; into an empty
 * p->text at least one line, however long) into p->text and fill p->rows,
 * p->bytes, p->start and p->end (line numbers, as Spark's socket source).
 * 0 or -1 with err. */
int wcs_inbox_take(struct wcs_inbox *ib, struct wcs_pull *p, char *err, size_t errlen);

/* Engine side: closed at the stream's end: the lines it holds are all that
 * will ever come, so the engine takes them without waiting for a tick. */
bool wcs_inbox_finished(struct wcs_inbox *ib);

/* Ask the reader to stop: wakes its poll() and wcs_inbox_wait_space(). */
void wcs_inbox_stop(struct wcs_inbox *ib);

/* Start a reader thread with SIGINT/SIGTERM/SIGHUP blocked (the main thread
 * takes them). 0 or -errno. */
int wcs_inbox_thread(pthread_t *tid, void *(*fn)(void *), void *arg);

#endif
