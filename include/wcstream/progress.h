/*
 * progress.h - the per-batch progress record, shaped like Spark's
 * StreamingQueryProgress.
 *
 * The engine fills a struct wcs_progress while a batch runs; this module
 * turns it into JSON for the state's batch row, the sinks, --progress-log
 * and the log line.
 */
#ifndef WCSTREAM_PROGRESS_H
#define WCSTREAM_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

enum wcs_phase {
    WCS_PHASE_GET_BATCH,
    WCS_PHASE_TOKENIZE,
    WCS_PHASE_AGGREGATE,
    WCS_PHASE_STATE_COMMIT,
    WCS_PHASE_SINKS,
    WCS_PHASE_TRIGGER, /* the whole batch */
    WCS_PHASE_COUNT
};

struct wcs_progress_source {
    const char *description;
    cJSON *start; /* owned; NULL shows as null */
    cJSON *end;   /* owned */
    uint64_t rows, bytes, lines_cut;
    cJSON *metrics; /* owned; the source's own metrics, or NULL */
};

struct wcs_progress {
    const char *id, *run_id;
    int64_t batch_id;
    struct timespec timestamp; /* wall clock at trigger start */
    uint64_t input_rows, input_bytes;
    double input_rows_per_second; /* rows / seconds since the previous trigger */
    double phase_ms[WCS_PHASE_COUNT];
    unsigned phases_done; /* bit i: phase i measured (others are left out) */
    int64_t rows_total, rows_updated, total_words;
    struct wcs_progress_source *sources;
    size_t nsources;
    const char *sink_description;
    int64_t sink_output_rows;
};

/* The record as a new cJSON object (caller frees), NULL when out of
 * memory. Durations are milliseconds with microsecond precision. */
cJSON *wcs_progress_json(const struct wcs_progress *p);

/* A random (version 4) UUID, for query and run ids. */
void wcs_uuid(char out[37]);

/* Monotonic clock in nanoseconds, for the phase timings. */
int64_t wcs_now_ns(void);

#endif
