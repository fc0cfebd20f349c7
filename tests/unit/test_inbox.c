/*
 * test_inbox.c - unit tests for the bounded line hand-off between a
 * reader thread and the engine (connectors/inbox.c), used by the socket,
 * listen and stdin sources.
 *
 * Covers: feeding through a framer (whole lines only, the tail kept until
 * the flush), the engine's notify fd, take with budgets (whole lines
 * within the budget, an over-long first line alone only into an empty
 * batch, budget 0), rows/bytes/lines_cut and the start/end offsets (line
 * numbers), close and finished, and wait_space blocking a reader thread
 * while full until space is taken or the inbox is stopped.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wcstream/buf.h"
#include "wcstream/framer.h"
#include "wcstream/inbox.h"
#include "wcstream/notify.h"
#include "wcstream/source.h"

/* One inbox with its engine notify and a framer, as a source holds them. */
struct ib_fixture {
    struct wcs_inbox ib;
    struct wcs_notify notify;
    struct wcs_framer fr;
};

static void ib_setup(struct ib_fixture *fx, size_t cap, size_t max_line)
{
    cr_assert_eq(wcs_notify_init(&fx->notify), 0);
    cr_assert_eq(wcs_inbox_init(&fx->ib, cap, &fx->notify), 0);
    wcs_framer_init(&fx->fr, max_line);
}

static void ib_teardown(struct ib_fixture *fx)
{
    wcs_framer_free(&fx->fr);
    wcs_inbox_destroy(&fx->ib);
    wcs_notify_close(&fx->notify);
}

/* A pull into a fresh batch buffer. */
struct ib_pull {
    struct wcs_pull p;
    struct wcs_buf text;
    struct wcs_arena arena;
    struct wcs_offsets offs;
};

static void ib_pull_init(struct ib_pull *pl, size_t budget)
{
    memset(pl, 0, sizeof(*pl));
    pl->p.text = &pl->text;
    pl->p.arena = &pl->arena;
    pl->p.offs = &pl->offs;
    pl->p.source = "socket://test:1";
    pl->p.budget = budget;
}

/* Take into pl (which must succeed) and return the start/end offsets. */
static void ib_take(struct ib_fixture *fx, struct ib_pull *pl, double *start, double *end)
{
    char err[256] = "";
    cr_assert_eq(wcs_inbox_take(&fx->ib, &pl->p, err, sizeof(err)), 0, "%s", err);
    cr_assert(cJSON_IsNumber(pl->p.start));
    cr_assert(cJSON_IsNumber(pl->p.end));
    *start = pl->p.start->valuedouble;
    *end = pl->p.end->valuedouble;
    cJSON_Delete(pl->p.start);
    cJSON_Delete(pl->p.end);
    pl->p.start = pl->p.end = NULL;
}

static void ib_pull_free(struct ib_pull *pl)
{
    wcs_buf_free(&pl->text);
    wcs_arena_free(&pl->arena);
    free(pl->offs.v);
}

/* True when fd is readable right now. */
static bool ib_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void ib_feed_str(struct ib_fixture *fx, const char *s)
{
    cr_assert_eq(wcs_inbox_feed(&fx->ib, &fx->fr, s, strlen(s)), 0);
}

/* ---- feed and notify --------------------------------------------------- */

Test(inbox, init_and_destroy)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    cr_expect_eq(fx.ib.cap, 1024);
    cr_expect_eq(fx.ib.notify, &fx.notify);
    cr_expect_geq(fx.ib.wake.fd, 0);
    cr_expect_eq(fx.ib.buf.len, 0);
    cr_expect_not(fx.ib.closed);
    cr_expect_not(wcs_inbox_finished(&fx.ib));
    ib_teardown(&fx);

    struct wcs_inbox zeroed;
    memset(&zeroed, 0, sizeof(zeroed));
    zeroed.wake.fd = -1;
    wcs_inbox_destroy(&zeroed); /* an inbox whose init failed */
    wcs_inbox_destroy(NULL);
}

Test(inbox, notify_only_for_whole_lines)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    int fd = wcs_notify_fd(&fx.notify);
    cr_expect_not(ib_readable(fd));

    ib_feed_str(&fx, "no newline yet");
    cr_expect_not(ib_readable(fd), "a partial line wakes nobody");
    cr_expect_eq(fx.ib.buf.len, 0);
    cr_expect_eq(fx.ib.rows_in, 0);

    ib_feed_str(&fx, " - done\nnext");
    cr_expect(ib_readable(fd), "a whole line wakes the engine");
    cr_expect_eq(fx.ib.rows_in, 1);
    cr_expect_eq(fx.ib.buf.len, strlen("no newline yet - done\n"));
    cr_expect_eq(wcs_notify_wait(&fx.notify, 0), 1);
    cr_expect_not(ib_readable(fd), "the wait cleared it");

    /* The stream ends: n == 0 flushes the pending "next". */
    cr_assert_eq(wcs_inbox_feed(&fx.ib, &fx.fr, NULL, 0), 0);
    cr_expect(ib_readable(fd));
    cr_expect_eq(fx.ib.rows_in, 2);
    cr_expect(memcmp(fx.ib.buf.data + fx.ib.buf.len - 5, "next\n", 5) == 0);

    /* Nothing pending: a flush adds nothing and wakes nobody. */
    cr_expect_eq(wcs_notify_wait(&fx.notify, 0), 1);
    cr_assert_eq(wcs_inbox_feed(&fx.ib, &fx.fr, NULL, 0), 0);
    cr_expect_not(ib_readable(fd));
    cr_expect_eq(fx.ib.rows_in, 2);
    ib_teardown(&fx);
}

Test(inbox, cuts_are_counted)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1 << 16, 10);
    ib_feed_str(&fx, "0123456789abcdefghij0123\nshort\n");
    cr_expect_eq(fx.ib.cuts, 2);
    cr_expect_eq(fx.ib.rows_in, 4);

    struct ib_pull pl;
    double s, e;
    ib_pull_init(&pl, 1 << 20);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.lines_cut, 2);
    cr_expect_eq(pl.p.rows, 4);
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

/* ---- take -------------------------------------------------------------- */

Test(inbox, take_everything_and_offsets)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    struct ib_pull pl;
    double s, e;

    /* Empty: nothing, and the offsets do not move. */
    ib_pull_init(&pl, 1 << 20);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.rows, 0);
    cr_expect_eq(pl.p.bytes, 0);
    cr_expect_eq(pl.text.len, 0);
    cr_expect_eq(s, 0);
    cr_expect_eq(e, 0);
    ib_pull_free(&pl);

    ib_feed_str(&fx, "a b\nc\npartial");
    ib_pull_init(&pl, 1 << 20);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.rows, 2);
    cr_expect_eq(pl.p.bytes, 6);
    cr_assert_eq(pl.text.len, 6);
    cr_expect(memcmp(pl.text.data, "a b\nc\n", 6) == 0);
    cr_expect_eq(s, 0);
    cr_expect_eq(e, 2);
    cr_expect_eq(fx.ib.buf.len, 0);
    ib_pull_free(&pl);

    ib_feed_str(&fx, "\nd\ne\n");
    ib_pull_init(&pl, 1 << 20);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.rows, 3);
    cr_assert_eq(pl.text.len, 12);
    cr_expect(memcmp(pl.text.data, "partial\nd\ne\n", 12) == 0);
    cr_expect_eq(s, 2, "start is where the last take ended");
    cr_expect_eq(e, 5);
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

Test(inbox, take_appends_to_a_non_empty_batch)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    ib_feed_str(&fx, "x\ny\n");
    struct ib_pull pl;
    double s, e;
    ib_pull_init(&pl, 1 << 20);
    cr_assert_eq(wcs_buf_append(&pl.text, "from another source\n", 20), 0);
    ib_take(&fx, &pl, &s, &e);
    cr_assert_eq(pl.text.len, 24);
    cr_expect(memcmp(pl.text.data, "from another source\nx\ny\n", 24) == 0);
    cr_expect_eq(pl.p.rows, 2);
    cr_expect_eq(pl.p.bytes, 4, "bytes counts only what this take appended");
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

Test(inbox, take_within_budget)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    ib_feed_str(&fx, "aa\nbbb\ncc\n"); /* lines end at bytes 3, 7, 10 */
    struct ib_pull pl;
    double s, e;

    /* Budget 6: only "aa\n" fits whole. */
    ib_pull_init(&pl, 6);
    ib_take(&fx, &pl, &s, &e);
    cr_assert_eq(pl.text.len, 3);
    cr_expect(memcmp(pl.text.data, "aa\n", 3) == 0);
    cr_expect_eq(pl.p.rows, 1);
    cr_expect_eq(pl.p.bytes, 3);
    cr_expect_eq(s, 0);
    cr_expect_eq(e, 1);
    ib_pull_free(&pl);

    /* Budget exactly the next line. */
    ib_pull_init(&pl, 4);
    ib_take(&fx, &pl, &s, &e);
    cr_assert_eq(pl.text.len, 4);
    cr_expect(memcmp(pl.text.data, "bbb\n", 4) == 0);
    cr_expect_eq(s, 1);
    cr_expect_eq(e, 2);
    ib_pull_free(&pl);

    ib_pull_init(&pl, 3);
    ib_take(&fx, &pl, &s, &e);
    cr_assert_eq(pl.text.len, 3);
    cr_expect_eq(pl.p.rows, 1);
    cr_expect_eq(s, 2);
    cr_expect_eq(e, 3);
    cr_expect_eq(fx.ib.buf.len, 0);
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

/* Takes smaller than the inbox, between feeds: every byte comes out once,
 * in order, and the buffer never holds more than the unread lines plus as
 * many again (taken bytes are moved out only once half of it is taken). */
Test(inbox, small_takes_between_feeds_keep_order_and_bounds)
{
    struct ib_fixture fx;
    ib_setup(&fx, 4096, 100);
    char want[64 << 10], got[64 << 10];
    size_t nwant = 0, ngot = 0;
    uint64_t seed = 7;
    for (int line = 0; nwant < sizeof(want) - 64;) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        if (seed >> 62) { /* feed a few lines */
            char piece[256];
            size_t n = 0;
            for (int k = 0; k < 1 + (int)(seed >> 60 & 7); k++)
                n += (size_t)snprintf(piece + n, sizeof(piece) - n, "line %d\n", line++);
            cr_assert_eq(wcs_inbox_feed(&fx.ib, &fx.fr, piece, n), 0);
            memcpy(want + nwant, piece, n);
            nwant += n;
        } else { /* take with a budget of 1..200 bytes */
            struct ib_pull pl;
            double s, e;
            ib_pull_init(&pl, 1 + (size_t)(seed >> 32) % 200);
            ib_take(&fx, &pl, &s, &e);
            if (pl.text.len) /* a budget under the first line takes nothing */
                memcpy(got + ngot, pl.text.data, pl.text.len);
            ngot += pl.text.len;
            ib_pull_free(&pl);
        }
        size_t unread = nwant - ngot;
        cr_assert_eq(fx.ib.buf.len - fx.ib.head, unread);
        cr_assert_leq(fx.ib.buf.len, 2 * unread + 256, "taken bytes are not kept for long");
    }
    struct ib_pull pl;
    double s, e;
    ib_pull_init(&pl, sizeof(want));
    ib_take(&fx, &pl, &s, &e);
    memcpy(got + ngot, pl.text.data, pl.text.len);
    ngot += pl.text.len;
    ib_pull_free(&pl);
    cr_assert_eq(ngot, nwant);
    cr_expect(memcmp(got, want, nwant) == 0, "every byte once, in order");
    ib_teardown(&fx);
}

Test(inbox, take_budget_spanning_several_lines)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    ib_feed_str(&fx, "aa\nbbb\ncc\n");
    struct ib_pull pl;
    double s, e;
    ib_pull_init(&pl, 9); /* "aa\nbbb\n" is 7; "cc\n" would end at 10 */
    ib_take(&fx, &pl, &s, &e);
    cr_assert_eq(pl.text.len, 7);
    cr_expect_eq(pl.p.rows, 2);
    cr_expect_eq(e, 2);
    cr_expect_eq(fx.ib.buf.len, 3);
    cr_expect_eq(fx.ib.rows_in - fx.ib.rows_out, 1);
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

Test(inbox, long_first_line_goes_alone_only_into_an_empty_batch)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 1000);
    ib_feed_str(&fx, "a-long-first-line\nb\n"); /* 18 + 2 bytes */
    struct ib_pull pl;
    double s, e;

    /* The batch already holds another source's lines: nothing. */
    ib_pull_init(&pl, 5);
    cr_assert_eq(wcs_buf_append(&pl.text, "other\n", 6), 0);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.text.len, 6);
    cr_expect_eq(pl.p.rows, 0);
    cr_expect_eq(pl.p.bytes, 0);
    cr_expect_eq(s, 0);
    cr_expect_eq(e, 0);
    ib_pull_free(&pl);

    /* An empty batch: the long line goes alone, "b" stays. */
    ib_pull_init(&pl, 5);
    ib_take(&fx, &pl, &s, &e);
    cr_assert_eq(pl.text.len, 18);
    cr_expect(memcmp(pl.text.data, "a-long-first-line\n", 18) == 0);
    cr_expect_eq(pl.p.rows, 1);
    cr_expect_eq(pl.p.bytes, 18);
    cr_expect_eq(e, 1);
    cr_expect_eq(fx.ib.buf.len, 2);
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

Test(inbox, budget_zero)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    ib_feed_str(&fx, "one\ntwo\n");
    struct ib_pull pl;
    double s, e;

    ib_pull_init(&pl, 0);
    cr_assert_eq(wcs_buf_append(&pl.text, "x\n", 2), 0);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.text.len, 2, "budget 0 takes nothing into a non-empty batch");
    cr_expect_eq(pl.p.rows, 0);
    cr_expect_eq(s, e);
    ib_pull_free(&pl);

    /* Into an empty batch it still takes one line, so the query moves. */
    ib_pull_init(&pl, 0);
    ib_take(&fx, &pl, &s, &e);
    cr_assert_eq(pl.text.len, 4);
    cr_expect(memcmp(pl.text.data, "one\n", 4) == 0);
    cr_expect_eq(pl.p.rows, 1);
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

/* ---- close, finished --------------------------------------------------- */

Test(inbox, close_and_finished)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    int fd = wcs_notify_fd(&fx.notify);
    ib_feed_str(&fx, "last line without newline");
    cr_assert_eq(wcs_inbox_feed(&fx.ib, &fx.fr, NULL, 0), 0);
    cr_expect_eq(wcs_notify_wait(&fx.notify, 0), 1);

    wcs_inbox_close(&fx.ib, 0);
    cr_expect(ib_readable(fd), "closing wakes the engine");
    /* Finished: what it holds is all there will be, for a take now. */
    cr_expect(wcs_inbox_finished(&fx.ib), "closed, with lines still waiting");

    struct ib_pull pl;
    double s, e;
    ib_pull_init(&pl, 1 << 20);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.rows, 1);
    cr_expect_eq(pl.text.len, strlen("last line without newline\n"));
    cr_expect(wcs_inbox_finished(&fx.ib));
    ib_pull_free(&pl);

    /* Still finished, and a take on it is empty. */
    ib_pull_init(&pl, 1 << 20);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.rows, 0);
    cr_expect_eq(s, 1);
    cr_expect_eq(e, 1);
    cr_expect(wcs_inbox_finished(&fx.ib));
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

/* A stream that failed before its end: its lines are taken first, then the
 * take fails with the reason, and the inbox is never finished. */
Test(inbox, a_failed_stream_fails_the_take_after_its_lines)
{
    struct ib_fixture fx;
    ib_setup(&fx, 1024, 100);
    ib_feed_str(&fx, "read\n");
    wcs_inbox_close(&fx.ib, EIO);
    cr_expect_not(wcs_inbox_finished(&fx.ib));

    struct ib_pull pl;
    double s, e;
    ib_pull_init(&pl, 1 << 20);
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.rows, 1);
    cr_expect_eq(pl.text.len, 5);
    ib_pull_free(&pl);

    ib_pull_init(&pl, 1 << 20);
    char err[256] = "";
    cr_expect_eq(wcs_inbox_take(&fx.ib, &pl.p, err, sizeof(err)), -1);
    cr_expect_not_null(strstr(err, strerror(EIO)), "the reason: '%s'", err);
    cr_expect_not(wcs_inbox_finished(&fx.ib), "a failed stream does not end a run cleanly");
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

/* ---- wait_space across threads ----------------------------------------- */

struct ib_waiter {
    struct wcs_inbox *ib;
    atomic_int state; /* 0 waiting, 1 returned true, 2 returned false */
};

static void *ib_wait_thread(void *arg)
{
    struct ib_waiter *w = arg;
    bool ok = wcs_inbox_wait_space(w->ib);
    atomic_store(&w->state, ok ? 1 : 2);
    return NULL;
}

static void ib_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Wait up to 2 s for w->state to leave 0. */
static int ib_wait_state(struct ib_waiter *w)
{
    for (int i = 0; i < 400 && atomic_load(&w->state) == 0; i++)
        ib_sleep_ms(5);
    return atomic_load(&w->state);
}

Test(inbox, wait_space_returns_at_once_when_not_full)
{
    struct ib_fixture fx;
    ib_setup(&fx, 16, 100);
    cr_expect(wcs_inbox_wait_space(&fx.ib));
    ib_feed_str(&fx, "0123456789\n"); /* 11 < 16 */
    cr_expect(wcs_inbox_wait_space(&fx.ib));
    ib_teardown(&fx);
}

Test(inbox, wait_space_blocks_until_taken)
{
    struct ib_fixture fx;
    ib_setup(&fx, 16, 100);
    ib_feed_str(&fx, "0123456789\nabcdef\n"); /* 18 >= 16: full */

    struct ib_waiter w = {.ib = &fx.ib};
    atomic_init(&w.state, 0);
    pthread_t tid;
    cr_assert_eq(wcs_inbox_thread(&tid, ib_wait_thread, &w), 0);
    ib_sleep_ms(50);
    cr_expect_eq(atomic_load(&w.state), 0, "the reader blocks while the inbox is full");

    struct ib_pull pl;
    double s, e;
    ib_pull_init(&pl, 11); /* takes the first line: 7 bytes left */
    ib_take(&fx, &pl, &s, &e);
    cr_expect_eq(pl.p.rows, 1);
    cr_expect_eq(ib_wait_state(&w), 1, "taking made room");
    pthread_join(tid, NULL);
    ib_pull_free(&pl);
    ib_teardown(&fx);
}

Test(inbox, wait_space_returns_false_after_stop)
{
    struct ib_fixture fx;
    ib_setup(&fx, 4, 100);
    ib_feed_str(&fx, "full\n");

    struct ib_waiter w = {.ib = &fx.ib};
    atomic_init(&w.state, 0);
    pthread_t tid;
    cr_assert_eq(wcs_inbox_thread(&tid, ib_wait_thread, &w), 0);
    ib_sleep_ms(50);
    cr_expect_eq(atomic_load(&w.state), 0, "the reader blocks while the inbox is full");

    wcs_inbox_stop(&fx.ib);
    cr_expect_eq(ib_wait_state(&w), 2, "stop wakes the reader with false");
    pthread_join(tid, NULL);
    cr_expect(ib_readable(fx.ib.wake.fd), "stop also wakes the reader's poll()");
    cr_expect_not(wcs_inbox_wait_space(&fx.ib), "false from then on, even with room");
    ib_teardown(&fx);
}

/* A reader thread: 2000 numbered lines in pieces of 1 to 7 bytes, waiting
 * for space like a socket reader, then the end of the stream. */
static void *ib_reader_thread(void *arg)
{
    struct ib_fixture *fx = arg;
    char text[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(text, sizeof(text), "line %d\n", i);
        for (int off = 0; off < n;) {
            if (!wcs_inbox_wait_space(&fx->ib))
                return NULL;
            int k = 1 + (i + off) % 7;
            if (k > n - off)
                k = n - off;
            if (wcs_inbox_feed(&fx->ib, &fx->fr, text + off, (size_t)k) < 0)
                return NULL;
            off += k;
        }
    }
    wcs_inbox_feed(&fx->ib, &fx->fr, NULL, 0);
    wcs_inbox_close(&fx->ib, 0);
    return NULL;
}

Test(inbox, reader_thread_and_engine_move_every_line)
{
    /* A reader thread feeds 2000 numbered lines through a small inbox;
     * the engine takes with a small budget until a take after it was
     * finished finds nothing, as the engine's loop does. */
    struct ib_fixture fx;
    ib_setup(&fx, 256, 100);
    struct ib_pull pl;
    pthread_t tid;
    cr_assert_eq(wcs_inbox_thread(&tid, ib_reader_thread, &fx), 0);

    uint64_t rows = 0;
    double last_end = 0;
    char expect[32];
    size_t next = 0, have = 0;
    char line[32];
    for (int spins = 0; spins < 100000; spins++) {
        double s, e;
        bool finished = wcs_inbox_finished(&fx.ib); /* before the take */
        wcs_notify_wait(&fx.notify, 1);
        ib_pull_init(&pl, 64);
        ib_take(&fx, &pl, &s, &e);
        if (finished && pl.p.rows == 0) {
            ib_pull_free(&pl);
            break;
        }
        cr_assert_eq(s, last_end, "offsets are contiguous");
        cr_assert_eq(e - s, (double)pl.p.rows);
        cr_assert_leq(pl.p.bytes, 64);
        last_end = e;
        rows += pl.p.rows;
        for (size_t i = 0; i < pl.text.len; i++) {
            line[have++] = pl.text.data[i];
            cr_assert_lt(have, sizeof(line));
            if (pl.text.data[i] == '\n') {
                snprintf(expect, sizeof(expect), "line %zu\n", next++);
                cr_assert_eq(have, strlen(expect));
                cr_assert(memcmp(line, expect, have) == 0, "line %zu in order", next - 1);
                have = 0;
            }
        }
        ib_pull_free(&pl);
    }
    pthread_join(tid, NULL);
    cr_expect(wcs_inbox_finished(&fx.ib));
    cr_expect_eq(rows, 2000);
    cr_expect_eq(next, 2000);
    ib_teardown(&fx);
}
