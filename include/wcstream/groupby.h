/*
 * groupby.h - batch-local hash aggregation: word -> delta.
 *
 * Open addressing with linear probing over XXH3 hashes. A word is copied
 * into the table's own memory the first time it is seen, so the caller may
 * reuse the bytes it tokenized while the batch keeps growing. Cost is one
 * hash and usually one probe per word; only a new distinct word costs a
 * copy, and nothing is allocated per word.
 */
#ifndef WCSTREAM_GROUPBY_H
#define WCSTREAM_GROUPBY_H

#include <stddef.h>
#include <stdint.h>

#include "wcstream/buf.h"
#include "wcstream/tokenize.h"

struct wcs_group {
    const char *word;
    size_t len;
    uint64_t hash;
    int64_t delta;
};

/* One table's groups, as handed to the state (see fold.h: one table per
 * tokenizing thread, so a word may be in several sets). */
struct wcs_group_set {
    const struct wcs_group *v;
    size_t n;
};

struct wcs_groupby;

/* New, empty table. NULL when out of memory. */
struct wcs_groupby *wcs_groupby_new(void);

/* Free the table. Accepts NULL. */
void wcs_groupby_free(struct wcs_groupby *gb);

/* Forget all groups; the capacity is kept for the next batch. */
void wcs_groupby_reset(struct wcs_groupby *gb);

/* Add `delta` to `word` (copied when new). 0, or -ENOMEM (table unchanged),
 * or -EINVAL (the table is sorted). */
int wcs_groupby_add(struct wcs_groupby *gb, const char *word, size_t len, int64_t delta);

/* Add 1 for each of n words. 0, or -ENOMEM (words before the failing one
 * were added), or -EINVAL (the table is sorted: none was). */
int wcs_groupby_add_words(struct wcs_groupby *gb, const struct wcs_word *words, size_t n);

/* Number of distinct words in the table. */
size_t wcs_groupby_size(const struct wcs_groupby *gb);

/* The groups as one dense array of wcs_groupby_size() entries, in
 * insertion order (key order after wcs_groupby_sort()); their words belong
 * to the table. Valid until the next add, sort or reset. */
const struct wcs_group *wcs_groupby_groups(const struct wcs_groupby *gb);

/* Key order, the state's: SQLite's BINARY collation of the words (their
 * bytes, then the shorter first). A qsort() comparator of two groups. */
int wcs_group_cmp(const void *a, const void *b);

/* Put the groups in key order, with `scratch` as working room (kept by the
 * caller from sort to sort, so that a batch costs no allocation). The table
 * then takes no more words until wcs_groupby_reset(): adds fail with
 * -EINVAL. 0, or -ENOMEM (the table is as it was). */
int wcs_groupby_sort(struct wcs_groupby *gb, struct wcs_buf *scratch);

#endif
