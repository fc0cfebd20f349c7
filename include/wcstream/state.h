/*
 * state.h - the durable running counts, in one SQLite file.
 *
 * The state is the checkpoint: one transaction per batch applies the
 * batch's deltas, records every source's offsets and the batch's progress.
 * Either all of it is durable or none of it is. The top-k is kept in
 * memory and persisted (topk.h), so no batch ever scans all counts.
 *
 * Schema (PRAGMA application_id 0x57435354 'WCST', user_version 3):
 *   meta(key PRIMARY KEY, value)                  query_id, created_at, top_k,
 *                                                 delivered:SINK (last batch it took)
 *   counts(word PRIMARY KEY, count) WITHOUT ROWID  the running totals...
 *   recent(word PRIMARY KEY, count) WITHOUT ROWID  ...but a word's row here,
 *                                                 if it has one, is newer
 *   leaders(word PRIMARY KEY, count) WITHOUT ROWID the top_k largest counts
 *   offsets(source, partition, offset)            per-partition progress
 *   batches(batch_id PRIMARY KEY, committed_at, num_input_rows,
 *           num_rows_updated, num_rows_total, total_words, progress)
 *                                                 the last WCS_STATE_BATCHES_KEPT
 *   VIEW word_counts(word, count)                 recent, and counts not in it
 *   VIEW top_words(word, count)
 * Older versions are upgraded when they are opened (state.c: settle()).
 */
#ifndef WCSTREAM_STATE_H
#define WCSTREAM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wcstream/buf.h"
#include "wcstream/groupby.h"
#include "wcstream/result.h"
#include "wcstream/source.h"

#define WCS_STATE_SCHEMA_VERSION 3    /* 2: the recent table; 3: Kafka offsets per topic */
#define WCS_STATE_TOP_MIN        1000 /* the top-k kept is never smaller */
#define WCS_STATE_RECENT_MIN     8192 /* recent may hold at least this many rows */
/* The batches table keeps the rows of this many batches, the last ones:
 * each commit drops the row that falls out (Spark keeps 100 batches of
 * its metadata log). The totals are in every row, so none is lost. */
#define WCS_STATE_BATCHES_KEPT 10000

struct wcs_state;

/* Open or create the state at path (":memory:" keeps none). synchronous is
 * "off", "normal" or "full". top_k: how many of the largest counts to keep
 * ready (at least WCS_STATE_TOP_MIN); a state kept with a smaller k is
 * scanned once to rebuild it. A file that is not a wcstream state (another
 * format, another application's database, a newer schema) or that cannot
 * be written is refused, left untouched, and NULL is returned with a
 * sentence in err. */
struct wcs_state *wcs_state_open(const char *path, const char *synchronous, size_t top_k, char *err,
                                 size_t errlen);

/* Close. Accepts NULL. */
void wcs_state_close(struct wcs_state *st);

/* Close, and remove the file (and SQLite's files beside it) if this open
 * made it: a run that fails to start leaves nothing behind.
 * Accepts NULL. */
void wcs_state_discard(struct wcs_state *st);

/*
 * Checkpoint behind the commits: from now on a thread with a connection of
 * its own copies the WAL into the file after a commit leaves 32 frames or
 * more in it, while the next batches commit (SQLite's PASSIVE checkpoint).
 * Without it a commit checkpoints before it returns, fsyncs and all. A
 * commit waits for the thread only when the WAL has grown past
 * WCS_STATE_WAL_MAX_FRAMES pages. Nothing to do for a state in memory.
 * 0, or -1 with a sentence in err (the commits then checkpoint themselves).
 */
#define WCS_STATE_WAL_MAX_FRAMES 1024
int wcs_state_checkpoint_behind(struct wcs_state *st, char *err, size_t errlen);

/* Checkpoint now (PASSIVE) and wait for it: by the checkpointer thread if
 * there is one. What a checkpoint cannot do is left in the WAL. */
void wcs_state_checkpoint(struct wcs_state *st);

/* The id of the last committed batch, -1 when none. */
int64_t wcs_state_last_batch(const struct wcs_state *st);

/* The query id: a UUID made when the state was created, stable across
 * restarts (borrowed). */
const char *wcs_state_query_id(const struct wcs_state *st);

/* Distinct words and the sum of all counts, as of the last commit. */
int64_t wcs_state_distinct(const struct wcs_state *st);
int64_t wcs_state_total(const struct wcs_state *st);

/* Call fn for every persisted offset of `source`. 0, or -1 with err. */
int wcs_state_offsets(struct wcs_state *st, const char *source,
                      int (*fn)(void *arg, const char *partition, int64_t offset), void *arg,
                      char *err, size_t errlen);

/*
 * Stage the next batch's words: the groups of nsets sets (at most
 * WCS_STATE_MAX_SETS), each in key order (wcs_group_cmp(): a sorted
 * group-by table) and without repeats. A word may be in several sets; the
 * merge sums its deltas, so the commit writes neighbouring B-tree pages in
 * key order. Pure memory work, no SQL. Sets *distinct to the batch's
 * distinct words and returns 0, or -1 with a sentence in err (out of
 * memory, or a set out of order). The groups' words are borrowed until
 * the commit's rows are no longer needed.
 */
#define WCS_STATE_MAX_SETS 64
int wcs_state_stage(struct wcs_state *st, const struct wcs_group_set *sets, size_t nsets,
                    size_t *distinct, char *err, size_t errlen);
/*
 * Commit the staged words as batch `batch_id` (must be last_batch + 1): add
 * every delta, persist the offsets and the changed top-k rows, record the
 * batch with its input rows and progress JSON, all in one transaction, and
 * return 0; wcs_state_updated() then gives the new totals. On failure
 * everything is rolled back, the state (in the file and in memory) is as
 * before the call, and -1 is returned with a sentence in err; the caller
 * may retry the same batch. WCS_STATE_DAMAGED instead says that a retry
 * cannot succeed: the file is damaged (corrupt pages, a count past
 * 2^63 - 1).
 */
#define WCS_STATE_DAMAGED (-3) /* not WCS_EUSAGE's -2 */
int wcs_state_commit(struct wcs_state *st, int64_t batch_id, const struct wcs_offsets *offs,
                     uint64_t input_rows, const char *progress_json, char *err, size_t errlen);
/* The last commit's distinct words with their new totals, in key order
 * (bytewise). Borrowed: valid until the next stage. */
const struct wcs_row *wcs_state_updated(const struct wcs_state *st, size_t *n);
/* The largest counts as of the last commit, count descending then word
 * ascending: *n rows (the top_k asked for at open, fewer when the state is
 * smaller). Borrowed: valid until the next commit. */
const struct wcs_row *wcs_state_top(const struct wcs_state *st, size_t *n);

/* The count of one word, 0 when absent; -1 on error. */
int64_t wcs_state_count(struct wcs_state *st, const char *word, size_t len);

/* The last batch that sink (its description) is known to have delivered,
 * -1 when none is recorded. */
int64_t wcs_state_delivered(struct wcs_state *st, const char *sink);

/* Record that sink delivered batch_id, in a small transaction of its own.
 * 0, or -1 with a sentence in err (nothing is lost: the sink is sent the
 * state again at the next start). */
int wcs_state_set_delivered(struct wcs_state *st, const char *sink, int64_t batch_id, char *err,
                            size_t errlen);

/* Call fn with every (word, count) of the state, in no promised order, at
 * most n rows at a time (borrowed for the call). 0, or -1 with a sentence
 * in err (also when fn returns nonzero). */
int wcs_state_scan(struct wcs_state *st, size_t n,
                   int (*fn)(void *arg, const struct wcs_row *rows, size_t n), void *arg, char *err,
                   size_t errlen);

/*
 * A read-only connection to a state file, for another thread (the
 * websocket sink's) to answer queries while the engine commits: SQLite's
 * WAL lets it read the last committed batch without blocking the writer.
 * One thread at a time may use a reader.
 */
struct wcs_state_reader;

/* Open the state at path (made by wcs_state_open) for reading. NULL with a
 * sentence in err. */
struct wcs_state_reader *wcs_state_reader_open(const char *path, char *err, size_t errlen);

/* Close. Accepts NULL. */
void wcs_state_reader_close(struct wcs_state_reader *r);

/* The committed count of one word, 0 when absent; -1 on error. */
int64_t wcs_state_reader_count(struct wcs_state_reader *r, const char *word, size_t len);

/* Call fn with the progress JSON of the last n committed batches, oldest
 * first. 0, or -1 on error (or when fn returns nonzero). */
int wcs_state_reader_history(struct wcs_state_reader *r, size_t n,
                             int (*fn)(void *arg, const char *json), void *arg);

/* Where a file is, or would be made: its directory's identity and its
 * name there, a link followed as open() and SQLite follow it. */
struct wcs_file_place {
    dev_t dev;
    ino_t ino;
    char *base; /* malloc'ed */
};

/* Fill *pl for path. 0, or -1 when its directory cannot be looked at (or
 * out of memory). */
int wcs_file_place(const char *path, struct wcs_file_place *pl);

/* Whether the file `name` in the directory (dev, ino) is the file at pl
 * or, when pl is a state, one of SQLite's files beside it (-wal, -shm,
 * -journal): no source may read them, no sink write them. */
bool wcs_file_place_is(const struct wcs_file_place *pl, bool state, dev_t dev, ino_t ino,
                       const char *name);

#endif
