/*
 * test_topk.c - the exact top-k of growing counts (src/topk.c): selecting
 * the best rows, and merging a batch's new totals into the previous top-k,
 * checked against a brute-force ranking over random batches, and the diff
 * that turns a leaders table of one top-k into one of the next.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_alloc.h"
#include "wcstream/topk.h"

static struct wcs_row tk_row(const char *w, int64_t count)
{
    return (struct wcs_row){.word = w, .len = strlen(w), .count = count};
}

/* Rows hold bytes, not C strings. */
static bool tk_is(const struct wcs_row *r, const char *w)
{
    return r->len == strlen(w) && memcmp(r->word, w, r->len) == 0;
}

Test(topk, rows_best_orders_and_limits)
{
    struct wcs_row in[] = {tk_row("c", 2), tk_row("a", 5), tk_row("b", 5),
                           tk_row("", 9),  tk_row("d", 1), tk_row("aa", 5)};
    struct wcs_row out[6];
    size_t n = wcs_rows_best(in, 6, 4, out);
    cr_assert_eq(n, 4);
    static const char *const want[] = {"", "a", "aa", "b"};
    for (size_t i = 0; i < n; i++)
        cr_expect(tk_is(&out[i], want[i]), "row %zu", i);
    cr_expect_eq(wcs_rows_best(in, 6, 10, out), 6, "fewer rows than k");
    cr_expect_eq(out[5].count, 1);
    cr_expect_eq(wcs_rows_best(in, 6, 0, out), 0);
}

Test(topk, merge_replaces_stale_rows)
{
    struct wcs_topk old, out;
    cr_assert_eq(wcs_topk_init(&old, 3), 0);
    cr_assert_eq(wcs_topk_init(&out, 3), 0);
    struct wcs_row first[] = {tk_row("x", 10), tk_row("y", 8), tk_row("z", 6), tk_row("w", 1)};
    cr_assert_eq(wcs_topk_set(&old, first, 4), 0);
    cr_assert_eq(old.n, 3);
    /* z grows past x; w grows but stays out; a new word enters at the
     * bottom and pushes y out. */
    struct wcs_row upd[] = {tk_row("z", 11), tk_row("w", 2), tk_row("v", 9)};
    cr_assert_eq(wcs_topk_merge(&old, upd, 3, &out), 0);
    cr_assert_eq(out.n, 3);
    cr_expect(tk_is(&out.rows[0], "z"));
    cr_expect_eq(out.rows[0].count, 11);
    cr_expect(tk_is(&out.rows[1], "x"));
    cr_expect(tk_is(&out.rows[2], "v"));
    wcs_topk_free(&old);
    wcs_topk_free(&out);
}

/* Out of memory at any allocation of a set or a merge: -ENOMEM, and the
 * top-k it would have replaced still holds its rows. */
Test(topk, failed_allocation_leaves_the_top_k_as_it_was)
{
    struct wcs_topk old, out;
    cr_assert_eq(wcs_topk_init(&old, 3), 0);
    cr_assert_eq(wcs_topk_init(&out, 3), 0);
    struct wcs_row first[] = {tk_row("x", 10), tk_row("y", 8), tk_row("z", 6)};
    /* Words long enough to take an allocation each, were they copied one
     * at a time. */
    static char a[100000], b[100000], c[100000];
    memset(a, 'a', sizeof(a));
    memset(b, 'b', sizeof(b));
    memset(c, 'c', sizeof(c));
    struct wcs_row next[] = {{.word = a, .len = sizeof(a), .count = 30},
                             {.word = b, .len = sizeof(b), .count = 20},
                             {.word = c, .len = sizeof(c), .count = 9}};
    cr_assert_eq(wcs_topk_set(&old, first, 3), 0);
    for (int merge = 0; merge < 2; merge++) {
        cr_assert_eq(wcs_topk_set(&out, first, 3), 0);
        long n = 1;
        for (;; n++) {
            fault_alloc_arm(n);
            int r = merge ? wcs_topk_merge(&old, next, 3, &out) : wcs_topk_set(&out, next, 3);
            fault_alloc_disarm();
            if (!fault_alloc_failed()) {
                cr_assert_eq(r, 0);
                break;
            }
            cr_assert_eq(r, -ENOMEM, "allocation %ld", n);
            cr_assert_eq(out.n, 3);
            cr_expect(tk_is(&out.rows[0], "x") && tk_is(&out.rows[1], "y") &&
                      tk_is(&out.rows[2], "z"));
        }
        cr_expect_gt(n, 1, "no allocation was failed");
        cr_expect(out.rows[0].len == sizeof(a) && memcmp(out.rows[0].word, a, sizeof(a)) == 0);
    }
    wcs_topk_free(&old);
    wcs_topk_free(&out);
}

/* A word updated outside the best k updated rows must not survive with
 * its stale old count. */
Test(topk, merge_drops_stale_row_of_a_word_updated_below_the_cut)
{
    struct wcs_topk old, out;
    cr_assert_eq(wcs_topk_init(&old, 2), 0);
    cr_assert_eq(wcs_topk_init(&out, 2), 0);
    struct wcs_row first[] = {tk_row("a", 5), tk_row("b", 4)};
    cr_assert_eq(wcs_topk_set(&old, first, 2), 0);
    struct wcs_row upd[] = {tk_row("p", 50), tk_row("q", 40), tk_row("b", 6)};
    cr_assert_eq(wcs_topk_merge(&old, upd, 3, &out), 0);
    cr_assert_eq(out.n, 2);
    cr_expect(tk_is(&out.rows[0], "p"));
    cr_expect(tk_is(&out.rows[1], "q"));
    wcs_topk_free(&old);
    wcs_topk_free(&out);
}

static int tk_cmp_count(const void *a, const void *b)
{
    return wcs_row_cmp(a, b);
}

/* The id of a row's word "w%03d" (its 4 bytes are not NUL-terminated). */
static int tk_id(const struct wcs_row *row)
{
    cr_assert_eq(row->len, 4);
    return (row->word[1] - '0') * 100 + (row->word[2] - '0') * 10 + (row->word[3] - '0');
}

/* A leaders table as an array by word id, 0 for absent; the diff's calls
 * must each change it. */
static int tk_apply(void *arg, const struct wcs_row *row, bool drop)
{
    int64_t *table = arg;
    int id = tk_id(row);
    cr_assert(drop ? table[id] != 0 : table[id] != row->count, "%.4s: a change that is none",
              row->word);
    table[id] = drop ? 0 : row->count;
    return 0;
}

Test(topk, merge_matches_brute_force)
{
    enum { WORDS = 400, K = 25, ROUNDS = 200 };
    static char names[WORDS][16];
    int64_t counts[WORDS] = {0}, table[WORDS] = {0};
    for (int i = 0; i < WORDS; i++)
        snprintf(names[i], sizeof(names[i]), "w%03d", i);
    struct wcs_topk top, next;
    cr_assert_eq(wcs_topk_init(&top, K), 0);
    cr_assert_eq(wcs_topk_init(&next, K), 0);
    uint64_t rnd = 7;
    for (int r = 0; r < ROUNDS; r++) {
        struct wcs_row upd[40];
        bool seen[WORDS] = {0};
        size_t n = 0;
        for (int j = 0; j < 40; j++) {
            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            int id = (int)((rnd >> 33) % WORDS);
            if (seen[id])
                continue;
            seen[id] = true;
            counts[id] += 1 + (int64_t)((rnd >> 13) % 7);
            upd[n++] = (struct wcs_row){.word = names[id], .len = 4, .count = counts[id]};
        }
        cr_assert_eq(wcs_topk_merge(&top, upd, n, &next), 0);
        /* The diff turns a table of the old top-k into one of the new. */
        cr_assert_eq(wcs_topk_diff(&top, &next, tk_apply, table), 0);
        int64_t want_table[WORDS] = {0};
        for (size_t i = 0; i < next.n; i++)
            want_table[tk_id(&next.rows[i])] = next.rows[i].count;
        cr_assert(memcmp(table, want_table, sizeof(table)) == 0, "round %d: leaders differ", r);
        struct wcs_topk t = top;
        top = next;
        next = t;

        struct wcs_row all[WORDS];
        size_t m = 0;
        for (int i = 0; i < WORDS; i++)
            if (counts[i])
                all[m++] = (struct wcs_row){.word = names[i], .len = 4, .count = counts[i]};
        qsort(all, m, sizeof(*all), tk_cmp_count);
        size_t want = m < K ? m : K;
        cr_assert_eq(top.n, want, "round %d", r);
        for (size_t i = 0; i < want; i++) {
            cr_assert_eq(top.rows[i].count, all[i].count, "round %d row %zu", r, i);
            cr_assert(memcmp(top.rows[i].word, all[i].word, 4) == 0, "round %d row %zu", r, i);
        }
    }
    wcs_topk_free(&top);
    wcs_topk_free(&next);
}
