/*
 * result.h - what one micro-batch hands to the sinks.
 *
 * Built by the engine after the state commit; sinks only read it and never
 * touch SQLite. Everything it points to lives until the sink's emit()
 * returns.
 */
#ifndef WCSTREAM_RESULT_H
#define WCSTREAM_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

enum wcs_output_mode { WCS_MODE_COMPLETE, WCS_MODE_UPDATE };

/* A word (arbitrary bytes, not NUL-terminated) and its total count. */
struct wcs_row {
    const char *word;
    size_t len;
    int64_t count;
};

struct wcs_result {
    int64_t batch_id;
    enum wcs_output_mode mode;
    /* Words whose count changed in this batch, with their new totals, in
     * no particular order (wcs_rows_best() picks the largest). */
    const struct wcs_row *updated;
    size_t n_updated;
    /* The largest totals of the whole state, by count descending then word
     * ascending (bytewise); at least as many as any sink asked for with its
     * top_n (fewer if the state is small). */
    const struct wcs_row *top;
    size_t n_top;
    int64_t distinct_words; /* rows in the state */
    int64_t total_words;    /* sum of all counts */
    const cJSON *progress;  /* the StreamingQueryProgress-shaped record */
};

/* qsort comparator for struct wcs_row: count descending, word ascending. */
int wcs_row_cmp(const void *a, const void *b);

/* qsort comparator for struct wcs_row by word alone, bytewise. */
int wcs_row_word_cmp(const void *a, const void *b);

#endif
