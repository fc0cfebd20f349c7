/*
 * topk.h - the k largest counts, kept exactly without an index.
 *
 * Counts only grow. So after a batch, a word that was not updated keeps
 * its old count, and if it belongs to the new top-k it already belonged to
 * the old one: the new top-k is the best k of (old top-k, updated rows).
 * The state keeps one of these in memory per batch and persists it in the
 * same transaction, so complete mode never scans the counts and no
 * per-row index has to be maintained on every upsert.
 */
#ifndef WCSTREAM_TOPK_H
#define WCSTREAM_TOPK_H

#include <stdbool.h>
#include <stddef.h>

#include "wcstream/buf.h"
#include "wcstream/result.h"

/* The largest k a query keeps: no sink asks for more top rows (a console
 * numRows or a jsonl topN past it is bad usage). The state keeps all k
 * ready in memory from the start: past this many, query the state file. */
#define WCS_TOPK_MAX 100000

struct wcs_topk {
    size_t k;               /* capacity */
    size_t n;               /* rows held, <= k */
    struct wcs_row *rows;   /* sorted by wcs_row_cmp */
    struct wcs_arena words; /* the rows' words */
};

/* The best min(n, k) rows of rows[0, n) in wcs_row_cmp order into out
 * (room for k rows; words borrowed). O(n log k). Returns how many. */
size_t wcs_rows_best(const struct wcs_row *rows, size_t n, size_t k, struct wcs_row *out);

/* An empty top-k of capacity k. 0 or -ENOMEM. */
int wcs_topk_init(struct wcs_topk *tk, size_t k);

/* Free. Accepts NULL and a zeroed struct. */
void wcs_topk_free(struct wcs_topk *tk);

/* Replace tk's rows with the best k of rows[0, n), words copied (n may
 * exceed k). 0 or -ENOMEM (tk unchanged). */
int wcs_topk_set(struct wcs_topk *tk, const struct wcs_row *rows, size_t n);

/* Into out (initialised, same k): the top-k after a batch whose words got
 * the new totals in updated[0, n) (distinct words, any order), given the
 * top-k before it in old. Exact when counts only grow. 0 or -ENOMEM. */
int wcs_topk_merge(const struct wcs_topk *old, const struct wcs_row *updated, size_t n,
                   struct wcs_topk *out);

/* What a table holding `was` must change to hold `now`: fn(arg, row,
 * true) for each row of `was` whose word is not in `now` (to delete), then
 * fn(arg, row, false) for each row of `now` that `was` lacks or holds with
 * another count (to write). Stops at fn's first nonzero return and returns
 * it; 0, or -ENOMEM before any call. */
int wcs_topk_diff(const struct wcs_topk *was, const struct wcs_topk *now,
                  int (*fn)(void *arg, const struct wcs_row *row, bool drop), void *arg);

#endif
