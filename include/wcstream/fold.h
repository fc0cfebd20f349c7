/*
 * fold.h - steps 2a and 2b of a micro-batch (tokenize, aggregate) on every
 * core.
 *
 * A chunk of whole lines is cut at line ends into one part per thread; each
 * thread tokenizes its part into a group-by table of its own, so the hot
 * loop shares nothing and takes no lock. The calling thread does the first
 * part, helper threads the others. A word seen by several threads is in
 * several tables. When the batch is complete each thread sorts its own
 * table into key order, and the state merges the sorted tables, summing a
 * word's deltas (state.h). Chunks and batches too small to be worth a
 * hand-over are done by the caller alone.
 */
#ifndef WCSTREAM_FOLD_H
#define WCSTREAM_FOLD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "wcstream/groupby.h"
#include "wcstream/tokenize.h"

#define WCS_FOLD_MAX_THREADS 64

struct wcs_fold;

/* threads: how many threads tokenize (1 = the caller only; 0 = one per
 * online core). The tokenizer settings are those of wcs_tokenizer_new().
 * NULL with a sentence in err (a pattern that does not compile, no memory,
 * no thread). */
struct wcs_fold *wcs_fold_new(int threads, enum wcs_split mode, const char *pattern, bool lowercase,
                              char *err, size_t errlen);
/* Stop the helpers and free everything. Accepts NULL. */
void wcs_fold_free(struct wcs_fold *f);
/* How many threads tokenize. */
size_t wcs_fold_threads(const struct wcs_fold *f);
/* Tokenize [data, data + len) (whole lines, as wcs_tokenize() takes) and
 * add its words to the tables. The bytes may be reused once this returns.
 * 0, or -ENOMEM (some of the chunk's words may have been added). */
int wcs_fold_text(struct wcs_fold *f, const char *data, size_t len);
/* The sum of the tables' sizes: at least the distinct words folded. */
size_t wcs_fold_groups(const struct wcs_fold *f);
/* The batch is complete: sort the tables (wcs_groupby_sort(), on every
 * core) and fill sets[0 .. wcs_fold_threads()) with their groups in key
 * order. No text may be folded into them until the next swap. 0, or
 * -ENOMEM. */
int wcs_fold_sets(struct wcs_fold *f, struct wcs_group_set *sets);
/* The wall time spent in wcs_fold_text() and wcs_fold_sets() since the
 * last swap, split into tokenizing and aggregating (the sort is
 * aggregating) in the proportion of the threads' own times. */
void wcs_fold_times(const struct wcs_fold *f, int64_t *tokenize_ns, int64_t *aggregate_ns);
/* Hand the tables over (a batch is complete): the next chunks go to a
 * second set of tables, emptied first, and the sets last returned by
 * wcs_fold_sets() stay valid until the swap after this one. So one batch
 * can be committed while the next is folded. */
void wcs_fold_swap(struct wcs_fold *f);

#endif
