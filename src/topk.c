/*
 * topk.c - exact top-k of monotonically growing counts (see topk.h).
 *
 * After each commit the state merges the batch's updated rows into the
 * previous top-k: select the best k updated rows with a bounded heap, merge
 * them with the old top-k, and drop an old row whose word came back with
 * its new total. The cost follows the batch (O(n log k) for n updated
 * rows), never the size of the state.
 */
#include "wcstream/topk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Own copies of rows[0, n) (n <= k) as tk's rows. */
static int adopt(struct wcs_topk *tk, const struct wcs_row *rows, size_t n)
{
    struct wcs_arena words = {0};
    for (size_t i = 0; i < n; i++) {
        char *w = wcs_arena_dup(&words, rows[i].word, rows[i].len);
        if (!w) {
            wcs_arena_free(&words);
            return -ENOMEM;
        }
        tk->rows[i] = (struct wcs_row){.word = w, .len = rows[i].len, .count = rows[i].count};
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

/* By word; the same word twice: the larger (newer) count first. */
static int cmp_word(const void *pa, const void *pb)
{
    const struct wcs_row *a = pa, *b = pb;
    int c = wcs_row_word_cmp(a, b);
    return c ? c : (a->count > b->count ? -1 : a->count < b->count);
}

int wcs_topk_merge(const struct wcs_topk *old, const struct wcs_row *updated, size_t n,
                   struct wcs_topk *out)
{
    size_t k = out->k;
    /* Candidates: the best k updated rows, then the old top-k. */
    struct wcs_row *cand = malloc((2 * k + 1) * sizeof(*cand));
    if (!cand)
        return -ENOMEM;
    size_t m = wcs_rows_best(updated, n, k, cand);
    size_t keep = old->n < k ? old->n : k;
    memcpy(cand + m, old->rows, keep * sizeof(*cand));
    m += keep;
    /* An old row whose word was updated is stale: keep only its newest
     * count. (An updated word outside the best k updated rows cannot be in
     * the new top-k, and neither can its stale old row, which ranks below.) */
    qsort(cand, m, sizeof(*cand), cmp_word);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || wcs_row_word_cmp(&cand[u - 1], &cand[i]) != 0)
            cand[u++] = cand[i];
    qsort(cand, u, sizeof(*cand), wcs_row_cmp);
    int r = adopt(out, cand, u < k ? u : k);
    free(cand);
    return r;
}
