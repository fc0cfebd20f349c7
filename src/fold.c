/*
 * fold.c - tokenize and aggregate a chunk on every core (fold.h).
 *
 * Part 0 of a round is the calling thread's; helper i waits for a new round
 * number, does part i, and counts itself out. A chunk's round cuts it into
 * pieces at line ends that every part takes one at a time, into its own
 * table, until none is left; the round at the end of a batch sorts each
 * part's table. Between rounds the helpers touch nothing, so the caller
 * may swap the tables without a lock. A round costs one mutex and two
 * condition variables, a few microseconds against the milliseconds a 1 MiB
 * chunk takes to fold.
 */
#include "wcstream/fold.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wcstream/log.h"
#include "wcstream/progress.h"

/* Below this a chunk is done by the caller alone: a hand-over costs more
 * than it saves. */
#define PARALLEL_MIN ((size_t)256 << 10)
/* ... and below this many words in all, the tables are sorted by it. */
#define SORT_PARALLEL_MIN 4096
/* A chunk is cut into pieces of about this size (bigger in a chunk of over
 * MAX_PIECES of them: one long line), which the threads take one at a time
 * until none is left. A thread that starts late (a helper waits to be
 * scheduled) or finds its words slower takes fewer, so the others wait for
 * one piece at most. With one half of each chunk a thread, the engine
 * thread waited for the helper 8% of a natural run's fold. */
#define PIECE_BYTES ((size_t)64 << 10)
#define MAX_PIECES  64

struct part {
    struct wcs_fold *f;
    struct wcs_tokenizer *tk;
    struct wcs_groupby *gb[2]; /* two generations: filling, and handed over */
    struct wcs_groupby *cur;   /* the one being filled */
    struct wcs_arena words;    /* lowercased words, reset per chunk */
    struct wcs_buf scratch;    /* the sort's */
    int64_t tok_ns, agg_ns;    /* this thread's own, since the reset */
    int err;
};

struct wcs_fold {
    size_t n;           /* parts = threads */
    struct part *parts; /* part 0: the caller's */
    pthread_t *helpers; /* n - 1 of them */
    size_t started;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t round;          /* bumped when a chunk's parts are handed out */
    size_t pending;          /* helpers still working on this round */
    bool sort;               /* what the round is: sort the tables, or fold a chunk */
    const char *data;        /* the chunk being folded */
    size_t ends[MAX_PIECES]; /* piece i is [ends[i - 1], ends[i]) */
    size_t npieces;
    atomic_size_t next; /* the next piece to take */
    bool quit;
    int64_t wall_ns; /* in wcs_fold_text(), since the reset */
};

static void on_words(void *arg, const struct wcs_word *words, size_t n)
{
    struct part *p = arg;
    int64_t t0 = wcs_now_ns();
    if (wcs_groupby_add_words(p->cur, words, n) < 0)
        p->err = -ENOMEM;
    p->agg_ns += wcs_now_ns() - t0;
}

static void run_part(struct part *p)
{
    struct wcs_fold *f = p->f;
    int64_t t0 = wcs_now_ns(), agg0 = p->agg_ns;
    size_t i;
    while ((i = atomic_fetch_add_explicit(&f->next, 1, memory_order_relaxed)) < f->npieces) {
        size_t from = i ? f->ends[i - 1] : 0;
        if (wcs_tokenize(p->tk, f->data + from, f->ends[i] - from, &p->words, on_words, p) < 0)
            p->err = -ENOMEM;
    }
    wcs_arena_reset(&p->words); /* the group-by copied what it keeps */
    p->tok_ns += wcs_now_ns() - t0 - (p->agg_ns - agg0);
}

static void sort_part(struct part *p)
{
    int64_t t0 = wcs_now_ns();
    if (wcs_groupby_sort(p->cur, &p->scratch) < 0)
        p->err = -ENOMEM;
    p->agg_ns += wcs_now_ns() - t0;
}

static void do_part(struct part *p)
{
    if (p->f->sort)
        sort_part(p);
    else
        run_part(p);
}

static void *helper_main(void *arg)
{
    struct part *p = arg;
    struct wcs_fold *f = p->f;
    uint64_t seen = 0;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (f->round == seen && !f->quit)
            pthread_cond_wait(&f->go, &f->mu);
        if (f->quit)
            break;
        seen = f->round;
        pthread_mutex_unlock(&f->mu);
        do_part(p);
        pthread_mutex_lock(&f->mu);
        if (--f->pending == 0)
            pthread_cond_signal(&f->done);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

struct wcs_fold *wcs_fold_new(int threads, enum wcs_split mode, const char *pattern, bool lowercase,
                              char *err, size_t errlen)
{
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores < 1 ? 1 : cores > WCS_FOLD_MAX_THREADS ? WCS_FOLD_MAX_THREADS : (int)cores;
    }
    struct wcs_fold *f = calloc(1, sizeof(*f));
    if (!f || !(f->parts = calloc((size_t)threads, sizeof(*f->parts))) ||
        !(f->helpers = calloc((size_t)threads, sizeof(*f->helpers)))) {
        wcs_err(err, errlen, "out of memory");
        goto fail_alloc;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->go, NULL);
    pthread_cond_init(&f->done, NULL);
    f->n = (size_t)threads;
    for (size_t i = 0; i < f->n; i++) {
        struct part *p = &f->parts[i];
        p->f = f;
        if (!(p->tk = wcs_tokenizer_new(mode, pattern, lowercase, err, errlen)))
            goto fail;
        if (!(p->gb[0] = wcs_groupby_new()) || !(p->gb[1] = wcs_groupby_new())) {
            wcs_err(err, errlen, "out of memory");
            goto fail;
        }
        p->cur = p->gb[0];
    }
    for (; f->started + 1 < f->n; f->started++) {
        int e =
            pthread_create(&f->helpers[f->started], NULL, helper_main, &f->parts[f->started + 1]);
        if (e) {
            wcs_err(err, errlen, "cannot start a tokenizing thread: %s", strerror(e));
            goto fail;
        }
    }
    return f;
fail:
    wcs_fold_free(f);
    return NULL;
fail_alloc:
    if (f)
        free(f->parts);
    free(f);
    return NULL;
}

void wcs_fold_free(struct wcs_fold *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->quit = true;
    pthread_cond_broadcast(&f->go);
    pthread_mutex_unlock(&f->mu);
    for (size_t i = 0; i < f->started; i++)
        pthread_join(f->helpers[i], NULL);
    for (size_t i = 0; i < f->n; i++) {
        wcs_tokenizer_free(f->parts[i].tk);
        wcs_groupby_free(f->parts[i].gb[0]);
        wcs_groupby_free(f->parts[i].gb[1]);
        wcs_arena_free(&f->parts[i].words);
        wcs_buf_free(&f->parts[i].scratch);
    }
    pthread_cond_destroy(&f->go);
    pthread_cond_destroy(&f->done);
    pthread_mutex_destroy(&f->mu);
    free(f->helpers);
    free(f->parts);
    free(f);
}

size_t wcs_fold_threads(const struct wcs_fold *f)
{
    return f->n;
}

/* Cut [data, data + len) into pieces of about PIECE_BYTES, each ending
 * right after a '\n' (or at the end), so that no line is split. */
static void cut(struct wcs_fold *f, const char *data, size_t len)
{
    size_t want = len / MAX_PIECES + 1, at = 0;
    want = want > PIECE_BYTES ? want : PIECE_BYTES;
    f->data = data;
    f->npieces = 0;
    while (at < len) {
        size_t from = len - at > want ? at + want : len;
        const char *nl = from < len ? memchr(data + from, '\n', len - from) : NULL;
        at = nl ? (size_t)(nl - data) + 1 : len;
        f->ends[f->npieces++] = at;
    }
    atomic_store_explicit(&f->next, 0, memory_order_relaxed);
}

/* Do the round's job on every part: part 0 on the calling thread, the
 * others on the helpers if `helped`, else on the calling thread too (a
 * chunk too small to cut leaves them empty). The first error. */
static int run_round(struct wcs_fold *f, bool helped)
{
    int64_t t0 = wcs_now_ns();
    if (helped) {
        pthread_mutex_lock(&f->mu);
        f->pending = f->n - 1;
        f->round++;
        pthread_cond_broadcast(&f->go);
        pthread_mutex_unlock(&f->mu);
    }
    do_part(&f->parts[0]);
    if (helped) {
        pthread_mutex_lock(&f->mu);
        while (f->pending)
            pthread_cond_wait(&f->done, &f->mu);
        pthread_mutex_unlock(&f->mu);
    } else {
        for (size_t i = 1; i < f->n; i++)
            do_part(&f->parts[i]);
    }
    int err = 0;
    for (size_t i = 0; i < f->n; i++)
        err = err ? err : f->parts[i].err;
    f->wall_ns += wcs_now_ns() - t0;
    return err;
}

int wcs_fold_text(struct wcs_fold *f, const char *data, size_t len)
{
    cut(f, data, len);
    f->sort = false;
    return run_round(f, f->n > 1 && f->npieces > 1 && len >= PARALLEL_MIN);
}

size_t wcs_fold_groups(const struct wcs_fold *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++)
        n += wcs_groupby_size(f->parts[i].cur);
    return n;
}

int wcs_fold_sets(struct wcs_fold *f, struct wcs_group_set *sets)
{
    f->sort = true;
    int err = run_round(f, f->n > 1 && wcs_fold_groups(f) >= SORT_PARALLEL_MIN);
    for (size_t i = 0; i < f->n; i++)
        sets[i] = (struct wcs_group_set){wcs_groupby_groups(f->parts[i].cur),
                                         wcs_groupby_size(f->parts[i].cur)};
    return err;
}

void wcs_fold_times(const struct wcs_fold *f, int64_t *tokenize_ns, int64_t *aggregate_ns)
{
    int64_t tok = 0, agg = 0;
    for (size_t i = 0; i < f->n; i++) {
        tok += f->parts[i].tok_ns;
        agg += f->parts[i].agg_ns;
    }
    *aggregate_ns =
        (tok + agg) != 0 ? (int64_t)((double)f->wall_ns * (double)agg / (double)(tok + agg)) : 0;
    *tokenize_ns = f->wall_ns - *aggregate_ns;
}

void wcs_fold_swap(struct wcs_fold *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct part *p = &f->parts[i];
        p->cur = p->cur == p->gb[0] ? p->gb[1] : p->gb[0];
        wcs_groupby_reset(p->cur);
        p->tok_ns = p->agg_ns = 0;
        p->err = 0;
    }
    f->wall_ns = 0;
}
