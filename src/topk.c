/*
 * topk.c - exact top-k of monotonically growing counts (see topk.h).
 *
 * After each commit the state merges the batch's updated rows into the
 * previous top-k: select the best k updated rows with a bounded heap, merge
 * them with the old top-k (both in rank order), and drop an old row whose
 * word came back with its new total (a hash set of the updated words). The
 * cost follows the batch (O(n log k) for n updated rows, plus k), never the
 * size of the state.
 */
#include "wcstream/topk.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* heap[0] is the worst of the rows kept so far (a max-heap by rank). */
static void sift_down(struct wcs_row *heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && wcs_row_cmp(&heap[l], &heap[worst]) > 0)
            worst = l;
        if (r < n && wcs_row_cmp(&heap[r], &heap[worst]) > 0)
            worst = r;
        if (worst == i)
            return;
        struct wcs_row t = heap[i];
        heap[i] = heap[worst];
        heap[worst] = t;
        i = worst;
    }
}

size_t wcs_rows_best(const struct wcs_row *rows, size_t n, size_t k, struct wcs_row *out)
{
    size_t m = 0;
    if (k == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (m < k) {
            out[m++] = rows[i];
            if (m == k)
                for (size_t j = k / 2; j-- > 0;)
                    sift_down(out, k, j);
        } else if (wcs_row_cmp(&rows[i], &out[0]) < 0) {
            out[0] = rows[i];
            sift_down(out, k, 0);
        }
    }
    qsort(out, m, sizeof(*out), wcs_row_cmp);
    return m;
}

int wcs_topk_init(struct wcs_topk *tk, size_t k)
{
    memset(tk, 0, sizeof(*tk));
    tk->k = k;
    tk->rows = malloc((k ? k : 1) * sizeof(*tk->rows));
    return tk->rows ? 0 : -ENOMEM;
}

void wcs_topk_free(struct wcs_topk *tk)
{
    if (!tk)
        return;
    free(tk->rows);
    wcs_arena_free(&tk->words);
    memset(tk, 0, sizeof(*tk));
}

/* Own copies of rows[0, n) (n <= k) as tk's rows. The words go into one
 * allocation, so that tk is left as it was when it fails. */
static int adopt(struct wcs_topk *tk, const struct wcs_row *rows, size_t n)
{
    size_t bytes = 1;
    for (size_t i = 0; i < n; i++)
        bytes += rows[i].len;
    struct wcs_arena words = {0};
    char *w = wcs_arena_alloc(&words, bytes);
    if (!w)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        memcpy(w, rows[i].word, rows[i].len);
        tk->rows[i] = (struct wcs_row){.word = w, .len = rows[i].len, .count = rows[i].count};
        w += rows[i].len;
    }
    wcs_arena_free(&tk->words);
    tk->words = words;
    tk->n = n;
    return 0;
}

int wcs_topk_set(struct wcs_topk *tk, const struct wcs_row *rows, size_t n)
{
    struct wcs_row *best = malloc((tk->k ? tk->k : 1) * sizeof(*best));
    if (!best)
        return -ENOMEM;
    size_t m = wcs_rows_best(rows, n, tk->k, best);
    int r = adopt(tk, best, m);
    free(best);
    return r;
}

/* The rows of an array by word: open addressing over 2n+ slots, each 0 or
 * a row's index + 1. */
struct word_index {
    const struct wcs_row *rows;
    uint32_t *slots;
    size_t mask;
};

static int index_words(struct word_index *ix, const struct wcs_row *rows, size_t n)
{
    size_t size = 2;
    while (size < 2 * n)
        size <<= 1;
    *ix = (struct word_index){rows, calloc(size, sizeof(*ix->slots)), size - 1};
    if (!ix->slots)
        return -ENOMEM;
    for (size_t j = 0; j < n; j++) {
        size_t i = XXH3_64bits(rows[j].word, rows[j].len) & ix->mask;
        while (ix->slots[i])
            i = (i + 1) & ix->mask;
        ix->slots[i] = (uint32_t)j + 1;
    }
    return 0;
}

/* The indexed row with w's word, or NULL. */
static const struct wcs_row *find_word(const struct word_index *ix, const struct wcs_row *w)
{
    for (size_t i = XXH3_64bits(w->word, w->len) & ix->mask; ix->slots[i]; i = (i + 1) & ix->mask)
        if (wcs_row_word_cmp(&ix->rows[ix->slots[i] - 1], w) == 0)
            return &ix->rows[ix->slots[i] - 1];
    return NULL;
}

int wcs_topk_merge(const struct wcs_topk *old, const struct wcs_row *updated, size_t n,
                   struct wcs_topk *out)
{
    size_t k = out->k;
    /* The best k updated rows, then the merge of them with the old top-k,
     * both in rank order. */
    struct wcs_row *best = calloc(2 * k + 1, sizeof(*best));
    if (!best)
        return -ENOMEM;
    size_t m = wcs_rows_best(updated, n, k, best);
    struct word_index ix;
    if (index_words(&ix, best, m) < 0) {
        free(best);
        return -ENOMEM;
    }
    /* An old row whose word is among the best updated rows is stale: that
     * word's new row replaces it. (An updated word outside the best k
     * cannot be in the new top-k, and neither can its stale old row, which
     * ranks below it: the cut at k drops it.) */
    struct wcs_row *merged = best + m;
    size_t i = 0, j = 0, u = 0;
    while (u < k && (i < old->n || j < m)) {
        if (i < old->n && find_word(&ix, &old->rows[i]))
            i++;
        else if (j == m || (i < old->n && wcs_row_cmp(&old->rows[i], &best[j]) < 0))
            merged[u++] = old->rows[i++];
        else
            merged[u++] = best[j++];
    }
    int r = adopt(out, merged, u);
    free(ix.slots);
    free(best);
    return r;
}

int wcs_topk_diff(const struct wcs_topk *was, const struct wcs_topk *now,
                  int (*fn)(void *arg, const struct wcs_row *row, bool drop), void *arg)
{
    struct word_index in_was, in_now;
    if (index_words(&in_was, was->rows, was->n) < 0)
        return -ENOMEM;
    if (index_words(&in_now, now->rows, now->n) < 0) {
        free(in_was.slots);
        return -ENOMEM;
    }
    int r = 0;
    for (size_t i = 0; r == 0 && i < was->n; i++)
        if (!find_word(&in_now, &was->rows[i]))
            r = fn(arg, &was->rows[i], true);
    for (size_t i = 0; r == 0 && i < now->n; i++) {
        const struct wcs_row *before = find_word(&in_was, &now->rows[i]);
        if (!before || before->count != now->rows[i].count)
            r = fn(arg, &now->rows[i], false);
    }
    free(in_was.slots);
    free(in_now.slots);
    return r;
}
