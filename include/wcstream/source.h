/*
 * source.h - the source plugin interface, and what a pull hands back.
 *
 * A source is one file under connectors/ that fills a struct
 * wcs_source_plugin with designated initializers and is listed once in
 * src/registry.c. At each trigger the engine calls pull() on every source:
 * the source appends whole lines (each ending in '\n') to the batch text,
 * says how many, and reports its offsets. Replayable sources also name the
 * offsets to persist with wcs_pull_offset(); the engine writes them in the
 * same SQLite transaction as the counts and hands them back through
 * restore() on the next start.
 */
#ifndef WCSTREAM_SOURCE_H
#define WCSTREAM_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "wcstream/buf.h"
#include "wcstream/notify.h"
#include "wcstream/uri.h"

struct wcs_source {
    const struct wcs_source_plugin *plugin;
    char *desc;  /* the URI as given: progress "description" */
    char *key;   /* the state's name for its offsets: set (malloc'd) by init()
                    when options that do not change the data must not change
                    it (kafka: the topics, not the brokers); NULL means desc */
    char **keys; /* several names to restore from (kafka: one per topic;
                    file: its key and the URI as given, where earlier
                    versions kept them): restore() gets the offsets of
                    each, and pull() names one with wcs_pull_offset_in();
                    NULL-terminated, malloc'd with its strings by init(),
                    or NULL */
    void *ctx;   /* the plugin's own state, freed by destroy() */
};

struct wcs_source_env {
    struct wcs_notify *notify; /* signal it when data is waiting */
    bool available_now;        /* finite run: end of input ends the source */
    size_t max_bytes;          /* --max-bytes-per-trigger: bound buffered input by it */
    size_t max_line;           /* --max-line-bytes: longer lines are cut */
    const char *query_id;      /* stable across restarts (e.g. a default group id) */
    /* The files this process writes, which a source must not read back:
     * the SQLite state (SQLite adds -wal, -shm and -journal to its name),
     * NULL when in memory, and a NULL-terminated list of the others (the
     * progress log, jsonl sinks' files). */
    const char *state_path;
    const char *const *written;
};

/* An offset to persist: `partition` of source `source` is consumed up to
 * `offset`, or, with WCS_OFFSET_FORGET, is gone and its row is deleted.
 * Strings live in the batch arena. */
#define WCS_OFFSET_FORGET (-1)
struct wcs_offset {
    const char *source;
    const char *partition;
    int64_t offset;
};

struct wcs_offsets {
    struct wcs_offset *v;
    size_t n, cap;
};

/* One source's share of one micro-batch. */
struct wcs_pull {
    struct wcs_buf *text;     /* append whole lines here */
    size_t budget;            /* append at most this many bytes (a line
                                 longer than the budget may go alone) */
    struct wcs_arena *arena;  /* batch lifetime memory */
    struct wcs_offsets *offs; /* see wcs_pull_offset() */
    const char *source;       /* the source's key (else desc) */
    uint64_t rows;            /* out: lines appended */
    uint64_t bytes;           /* out: bytes appended */
    uint64_t lines_cut;       /* out: lines cut at max_line, since start */
    cJSON *metrics;           /* out, optional: more of the source's metrics
                                 for its progress entry (an object; taken) */
    cJSON *start;             /* out: offsets before, as Spark shows them */
    cJSON *end;               /* out: offsets after */
    bool end_batch;           /* out: commit what the batch holds before
                                 pulling again (e.g. a rebalance waits) */
};

/* Record that `partition` (copied) is consumed up to `offset` once this
 * batch commits. 0 or -ENOMEM. */
int wcs_pull_offset(struct wcs_pull *p, const char *partition, int64_t offset);

/* Record that `partition` (copied) is gone: its offset is deleted from the
 * state once this batch commits, and restore() no longer gets it. Records
 * apply in order, so a later offset of the same partition wins. Alone
 * (no offset moved) it makes a batch of no rows: call it so only when the
 * forgetting must not wait for one. 0 or -ENOMEM. */
int wcs_pull_forget(struct wcs_pull *p, const char *partition);

/* The same under `key` (copied), one of the source's keys. */
int wcs_pull_offset_in(struct wcs_pull *p, const char *key, const char *partition, int64_t offset);

struct wcs_source_plugin {
    const char *scheme;
    const char *usage; /* one line for --help */
    /* Parse uri (marking options used), open what must exist now (a
     * listening port, a path), set src->ctx. Threads start here too.
     * 0, or with a sentence in err: WCS_EUSAGE for a bad URI or option,
     * -1 for a runtime failure (a port in use, a missing path). */
    int (*init)(struct wcs_source *src, struct wcs_uri *uri, const struct wcs_source_env *env,
                char *err, size_t errlen);
    /* Called once per persisted partition before the first pull. 0 or -1
     * with a sentence in err. Optional: a source that has it is replayable
     * (its offsets in the state make restarts exact). */
    int (*restore)(struct wcs_source *src, const char *partition, int64_t offset, char *err,
                   size_t errlen);
    /* Append available lines to p->text without blocking. 0, or -1 with a
     * sentence in err (a runtime failure that stops the query). */
    int (*pull)(struct wcs_source *src, struct wcs_pull *p, char *err, size_t errlen);
    /* True when the source will never have data again (end of a finite
     * input). Optional: absent means never. */
    bool (*finished)(struct wcs_source *src);
    /* The batch that held the last pull is durable. Optional. */
    void (*commit)(struct wcs_source *src);
    /* Stop threads, close everything, free src->ctx. Must accept a source
     * whose init failed. */
    void (*destroy)(struct wcs_source *src);
};

extern const struct wcs_source_plugin wcs_source_socket;
extern const struct wcs_source_plugin wcs_source_listen;
extern const struct wcs_source_plugin wcs_source_file;
extern const struct wcs_source_plugin wcs_source_stdin;
extern const struct wcs_source_plugin wcs_source_kafka;

#endif
