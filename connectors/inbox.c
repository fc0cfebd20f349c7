/*
 * inbox.c - the bounded line hand-off between a reader thread and the
 * engine (see inbox.h). Shared by the socket, listen and stdin sources.
 */
#include "wcstream/inbox.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

int wcs_inbox_init(struct wcs_inbox *ib, size_t cap, struct wcs_notify *notify)
{
    memset(ib, 0, sizeof(*ib));
    ib->wake.fd = -1;
    ib->cap = cap;
    ib->notify = notify;
    int r = wcs_notify_init(&ib->wake);
    if (r < 0)
        return r;
    pthread_mutex_init(&ib->mu, NULL);
    pthread_cond_init(&ib->space, NULL);
    return 0;
}

void wcs_inbox_destroy(struct wcs_inbox *ib)
{
    if (!ib || ib->wake.fd < 0)
        return;
    wcs_notify_close(&ib->wake);
    pthread_mutex_destroy(&ib->mu);
    pthread_cond_destroy(&ib->space);
    wcs_buf_free(&ib->buf);
}

bool wcs_inbox_wait_space(struct wcs_inbox *ib)
{
    pthread_mutex_lock(&ib->mu);
    while (ib->buf.len - ib->head >= ib->cap && !ib->stopping)
        pthread_cond_wait(&ib->space, &ib->mu);
    bool ok = !ib->stopping;
    pthread_mutex_unlock(&ib->mu);
    return ok;
}

int wcs_inbox_feed(struct wcs_inbox *ib, struct wcs_framer *fr, const char *data, size_t n)
{
    pthread_mutex_lock(&ib->mu);
    uint64_t rows = 0, cuts = fr->cuts;
    int r =
        n ? wcs_framer_feed(fr, data, n, &ib->buf, &rows) : wcs_framer_flush(fr, &ib->buf, &rows);
    if (r == 0) /* else the line that did not fit was not put */
        ib->rows_in += rows;
    ib->cuts += fr->cuts - cuts;
    pthread_mutex_unlock(&ib->mu);
    if (rows)
        wcs_notify_signal(ib->notify);
    return r;
}

void wcs_inbox_close(struct wcs_inbox *ib, int error)
{
    pthread_mutex_lock(&ib->mu);
    ib->closed = true;
    ib->error = error;
    pthread_mutex_unlock(&ib->mu);
    wcs_notify_signal(ib->notify);
}

static uint64_t count_lines(const char *s, size_t n)
{
    uint64_t rows = 0;
    for (const char *end = s + n; (s = memchr(s, '\n', (size_t)(end - s))) != NULL; s++)
        rows++;
    return rows;
}

int wcs_inbox_take(struct wcs_inbox *ib, struct wcs_pull *p, char *err, size_t errlen)
{
    pthread_mutex_lock(&ib->mu);
    uint64_t start = ib->rows_out;
    size_t have = ib->buf.len - ib->head, n = have;
    const char *data = have ? ib->buf.data + ib->head : NULL;
    uint64_t rows = ib->rows_in - ib->rows_out;
    if (n > p->budget) {
        /* Whole lines within the budget; a longer first line goes alone
         * into an empty chunk (so a batch may pass its bound by a line). */
        const char *cut = p->budget ? memrchr(data, '\n', p->budget) : NULL;
        if (!cut && p->text->len == 0)
            cut = memchr(data, '\n', n);
        n = cut ? (size_t)(cut + 1 - data) : 0;
        rows = count_lines(data, n);
    }
    int r = 0;
    if (have == 0 && ib->closed && ib->error) {
        r = -ib->error; /* the lines before the failure are all taken */
    } else if (n && n == have && ib->head == 0 && p->text->len == 0) {
        struct wcs_buf tmp = *p->text; /* hand the whole buffer over, no copy */
        *p->text = ib->buf;
        ib->buf = tmp;
    } else if (n && (r = wcs_buf_append(p->text, data, n)) == 0) {
        /* Taken from the front; the rest moves down only once half the
         * buffer is taken, so a take costs its own bytes, not the inbox's. */
        ib->head += n;
        if (ib->head == ib->buf.len) {
            ib->head = ib->buf.len = 0;
        } else if (ib->head >= ib->buf.len / 2) {
            memmove(ib->buf.data, ib->buf.data + ib->head, ib->buf.len - ib->head);
            ib->buf.len -= ib->head;
            ib->head = 0;
        }
    }
    if (r == 0) {
        ib->rows_out += rows;
        p->rows = rows;
        p->bytes = n;
        p->lines_cut = ib->cuts;
    }
    uint64_t end = ib->rows_out;
    pthread_cond_signal(&ib->space);
    pthread_mutex_unlock(&ib->mu);
    if (r == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", p->source);
    else if (r < 0)
        snprintf(err, errlen, "%s: reading failed: %s", p->source, strerror(-r));
    if (r < 0)
        return -1;
    p->start = cJSON_CreateNumber((double)start);
    p->end = cJSON_CreateNumber((double)end);
    return 0;
}

bool wcs_inbox_finished(struct wcs_inbox *ib)
{
    pthread_mutex_lock(&ib->mu);
    bool done = ib->closed && !ib->error;
    pthread_mutex_unlock(&ib->mu);
    return done;
}

void wcs_inbox_stop(struct wcs_inbox *ib)
{
    pthread_mutex_lock(&ib->mu);
    ib->stopping = true;
    pthread_cond_broadcast(&ib->space);
    pthread_mutex_unlock(&ib->mu);
    wcs_notify_signal(&ib->wake);
}

int wcs_inbox_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int r = pthread_create(tid, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -r;
}
