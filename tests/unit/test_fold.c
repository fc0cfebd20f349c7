/*
 * test_fold.c - unit tests for tokenizing on every core (src/fold.c).
 *
 * The property: however many threads fold a text, and however it is cut
 * into chunks, the sum of their tables is the single-threaded count. The
 * texts are big enough (over the 256 KiB hand-over threshold) for the
 * helpers to take part, and include lines longer than a thread's share,
 * empty lines and a last line without '\n' (spark split keeps empty words,
 * so a line cut in two would show up as an extra empty word). The tables
 * handed over must be in key order, whether sorted by one thread or many.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wcstream/fold.h"

/* The text's words are w0 .. w(FD_VOCAB - 1), counted by number, and a
 * few others ("", "tail", "end"), counted by a scan. */
#define FD_VOCAB 6000

struct fd_count {
    char word[16];
    size_t len;
    int64_t n;
};

struct fd_counts {
    int64_t w[FD_VOCAB];
    struct fd_count v[8]; /* the other words */
    size_t n, distinct;
    int64_t total;
};

/* The number of word "w<digits>", or -1. */
static long fd_number(const char *word, size_t len)
{
    if (len < 2 || len > 5 || word[0] != 'w')
        return -1;
    long id = 0;
    for (size_t i = 1; i < len; i++) {
        if (word[i] < '0' || word[i] > '9')
            return -1;
        id = id * 10 + (word[i] - '0');
    }
    return id < FD_VOCAB ? id : -1;
}

static void fd_add(struct fd_counts *c, const char *word, size_t len, int64_t n)
{
    cr_assert_lt(len, sizeof(c->v[0].word));
    c->total += n;
    long id = fd_number(word, len);
    if (id >= 0) {
        c->distinct += c->w[id] == 0;
        c->w[id] += n;
        return;
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].len == len && memcmp(c->v[i].word, word, len) == 0) {
            c->v[i].n += n;
            return;
        }
    cr_assert_lt(c->n, 8);
    memcpy(c->v[c->n].word, word, len);
    c->v[c->n].len = len;
    c->v[c->n++].n = n;
    c->distinct++;
}

static int64_t fd_get(const struct fd_counts *c, const char *word, size_t len)
{
    long id = fd_number(word, len);
    if (id >= 0)
        return c->w[id];
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].len == len && memcmp(c->v[i].word, word, len) == 0)
            return c->v[i].n;
    return 0;
}

/* Fold text in chunks of `chunk` bytes (cut at line ends) with `threads`
 * threads and sum the tables. */
static void fd_fold(const char *text, size_t len, int threads, size_t chunk, struct fd_counts *out)
{
    char err[256];
    struct wcs_fold *f = wcs_fold_new(threads, WCS_SPLIT_SPARK, NULL, false, err, sizeof(err));
    cr_assert_not_null(f, "%s", err);
    cr_assert_eq(wcs_fold_threads(f), (size_t)threads);
    for (size_t at = 0; at < len;) {
        size_t end = at + chunk < len ? at + chunk : len;
        const char *nl = end < len ? memchr(text + end, '\n', len - end) : NULL;
        end = nl ? (size_t)(nl - text) + 1 : len;
        cr_assert_eq(wcs_fold_text(f, text + at, end - at), 0);
        at = end;
    }
    struct wcs_group_set sets[8];
    cr_assert_eq(wcs_fold_sets(f, sets), 0);
    size_t n = wcs_fold_threads(f);
    for (size_t s = 0; s < n; s++)
        for (size_t i = 1; i < sets[s].n; i++)
            cr_assert_lt(wcs_group_cmp(&sets[s].v[i - 1], &sets[s].v[i]), 0, "set %zu in key order",
                         s);
    size_t groups = 0;
    memset(out, 0, sizeof(*out));
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < sets[s].n; i++, groups++)
            fd_add(out, sets[s].v[i].word, sets[s].v[i].len, sets[s].v[i].delta);
    cr_expect_eq(wcs_fold_groups(f), groups);
    int64_t tok, agg;
    wcs_fold_times(f, &tok, &agg);
    cr_expect(tok >= 0 && agg >= 0 && tok + agg > 0, "times %lld + %lld", (long long)tok,
              (long long)agg);
    wcs_fold_swap(f);
    cr_expect_eq(wcs_fold_groups(f), 0, "the other tables are empty");
    int64_t kept = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t i = 0; i < sets[s].n; i++)
            kept += sets[s].v[i].delta;
    cr_expect_eq(kept, out->total, "the handed-over sets stay as they were");
    cr_assert_eq(wcs_fold_text(f, "again\n", 6), 0);
    wcs_fold_swap(f);
    cr_expect_eq(wcs_fold_groups(f), 0, "a swap back empties the first tables");
    wcs_fold_free(f);
}

/* About 1 MiB of lines: words w0..w5999, some empty lines, doubled spaces,
 * a few lines of 300 KiB, and no '\n' at the very end. */
static char *fd_text(size_t *len)
{
    size_t cap = (size_t)3 << 20, n = 0;
    char *t = malloc(cap);
    cr_assert_not_null(t);
    uint64_t s = 42;
    for (int line = 0; n < ((size_t)1 << 20); line++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        if (line % 17 == 0) {
            t[n++] = '\n';
            continue;
        }
        size_t words = line % 500 == 1 ? 40000 : 1 + (s >> 59);
        for (size_t w = 0; w < words; w++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            n += (size_t)sprintf(t + n, "%sw%u", w ? (s >> 63 ? "  " : " ") : "",
                                 (unsigned)((s >> 33) % FD_VOCAB));
        }
        t[n++] = '\n';
    }
    memcpy(t + n, "tail end", 8); /* a last line without '\n' */
    *len = n + 8;
    return t;
}

Test(fold, every_thread_count_and_chunking_gives_the_same_counts)
{
    size_t len;
    char *text = fd_text(&len);
    struct fd_counts one, many;
    fd_fold(text, len, 1, len, &one);
    cr_assert_gt(one.distinct, 5000, "the text has its words, the empty word and the tail");
    cr_expect_gt(fd_get(&one, "", 0), 0, "doubled spaces and empty lines give empty words");
    cr_expect_eq(fd_get(&one, "end", 3), 1);
    const int threads[] = {2, 3, 4};
    const size_t chunks[] = {(size_t)4 << 20, (size_t)300 << 10, (size_t)64 << 10};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            fd_fold(text, len, threads[i], chunks[j], &many);
            cr_expect_eq(many.total, one.total, "%d threads, %zu-byte chunks: total", threads[i],
                         chunks[j]);
            cr_expect_eq(many.distinct, one.distinct, "%d threads, %zu-byte chunks: distinct",
                         threads[i], chunks[j]);
            cr_expect_arr_eq(many.w, one.w, sizeof(one.w), "%d threads, %zu-byte chunks",
                             threads[i], chunks[j]);
            for (size_t k = 0; k < one.n; k++)
                cr_expect_eq(fd_get(&many, one.v[k].word, one.v[k].len), one.v[k].n,
                             "%d threads, %zu-byte chunks: '%.*s'", threads[i], chunks[j],
                             (int)one.v[k].len, one.v[k].word);
        }
    free(text);
}

Test(fold, zero_threads_means_one_per_core)
{
    char err[256];
    struct wcs_fold *f = wcs_fold_new(0, WCS_SPLIT_WHITESPACE, NULL, true, err, sizeof(err));
    cr_assert_not_null(f, "%s", err);
    cr_expect_geq(wcs_fold_threads(f), 1);
    cr_expect_leq(wcs_fold_threads(f), WCS_FOLD_MAX_THREADS);
    wcs_fold_free(f);
}

Test(fold, a_bad_pattern_is_refused)
{
    char err[256] = "";
    cr_expect_null(wcs_fold_new(2, WCS_SPLIT_REGEX, "(", false, err, sizeof(err)));
    cr_expect_neq(err[0], '\0', "says why");
}
