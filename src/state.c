/*
 * state.c - the durable running counts, in one SQLite file.
 *
 * Step 3 of every micro-batch (DESIGN.md section 1): one IMMEDIATE
 * transaction upserts the batch's deltas (RETURNING the new totals, so no
 * second read), writes each source partition's offset, and appends the
 * batch row that carries the totals and the progress record. The file is an
 * ordinary WAL-mode SQLite database with a word_counts view, so the sqlite3
 * shell can read it while the service runs.
 *
 * Opening is careful: a file that is not ours is refused before SQLite is
 * allowed to write a byte to it.
 */
#include "wcstream/state.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "wcstream/progress.h"

#define WCS_APPLICATION_ID 0x57435354 /* 'WCST' */

struct wcs_state {
    sqlite3 *db;
    sqlite3_stmt *upsert, *offset, *batch, *top, *count;
    char query_id[37];
    int64_t last_batch;
    int64_t distinct, total;
};

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE counts(word TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX counts_by_count ON counts(count DESC, word);"
    "CREATE TABLE offsets(source TEXT NOT NULL, partition TEXT NOT NULL,"
    "  offset INTEGER NOT NULL, PRIMARY KEY(source, partition)) WITHOUT ROWID;"
    "CREATE TABLE batches(batch_id INTEGER PRIMARY KEY, committed_at TEXT NOT NULL,"
    "  num_input_rows INTEGER NOT NULL, num_rows_updated INTEGER NOT NULL,"
    "  num_rows_total INTEGER NOT NULL, total_words INTEGER NOT NULL, progress TEXT);"
    "CREATE VIEW word_counts(word, count) AS SELECT word, count FROM counts;";

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Run SQL that returns no rows. */
static int exec(struct wcs_state *st, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    fail(err, errlen, "state: %s", msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    return -1;
}

/* First column of the first row of sql as an integer; -1 on error. */
static int query_int(struct wcs_state *st, const char *sql, int64_t *out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Refuse, without writing, any existing file that is not a SQLite file. */
static int check_file(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return errno == ENOENT ? 0 : (fail(err, errlen, "state %s: %s", path, strerror(errno)), -1);
    if (!S_ISREG(sb.st_mode)) {
        fail(err, errlen, "state %s is not a regular file", path);
        return -1;
    }
    if (sb.st_size == 0)
        return 0;
    char head[16] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(err, errlen, "cannot read state %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, head, sizeof(head));
    close(fd);
    if (n != (ssize_t)sizeof(head) || memcmp(head, "SQLite format 3", 16) != 0) {
        fail(err, errlen,
             "%s is not a wcstream state database (not an SQLite file); refusing to touch it",
             path);
        return -1;
    }
    return 0;
}

static int create_schema(struct wcs_state *st, char *err, size_t errlen)
{
    char uuid[37], sql[256];
    wcs_uuid(uuid);
    snprintf(sql, sizeof(sql),
             "INSERT INTO meta VALUES('query_id', '%s'), ('created_at', "
             "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ'));"
             "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             uuid, WCS_APPLICATION_ID, WCS_STATE_SCHEMA_VERSION);
    if (exec(st, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    if (exec(st, schema_sql, err, errlen) < 0 || exec(st, sql, err, errlen) < 0 ||
        exec(st, "COMMIT", err, errlen) < 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Decide whether the open database is ours, new, or someone else's. */
static int adopt(struct wcs_state *st, const char *path, char *err, size_t errlen)
{
    int64_t app_id = 0, version = 0, objects = 0;
    if (query_int(st, "PRAGMA application_id", &app_id) < 0 ||
        query_int(st, "PRAGMA user_version", &version) < 0 ||
        query_int(st, "SELECT count(*) FROM sqlite_schema", &objects) < 0) {
        fail(err, errlen, "%s is not a wcstream state database (%s); refusing to touch it", path,
             sqlite3_errmsg(st->db));
        return -1;
    }
    if (app_id == 0 && version == 0 && objects == 0)
        return create_schema(st, err, errlen);
    if (app_id != WCS_APPLICATION_ID) {
        fail(err, errlen,
             "%s is an SQLite database of another application (application_id %" PRId64 ", %" PRId64
             " schema objects); refusing to touch it",
             path, app_id, objects);
        return -1;
    }
    if (version > WCS_STATE_SCHEMA_VERSION) {
        fail(err, errlen,
             "%s has state schema version %" PRId64
             ", newer than this wcstream understands (%d); refusing to touch it",
             path, version, WCS_STATE_SCHEMA_VERSION);
        return -1;
    }
    /* Version 1 is the first; migrations from older versions go here. */
    return 0;
}

static int prepare(struct wcs_state *st, sqlite3_stmt **s, const char *sql, char *err,
                   size_t errlen)
{
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) == SQLITE_OK)
        return 0;
    fail(err, errlen, "state: %s", sqlite3_errmsg(st->db));
    return -1;
}

/* Load the query id and the last batch's id and totals. */
static int load(struct wcs_state *st, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc =
        sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'query_id'", -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 36)
        memcpy(st->query_id, sqlite3_column_text(s, 0), 37);
    sqlite3_finalize(s);
    if (!st->query_id[0]) {
        fail(err, errlen, "state has no query id; the file is damaged");
        return -1;
    }
    st->last_batch = -1;
    rc = sqlite3_prepare_v2(st->db,
                            "SELECT batch_id, num_rows_total, total_words FROM batches "
                            "ORDER BY batch_id DESC LIMIT 1",
                            -1, &s, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        st->last_batch = sqlite3_column_int64(s, 0);
        st->distinct = sqlite3_column_int64(s, 1);
        st->total = sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        fail(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

struct wcs_state *wcs_state_open(const char *path, const char *synchronous, char *err,
                                 size_t errlen)
{
    bool memory = strcmp(path, ":memory:") == 0;
    if (!memory && check_file(path, err, errlen) < 0)
        return NULL;
    struct wcs_state *st = calloc(1, sizeof(*st));
    if (!st) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        fail(err, errlen, "cannot open state %s: %s", path,
             st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (sqlite3_db_readonly(st->db, "main") == 1 ||
        (!memory && access(path, W_OK) < 0 && errno != ENOENT)) {
        fail(err, errlen, "cannot write state %s: %s", path, strerror(EACCES));
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);
    if (adopt(st, path, err, errlen) < 0)
        goto fail;
    char sql[96];
    snprintf(sql, sizeof(sql), "PRAGMA journal_mode = WAL; PRAGMA synchronous = %s;",
             synchronous ? synchronous : "normal");
    if (exec(st, sql, err, errlen) < 0 || exec(st, "PRAGMA cache_size = -65536", err, errlen) < 0)
        goto fail;
    if (load(st, err, errlen) < 0)
        goto fail;
    if (prepare(st, &st->upsert,
                "INSERT INTO counts(word, count) VALUES(?1, ?2) ON CONFLICT(word) "
                "DO UPDATE SET count = count + excluded.count RETURNING count",
                err, errlen) < 0 ||
        prepare(st, &st->offset,
                "INSERT INTO offsets(source, partition, offset) VALUES(?1, ?2, ?3) "
                "ON CONFLICT(source, partition) DO UPDATE SET offset = excluded.offset",
                err, errlen) < 0 ||
        prepare(
            st, &st->batch,
            "INSERT INTO batches VALUES(?1, strftime('%Y-%m-%dT%H:%M:%fZ'), ?2, ?3, ?4, ?5, ?6)",
            err, errlen) < 0 ||
        prepare(st, &st->top, "SELECT word, count FROM counts ORDER BY count DESC, word LIMIT ?1",
                err, errlen) < 0 ||
        prepare(st, &st->count, "SELECT count FROM counts WHERE word = ?1", err, errlen) < 0)
        goto fail;
    return st;
fail:
    wcs_state_close(st);
    return NULL;
}

void wcs_state_close(struct wcs_state *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->upsert);
    sqlite3_finalize(st->offset);
    sqlite3_finalize(st->batch);
    sqlite3_finalize(st->top);
    sqlite3_finalize(st->count);
    sqlite3_close(st->db);
    free(st);
}

int64_t wcs_state_last_batch(const struct wcs_state *st)
{
    return st->last_batch;
}

const char *wcs_state_query_id(const struct wcs_state *st)
{
    return st->query_id;
}

int64_t wcs_state_distinct(const struct wcs_state *st)
{
    return st->distinct;
}

int64_t wcs_state_total(const struct wcs_state *st)
{
    return st->total;
}

int wcs_state_offsets(struct wcs_state *st, const char *source,
                      int (*fn)(void *arg, const char *partition, int64_t offset), void *arg,
                      char *err, size_t errlen)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT partition, offset FROM offsets WHERE source = ?1", -1,
                           &s, NULL) != SQLITE_OK) {
        fail(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    int rc, r = 0;
    while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
        r = fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
    if (r == 0 && rc != SQLITE_DONE) {
        fail(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        r = -1;
    }
    sqlite3_finalize(s);
    return r;
}

/* Step a statement that was bound by the caller; reset it. SQLite code. */
static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int wcs_state_commit(struct wcs_state *st, int64_t batch_id, const struct wcs_group *groups,
                     size_t ngroups, const struct wcs_offsets *offs, uint64_t input_rows,
                     const char *progress_json, struct wcs_row *updated, char *err, size_t errlen)
{
    if (batch_id != st->last_batch + 1) {
        fail(err, errlen, "state: batch %" PRId64 " does not follow committed batch %" PRId64,
             batch_id, st->last_batch);
        return -1;
    }
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    int64_t distinct = st->distinct, total = st->total;
    for (size_t i = 0; rc == SQLITE_OK && i < ngroups; i++) {
        const struct wcs_group *g = &groups[i];
        sqlite3_bind_text(st->upsert, 1, g->len ? g->word : "", (int)g->len, SQLITE_STATIC);
        sqlite3_bind_int64(st->upsert, 2, g->delta);
        rc = sqlite3_step(st->upsert);
        if (rc == SQLITE_ROW) {
            int64_t count = sqlite3_column_int64(st->upsert, 0);
            updated[i] = (struct wcs_row){.word = g->word, .len = g->len, .count = count};
            distinct += count == g->delta; /* a new row: its total is its delta */
            total += g->delta;
            rc = sqlite3_step(st->upsert) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        }
        sqlite3_reset(st->upsert);
    }
    for (size_t i = 0; rc == SQLITE_OK && offs && i < offs->n; i++) {
        sqlite3_bind_text(st->offset, 1, offs->v[i].source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st->offset, 2, offs->v[i].partition, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st->offset, 3, offs->v[i].offset);
        rc = step_done(st->offset);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st->batch, 1, batch_id);
        sqlite3_bind_int64(st->batch, 2, (int64_t)input_rows);
        sqlite3_bind_int64(st->batch, 3, (int64_t)ngroups);
        sqlite3_bind_int64(st->batch, 4, distinct);
        sqlite3_bind_int64(st->batch, 5, total);
        sqlite3_bind_text(st->batch, 6, progress_json, -1, SQLITE_STATIC);
        rc = step_done(st->batch);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        fail(err, errlen, "state: batch %" PRId64 " not committed: %s", batch_id,
             sqlite3_errmsg(st->db));
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    st->last_batch = batch_id;
    st->distinct = distinct;
    st->total = total;
    return 0;
}

int wcs_state_top(struct wcs_state *st, size_t n, struct wcs_row *rows, size_t *nout,
                  struct wcs_arena *arena, char *err, size_t errlen)
{
    size_t k = 0;
    int rc = SQLITE_DONE;
    sqlite3_bind_int64(st->top, 1, (int64_t)n);
    while (k < n && (rc = sqlite3_step(st->top)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st->top, 0);
        const void *w = sqlite3_column_blob(st->top, 0);
        char *copy = wcs_arena_dup(arena, w ? w : "", len);
        if (!copy) {
            rc = SQLITE_NOMEM;
            break;
        }
        rows[k++] =
            (struct wcs_row){.word = copy, .len = len, .count = sqlite3_column_int64(st->top, 1)};
    }
    sqlite3_reset(st->top);
    *nout = k;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fail(err, errlen, "state: top-%zu query failed: %s", n, sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

int64_t wcs_state_count(struct wcs_state *st, const char *word, size_t len)
{
    sqlite3_bind_text(st->count, 1, len ? word : "", (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st->count);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(st->count, 0) : 0;
    sqlite3_reset(st->count);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? count : -1;
}
