/*
 * sink.h - the sink plugin interface.
 *
 * A sink is one file under sinks/ that fills a struct wcs_sink_plugin with
 * designated initializers and is listed once in src/registry.c. The engine
 * calls init() once, emit() after every committed batch, destroy() at exit.
 */
#ifndef WCSTREAM_SINK_H
#define WCSTREAM_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "wcstream/result.h"
#include "wcstream/tokenize.h"
#include "wcstream/uri.h"

struct wcs_sink {
    const struct wcs_sink_plugin *plugin;
    char *desc;   /* the URI as given, for logs and progress */
    size_t top_n; /* set by init(): top rows it needs in result->top */
    void *ctx;    /* the plugin's own state, freed by destroy() */
    bool missed;  /* the engine's: an at-least-once sink failed a batch and
                     gets the whole state again once it takes one */
    bool started; /* the engine's: set once the whole start succeeded; a
                     destroy() before (the start failed) takes back what
                     init() made */
};

struct wcs_sink_env {
    enum wcs_output_mode mode;
    const atomic_int *stopping; /* set when the query is asked to stop (by a
                                   signal handler, on any thread): give up waiting */
    const char *state_path;     /* the state file, for a wcs_state_reader;
                                   NULL when the state is in memory */
    const char *dashboard_dir;  /* --dashboard-dir, or NULL */
    /* the query's tokenizer settings (--split, --lowercase), for a sink
     * that looks words up as the query counts them */
    enum wcs_split split;
    const char *split_pattern;
    bool lowercase;
};

struct wcs_sink_plugin {
    const char *scheme;
    /* At-least-once: the engine records each batch the sink took; when the
     * last committed batch is not recorded at a start (a crash, or a stop
     * while the sink waited), it first sends the sink the whole state again
     * as the rows of that batch. For sinks whose rows are absolute counts
     * keyed by word, where a repeat is harmless. */
    bool at_least_once;
    const char *usage; /* one line for --help, e.g. "console[?numRows=N&truncate=BOOL]" */
    /* Read options from uri (marking them used), set sk->ctx and
     * sk->top_n. 0, or with a sentence in err: WCS_EUSAGE for a bad
     * option, -1 for a runtime failure. */
    int (*init)(struct wcs_sink *sk, struct wcs_uri *uri, const struct wcs_sink_env *env, char *err,
                size_t errlen);
    /* Deliver one batch. 0, or -1 with a sentence in err (the engine logs
     * it; the batch stays committed). */
    int (*emit)(struct wcs_sink *sk, const struct wcs_result *res, char *err, size_t errlen);
    /* Optional: the state as it was recovered, before the first batch (no
     * updated rows, no progress; batch_id is the last committed, -1 for a
     * new state). 0, or -1 with a sentence in err (the query does not
     * start). */
    int (*start)(struct wcs_sink *sk, const struct wcs_result *recovered, char *err, size_t errlen);
    /* Flush and free sk->ctx. Must accept a sink whose init failed. */
    void (*destroy)(struct wcs_sink *sk);
};

extern const struct wcs_sink_plugin wcs_sink_console;
extern const struct wcs_sink_plugin wcs_sink_jsonl;
extern const struct wcs_sink_plugin wcs_sink_kafka;
extern const struct wcs_sink_plugin wcs_sink_websocket;

/* The console table of one batch, exactly as Spark's console sink prints
 * it, written to out. num_rows >= 1; truncate as Spark's show(). */
void wcs_console_render(FILE *out, const struct wcs_result *res, size_t num_rows, int truncate);

#endif
