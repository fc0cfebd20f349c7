/*
 * state.c - the durable running counts, in one SQLite file.
 *
 * Step 3 of every micro-batch (DESIGN.md section 1): one IMMEDIATE
 * transaction writes the batch's new totals (each distinct word of the batch
 * read and written once, in key order), each source partition's offset, the
 * rows of the top-k that changed, and the batch row with the totals and the
 * progress record. The file is an ordinary WAL-mode SQLite database with a
 * word_counts view, so the sqlite3 shell can read it while the service runs.
 *
 * Small batches write to recent, not counts. A word's total is its row in
 * recent if it has one, else its row in counts (the word_counts view). The
 * words of a small batch land on as many pages of counts as there are words
 * once counts is big, and each touched 16 KiB page is written whole (to the
 * WAL, then by the checkpoint); recent is much smaller, so a small batch
 * touches fewer pages. Once recent is full (recent_max()), each batch also
 * moves the next rows of recent, in key order from where the last move
 * stopped, into counts: a slice of recent's key range lands on the same
 * slice of counts' pages, so the rows of a page go together. A big batch
 * flushes recent and writes to counts directly. Any split of the rows
 * between the two tables is a whole state, so none of this needs
 * recovering after a crash.
 *
 * The commits append to the WAL; copying it into the file (the checkpoint,
 * with its fsyncs) is done behind them by a thread with a connection of its
 * own once the engine asks for that (wcs_state_checkpoint_behind()), so a
 * batch does not wait for the checkpoint of the batches before it.
 *
 * There is no index on count: keeping one costs every upsert a second
 * B-tree update. The top-k is kept exactly in memory instead (topk.h) and
 * persisted in the leaders table, changed rows only, so a restart reads it
 * back without scanning the counts.
 *
 * Opening is careful: a file that is not ours is refused before SQLite is
 * allowed to write a byte to it.
 */
#include "wcstream/state.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "wcstream/buf.h"
#include "wcstream/log.h"
#include "wcstream/progress.h"
#include "wcstream/topk.h"

#define WCS_APPLICATION_ID 0x57435354 /* 'WCST' */

/*
 * How big recent may grow. A batch of d distinct words on a state of N
 * touches about min(d, R / r) pages of a recent of R rows (r rows a page),
 * and, to keep R steady, moves d rows to counts, where a slice of R / P
 * rows a page (P = N / r pages) touches d * N / (R * r) pages. The sum is
 * least at R = sqrt(d * N): 6,000-word batches on 10M words touch ~330
 * pages instead of ~3,500. Never below RECENT_MIN, measured with the
 * latency probe (4,096 to 8,192 were best; 16,384 and up made every batch
 * touch more pages of recent). A batch of more words than RECENT_MIN and
 * than counts has pages (about ROWS_PER_PAGE rows each) touches every page
 * anyway: it writes to counts directly.
 */
#define RECENT_MIN    WCS_STATE_RECENT_MIN
#define ROWS_PER_PAGE 1000
#define MOVE_MIN      256

static int64_t recent_max(size_t batch_words, int64_t distinct)
{
    double r = sqrt((double)batch_words * (double)distinct);
    return r > RECENT_MIN ? (int64_t)r : RECENT_MIN;
}

#define WAL_CHECKPOINT_FRAMES 32 /* see wcs_state_open() */

/*
 * SQLite's page cache: PAGE_CACHE_PAGES slots of STATE_PAGE_SIZE in one
 * mapping that every connection of the process shares, faulted in at once
 * when the first one opens (page_cache_setup()). Left to malloc, each page
 * came in fresh memory whose first touch costs a fault per 4 KiB, 3 to 14 us
 * on this VM: the first small batch after a start on a 10M-word state reads
 * ~3,500 pages to look its words up, and took 47-67 ms that way. Once the
 * slots are taken SQLite reuses the least recently used page instead (past
 * them it would fall back to malloc). 8 MiB holds a natural-text state of
 * 300,000 words whole and the interior pages of any state; a batch that
 * reads more pages than that reads them from the OS's cache.
 */
#define STATE_PAGE_SIZE  16384
#define PAGE_CACHE_PAGES 512
#define STR(x)           #x
#define XSTR(x)          STR(x)

/* The checkpointer (wcs_state_checkpoint_behind()). */
struct checkpointer {
    sqlite3 *db; /* its own connection to the file */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t asked, done; /* runs asked for, and the ask the last run answered */
    bool started, quit;
};

struct wcs_state {
    sqlite3 *db;
    char *made; /* the path, when this open made the file */
    sqlite3_stmt *get, *offset, *offset_del, *batch, *forget, *lead_put, *lead_del;
    /* Whole-batch statements over wcs_batch: the stored counts from counts
     * alone (recent empty) or from both; the new totals into either. */
    sqlite3_stmt *lookup, *lookup_both, *apply, *apply_recent;
    sqlite3_stmt *move_end, *move, *move_drop; /* recent -> counts, a slice */
    int64_t n_recent;                          /* rows in recent */
    struct wcs_buf move_from;                  /* the next slice starts after it, */
    bool move_from_set;                        /* if set; else at the first row */
    sqlite3_stmt *delivered;                   /* a sink's last batch, after each batch */
    char query_id[37];
    int64_t last_batch;
    int64_t distinct, total;
    struct wcs_topk top, next; /* committed top-k; the one being built */
    /* The staged batch: its distinct words in key order with their deltas;
     * rows[i].count becomes the new total at commit. wcs_batch shows it. */
    struct wcs_row *rows;
    int64_t *delta;
    size_t n_rows;
    bool staged; /* rows await their commit */
    size_t rows_cap;
    struct checkpointer *ck; /* NULL: the commits checkpoint themselves */
    int wal_frames;          /* in the WAL after the last commit */
    int lock_fd;             /* holds the flock() that keeps other processes out, or -1 */
    bool discard;            /* wcs_state_discard(): remove what this open made */
};

static const sqlite3_module batch_module; /* wcs_batch, below */

/* Schema version 2 added the recent table (see the file's head). Its
 * statements, shared by a new state and the migration of a version 1. */
#define RECENT_SQL                                                                                 \
    "CREATE TABLE recent(word TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;"            \
    "CREATE VIEW word_counts(word, count) AS SELECT word, count FROM recent UNION ALL "            \
    "  SELECT word, count FROM counts AS c "                                                       \
    "  WHERE NOT EXISTS (SELECT 1 FROM recent AS r WHERE r.word = c.word);"

/* The rows of recent where a slice to move starts: after the key ?1, or
 * from the first row when ?3 is true (?1 is then ''). The first row may be
 * the empty word (--split spark), which no key is before; ">=" keeps the
 * primary key's range for the search. */
#define AFTER_FROM "word >= ?1 AND (?3 OR word > ?1)"

/* Write the (word, count) rows of `select` into `table`, new or not. (A
 * SELECT without a WHERE needs "WHERE true" before ON CONFLICT.) */
#define UPSERT(table, select)                                                                      \
    "INSERT INTO " table "(word, count) " select                                                   \
    " ON CONFLICT(word) DO UPDATE SET count = excluded.count"

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE counts(word TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE leaders(word TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE offsets(source TEXT NOT NULL, partition TEXT NOT NULL,"
    "  offset INTEGER NOT NULL, PRIMARY KEY(source, partition)) WITHOUT ROWID;"
    "CREATE TABLE batches(batch_id INTEGER PRIMARY KEY, committed_at TEXT NOT NULL,"
    "  num_input_rows INTEGER NOT NULL, num_rows_updated INTEGER NOT NULL,"
    "  num_rows_total INTEGER NOT NULL, total_words INTEGER NOT NULL, progress TEXT);" RECENT_SQL
    "CREATE VIEW top_words(word, count) AS SELECT word, count FROM leaders "
    "  ORDER BY count DESC, word;";

/* Run SQL that returns no rows. */
static int exec(struct wcs_state *st, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    wcs_err(err, errlen, "state: %s", msg ? msg : sqlite3_errmsg(st->db));
    sqlite3_free(msg);
    return -1;
}

/* Step a statement that was bound by the caller; reset it. SQLite code. */
static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
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

/* The name of the file SQLite keeps next to path's with suffix: next to
 * the target when path is a symlink, as SQLite resolves it. */
static void sibling(const char *path, const char *suffix, char *out, size_t outlen)
{
    char *real = realpath(path, NULL);
    snprintf(out, outlen, "%s%s", real ? real : path, suffix);
    free(real);
}

/* Whether the file with suffix next to path's (a WAL, a journal) holds
 * anything. */
static bool sibling_has_bytes(const char *path, const char *suffix)
{
    char name[PATH_MAX + 16];
    struct stat sb;
    sibling(path, suffix, name, sizeof(name));
    return stat(name, &sb) == 0 && sb.st_size > 0;
}

/* Refuse, without writing, any existing file that is not a SQLite file.
 * Returns 1 when there is no file or it is empty, 0 for an SQLite file. */
static int check_file(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (stat(path, &sb) < 0)
        return errno == ENOENT ? 1
                               : (wcs_err(err, errlen, "state %s: %s", path, strerror(errno)), -1);
    if (!S_ISREG(sb.st_mode)) {
        wcs_err(err, errlen, "state %s is not a regular file", path);
        return -1;
    }
    if (sb.st_size == 0)
        return 1;
    unsigned char head[18] = {0}; /* the magic string, the page size */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        wcs_err(err, errlen, "cannot read state %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, head, sizeof(head));
    close(fd);
    if (n != (ssize_t)sizeof(head) || memcmp(head, "SQLite format 3", 16) != 0) {
        wcs_err(err, errlen,
                "%s is not a wcstream state database (not an SQLite file); refusing to touch it",
                path);
        return -1;
    }
    /* SQLite writes whole pages. It refuses a file shorter than its header
     * says by a page or more, but reads a last page cut short as zeros, and
     * commits onto that damage. A checkpoint or a rollback cut short by a
     * full disk leaves such a page too, whole in the WAL or the journal
     * beside it, which SQLite then writes again. An invalid page size is
     * SQLite's to refuse. */
    unsigned page = (unsigned)head[16] << 8 | head[17];
    page = page == 1 ? 65536 : page;
    if (page >= 512 && (page & (page - 1)) == 0 && sb.st_size % page != 0 &&
        !sibling_has_bytes(path, "-wal") && !sibling_has_bytes(path, "-journal")) {
        wcs_err(err, errlen,
                "%s is not a wcstream state database (%lld bytes, not a whole number of its "
                "%u-byte pages: cut short?); refusing to touch it",
                path, (long long)sb.st_size, page);
        return -1;
    }
    return 0;
}

/* Make the open database a state. blank: the file held no byte before
 * (see the switch to WAL below). */
static int create_schema(struct wcs_state *st, bool blank, char *err, size_t errlen)
{
    char uuid[37], sql[256];
    wcs_uuid(uuid);
    snprintf(sql, sizeof(sql),
             "INSERT INTO meta VALUES('query_id', '%s'), ('created_at', "
             "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ'));"
             "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             uuid, WCS_APPLICATION_ID, WCS_STATE_SCHEMA_VERSION);
    /* Bigger pages: fewer B-tree levels and splits per upsert (measured
     * ~12% off a commit). Only takes effect before the first write. In a
     * blank file that is the switch to WAL: the transactions that make the
     * state then append to the WAL like any commit instead of each syncing
     * a rollback journal, its directory and the file (a state made and
     * closed: 7 syncs, not 10). A file with bytes in it (an SQLite
     * database with nothing in it) switches last, as a state does: should
     * making it fail, the transactions roll back and leave it as it was. */
    if (exec(st, "PRAGMA page_size = " XSTR(STATE_PAGE_SIZE), err, errlen) < 0 ||
        (blank && exec(st, "PRAGMA journal_mode = WAL", err, errlen) < 0) ||
        exec(st, "BEGIN IMMEDIATE", err, errlen) < 0)
        return -1;
    if (exec(st, schema_sql, err, errlen) < 0 || exec(st, sql, err, errlen) < 0 ||
        exec(st, "COMMIT", err, errlen) < 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* Decide whether the open database is ours (0), new (1: create_schema()
 * makes it a state), or someone else's (-1, err says why). */
static int adopt(struct wcs_state *st, const char *path, int64_t *version, char *err, size_t errlen)
{
    int64_t app_id = 0, objects = 0;
    *version = 0;
    if (query_int(st, "PRAGMA application_id", &app_id) < 0 ||
        query_int(st, "PRAGMA user_version", version) < 0 ||
        query_int(st, "SELECT count(*) FROM sqlite_schema", &objects) < 0) {
        int code = sqlite3_errcode(st->db) & 0xff; /* the primary code */
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            wcs_err(err, errlen, "%s is not a wcstream state database (%s); refusing to touch it",
                    path, sqlite3_errmsg(st->db));
        else if (code == SQLITE_READONLY) /* its -wal and -shm go next to it */
            wcs_err(err, errlen, "cannot write state %s: %s (its directory must be writable too)",
                    path, sqlite3_errmsg(st->db));
        else
            wcs_err(err, errlen, "cannot read state %s: %s", path, sqlite3_errmsg(st->db));
        return -1;
    }
    if (app_id == 0 && *version == 0 && objects == 0) {
        *version = WCS_STATE_SCHEMA_VERSION;
        return 1;
    }
    if (app_id != WCS_APPLICATION_ID) {
        wcs_err(err, errlen,
                "%s is an SQLite database of another application (application_id %" PRId64
                ", %" PRId64 " schema objects); refusing to touch it",
                path, app_id, objects);
        return -1;
    }
    if (*version > WCS_STATE_SCHEMA_VERSION) {
        wcs_err(err, errlen,
                "%s has state schema version %" PRId64
                ", newer than this wcstream understands (%d); refusing to touch it",
                path, *version, WCS_STATE_SCHEMA_VERSION);
        return -1;
    }
    if (*version < 1) { /* the versions start at 1: damage, or a hand */
        wcs_err(err, errlen,
                "%s has state schema version %" PRId64
                ", which no wcstream writes; the file is damaged, refusing to touch it",
                path, *version);
        return -1;
    }
    return 0;
}

static int prepare(struct wcs_state *st, sqlite3_stmt **s, const char *sql, char *err,
                   size_t errlen)
{
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) == SQLITE_OK)
        return 0;
    wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
    return -1;
}

/* Whether id (NULL, or 36 bytes and a NUL) is a UUID as wcs_uuid() writes
 * it: 8-4-4-4-12 hex digits. */
static bool uuid_shape(const unsigned char *id)
{
    for (int i = 0; id && i < 36; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23 ? id[i] != '-' : !isxdigit(id[i]))
            return false;
    return id != NULL;
}

/* Load the query id and the last batch's id and totals. */
static int load(struct wcs_state *st, char *err, size_t errlen)
{
    sqlite3_stmt *s = NULL;
    int rc =
        sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'query_id'", -1, &s, NULL);
    if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 36 &&
        uuid_shape(sqlite3_column_text(s, 0)))
        memcpy(st->query_id, sqlite3_column_text(s, 0), 37);
    sqlite3_finalize(s);
    if (!st->query_id[0]) {
        wcs_err(err, errlen, "state has no query id; the file is damaged");
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
        wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    /* Batch ids count up from 0; the next one must exist too. */
    if (rc == SQLITE_ROW && (st->last_batch < 0 || st->last_batch == INT64_MAX)) {
        wcs_err(err, errlen,
                "state's last batch id %" PRId64 " is out of range; the file is damaged",
                st->last_batch);
        return -1;
    }
    return 0;
}

/* Copy the current row of a (word, count) query into an arena. */
static int column_row(sqlite3_stmt *s, struct wcs_arena *a, struct wcs_row *row)
{
    size_t len = (size_t)sqlite3_column_bytes(s, 0);
    const void *w = sqlite3_column_blob(s, 0);
    char *copy = wcs_arena_dup(a, w ? w : "", len);
    if (!copy)
        return -1;
    *row = (struct wcs_row){.word = copy, .len = len, .count = sqlite3_column_int64(s, 1)};
    return 0;
}

/* Call fn with the (word, count) rows of query sql, at most n at a time
 * (borrowed for the call). SQLITE_DONE when every row went through;
 * SQLITE_ABORT when fn returned nonzero; another SQLite code on error. */
static int scan_rows(struct wcs_state *st, const char *sql, size_t n,
                     int (*fn)(void *arg, const struct wcs_row *rows, size_t n), void *arg)
{
    sqlite3_stmt *s = NULL;
    struct wcs_arena words = {0};
    struct wcs_row *rows = malloc(n * sizeof(*rows));
    size_t k = 0;
    int rc = rows ? sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) : SQLITE_NOMEM;
    while (rc == SQLITE_OK) {
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW && column_row(s, &words, &rows[k]) < 0)
            step = SQLITE_NOMEM;
        if (step == SQLITE_ROW && ++k < n)
            continue;
        if (k && (step == SQLITE_ROW || step == SQLITE_DONE) && fn(arg, rows, k) != 0)
            step = SQLITE_ABORT;
        k = 0;
        wcs_arena_reset(&words);
        if (step != SQLITE_ROW)
            rc = step;
    }
    sqlite3_finalize(s);
    wcs_arena_free(&words);
    free(rows);
    return rc;
}

struct fold {
    struct wcs_topk *top;
    struct wcs_row *buf; /* room for a block and the top */
};

static int fold_block(void *arg, const struct wcs_row *rows, size_t n)
{
    struct fold *f = arg;
    memcpy(f->buf, rows, n * sizeof(*rows));
    memcpy(f->buf + n, f->top->rows, f->top->n * sizeof(*rows));
    return wcs_topk_set(f->top, f->buf, n + f->top->n);
}

/* Fold the rows of query `sql` into st->top, a block at a time. */
static int fold_rows(struct wcs_state *st, const char *sql, char *err, size_t errlen)
{
    enum { BLOCK = 65536 };
    struct fold f = {&st->top, malloc((BLOCK + st->top.k) * sizeof(*f.buf))};
    int rc = f.buf ? scan_rows(st, sql, BLOCK, fold_block, &f) : SQLITE_NOMEM;
    free(f.buf);
    if (rc != SQLITE_DONE) {
        wcs_err(err, errlen, "state: cannot read the top counts: %s",
                sqlite3_errstr(rc == SQLITE_ABORT ? SQLITE_NOMEM : rc));
        return -1;
    }
    return 0;
}

/* Write a row of the leaders table, or delete it (drop). An SQLite code. */
static int write_leader(void *arg, const struct wcs_row *row, bool drop)
{
    struct wcs_state *st = arg;
    sqlite3_stmt *s = drop ? st->lead_del : st->lead_put;
    sqlite3_bind_text(s, 1, row->word, (int)row->len, SQLITE_STATIC);
    if (!drop)
        sqlite3_bind_int64(s, 2, row->count);
    return step_done(s);
}

/* Load the persisted top-k; when it was kept for a smaller k (or not at
 * all), rebuild it from every count once, and set *rebuilt: settle()
 * persists it. */
static int load_top(struct wcs_state *st, size_t k, bool *rebuilt, char *err, size_t errlen)
{
    *rebuilt = false;
    int64_t kept = 0;
    if (query_int(st, "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'top_k'", &kept) < 0) {
        wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    if (kept > WCS_TOPK_MAX) { /* kept before numRows had a bound: build it again */
        wcs_info("state: a top %" PRId64 " was kept, more than any sink may ask for (%d)", kept,
                 WCS_TOPK_MAX);
        kept = 0;
    }
    if (kept > (int64_t)k)
        k = (size_t)kept; /* never shrink: leaders past k would go stale */
    if (wcs_topk_init(&st->top, k) < 0 || wcs_topk_init(&st->next, k) < 0) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    if (kept >= (int64_t)k)
        return fold_rows(st, "SELECT word, count FROM leaders", err, errlen);
    if (st->distinct > 0)
        wcs_info("state: building the top %zu from %" PRId64 " counts (once)", k, st->distinct);
    *rebuilt = true;
    return fold_rows(st, "SELECT word, count FROM word_counts", err, errlen);
}

/* Compile the statements that read or write recent. */
static int prepare_recent(struct wcs_state *st, char *err, size_t errlen)
{
    /* The stored count of a word in recent is its row there; counts is
     * only read for the others. */
    if (prepare(st, &st->get, "SELECT count FROM word_counts WHERE word = ?1", err, errlen) < 0 ||
        prepare(st, &st->lookup_both,
                "SELECT r.count, CASE WHEN r.count IS NULL THEN "
                "(SELECT count FROM counts WHERE word = b.word) END "
                "FROM wcs_batch AS b LEFT JOIN recent AS r ON r.word = b.word",
                err, errlen) < 0 ||
        prepare(st, &st->apply_recent,
                UPSERT("recent", "SELECT word, total FROM wcs_batch WHERE true"), err,
                errlen) < 0 ||
        prepare(st, &st->move_end,
                "SELECT max(word) FROM "
                "(SELECT word FROM recent WHERE " AFTER_FROM " ORDER BY word LIMIT ?2)",
                err, errlen) < 0 ||
        prepare(
            st, &st->move,
            UPSERT("counts", "SELECT word, count FROM recent WHERE " AFTER_FROM " AND word <= ?2"),
            err, errlen) < 0 ||
        prepare(st, &st->move_drop, "DELETE FROM recent WHERE " AFTER_FROM " AND word <= ?2", err,
                errlen) < 0)
        return -1;
    return 0;
}

/* Version 3 keeps a Kafka partition's offset under "kafka:TOPIC"; before,
 * a source of several topics kept them under "kafka:" and its list. Topic
 * names hold no '/', so "TOPIC/N" names the topic. */
#define KAFKA_PER_TOPIC_SQL                                                                        \
    "INSERT OR IGNORE INTO offsets(source, partition, offset) "                                    \
    "  SELECT 'kafka:' || substr(partition, 1, instr(partition, '/') - 1), partition, offset "     \
    "  FROM offsets WHERE source GLOB 'kafka:*,*';"                                                \
    "DELETE FROM offsets WHERE source GLOB 'kafka:*,*';"

/* The writes of opening, in one transaction after every check, so that a
 * file refused by a check was never written: the upgrade of an older
 * version (1 had no recent table; 1 and 2 kept Kafka offsets by topic
 * list) and a rebuilt top-k. The statements over recent, which the upgrade
 * creates, compile inside it: should one fail (a damaged recent), the
 * writes roll back. */
static int settle(struct wcs_state *st, int64_t version, bool rebuilt, char *err, size_t errlen)
{
    _Static_assert(WCS_STATE_SCHEMA_VERSION == 3, "an upgrade per version");
    bool upgrade = version < WCS_STATE_SCHEMA_VERSION, write = upgrade || rebuilt;
    char top_k[96];
    snprintf(top_k, sizeof(top_k), "REPLACE INTO meta VALUES('top_k', %zu)", st->top.k);
    int rc = write ? exec(st, "BEGIN IMMEDIATE", err, errlen) : 0;
    if (rc == 0 && version < 2)
        rc = exec(st, "DROP VIEW word_counts;" RECENT_SQL, err, errlen);
    if (rc == 0 && upgrade)
        rc = exec(st, KAFKA_PER_TOPIC_SQL "PRAGMA user_version = 3", err, errlen);
    if (rc == 0 && rebuilt)
        rc = exec(st, "DELETE FROM leaders", err, errlen);
    for (size_t i = 0; rc == 0 && rebuilt && i < st->top.n; i++)
        if (write_leader(st, &st->top.rows[i], false) != SQLITE_OK) {
            wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
            rc = -1;
        }
    if (rc == 0 && rebuilt)
        rc = exec(st, top_k, err, errlen);
    if (rc == 0)
        rc = prepare_recent(st, err, errlen);
    if (rc == 0 && write)
        rc = exec(st, "COMMIT", err, errlen);
    if (rc < 0) {
        if (write)
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (upgrade)
        wcs_info("state: schema version %" PRId64 " upgraded to %d (%sKafka offsets per topic)",
                 version, WCS_STATE_SCHEMA_VERSION, version < 2 ? "the recent table, " : "");
    return 0;
}

/* Give SQLite its page cache (see PAGE_CACHE_PAGES). Only possible before
 * SQLite initializes; failing that, it mallocs its pages as it would. */
static void page_cache_setup(void)
{
    int hdr = 0;
    if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK)
        return;
    size_t slot = (STATE_PAGE_SIZE + (size_t)hdr + 7) & ~(size_t)7;
    size_t len = slot * PAGE_CACHE_PAGES;
    void *pool = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pool == MAP_FAILED)
        return;
    wcs_prefault(pool, len);
    if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, pool, (int)slot, PAGE_CACHE_PAGES) != SQLITE_OK)
        munmap(pool, len);
}

/* SQLite's configuration, before it initializes. --state is a path: with
 * URI names on (Debian's SQLite has them on by default), `file:x.db` was
 * opened as x.db while the lock, the file checks and the sources' own-file
 * checks looked at a file named `file:x.db`, so a second process on x.db
 * was not refused and both wrote one state. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_URI, 0);
    page_cache_setup();
}

/* sqlite3_open_v2() for every connection of this file, the first after
 * sqlite_setup(). */
static int db_open(const char *path, sqlite3 **db, int flags)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    return sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
}

/* The files SQLite keeps next to the state's: suffix, what it holds. */
static const char *const sqlite_files[][2] = {
    {"-journal", "journal"}, {"-wal", "write-ahead log"}, {"-shm", "shared memory"}};
#define N_SQLITE_FILES (sizeof(sqlite_files) / sizeof(sqlite_files[0]))

/* Anything but a file in their place (a directory, a FIFO) would make
 * every write fail, so it is refused before the state is opened; so is
 * one this process may not read and write (left by another user, say
 * root): SQLite would open the state, read it, and then fail every
 * commit as "a readonly database", retried for ever. */
static int check_siblings(const char *path, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_SQLITE_FILES; i++) {
        char name[PATH_MAX + 16];
        struct stat sb;
        sibling(path, sqlite_files[i][0], name, sizeof(name));
        if (stat(name, &sb) < 0)
            continue;
        if (!S_ISREG(sb.st_mode)) {
            wcs_err(err, errlen,
                    "cannot use state %s: %s is not a regular file (SQLite keeps its %s there); "
                    "move it away",
                    path, name, sqlite_files[i][1]);
            return -1;
        }
        if (access(name, R_OK | W_OK) < 0 && errno != EROFS) { /* said of the state itself */
            wcs_err(err, errlen, "cannot write state %s: %s: %s (SQLite keeps its %s there)", path,
                    name, strerror(errno), sqlite_files[i][1]);
            return -1;
        }
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Whether the rollback journal open at fd saved a file that held nothing:
 * none (no page before the transaction), or a blank first page only (no
 * application_id, no user_version, no schema), which a 1-page journal
 * holds as its first record. */
static bool journal_saved_nothing(int fd)
{
    static const unsigned char magic[8] = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7};
    unsigned char head[28]; /* magic, records, nonce, pages before, sector size, page size */
    if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
        memcmp(head, magic, sizeof(magic)) != 0)
        return true; /* not hot: SQLite ignores it */
    uint32_t pages = be32(head + 16), sector = be32(head + 20);
    if (pages == 0)
        return true;
    unsigned char rec[4 + 105]; /* page number, page 1 up to its cell count */
    if (pages > 1 || sector < sizeof(head) || sector > 65536 ||
        pread(fd, rec, sizeof(rec), sector) != (ssize_t)sizeof(rec) || be32(rec) != 1)
        return false;
    const unsigned char *page = rec + 4;
    return be32(page + 60) == 0 && be32(page + 68) == 0 && page[103] == 0 && page[104] == 0;
}

/* A rollback journal next to the file is hot when its writer died in a
 * transaction: the first read on a connection that may write rolls it
 * back, rewriting the file, before anything can tell whose file it is.
 * Where the file held anything before that transaction, it may be
 * someone's data: refused (-1, err says why) unless a connection that
 * cannot write reads it, which it does only if the journal is not hot. A
 * file that held nothing (a state whose making failed half-way) is rolled
 * back and judged as usual (0). */
static int check_journal(const char *path, char *err, size_t errlen)
{
    char journal[PATH_MAX + 16];
    sibling(path, "-journal", journal, sizeof(journal));
    int fd = open(journal, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    bool nothing = journal_saved_nothing(fd);
    close(fd);
    if (nothing)
        return 0;
    sqlite3 *ro = NULL;
    int rc = db_open(path, &ro, SQLITE_OPEN_READONLY);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(ro, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        wcs_err(err, errlen,
                "%s has a rollback journal left by a writer that stopped mid-transaction (%s); "
                "refusing to touch it: the program that wrote it, or the sqlite3 shell, "
                "recovers it",
                path, ro ? sqlite3_errmsg(ro) : sqlite3_errstr(rc));
    sqlite3_close(ro);
    return rc == SQLITE_OK ? 0 : -1;
}

/* One process at a time: an exclusive flock() on the file, taken before
 * anything reads it (another process may be making it) and held until
 * wcs_state_close() closes it after SQLite's connections (closing any
 * descriptor of the file drops the process's POSIX locks, SQLite's own).
 * The sqlite3 shell and other readers take no flock(): they still read.
 * A file made here is remembered in st->made. */
static int lock_state(struct wcs_state *st, const char *path, char *err, size_t errlen)
{
    int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC; /* a FIFO is refused after, not waited on */
    st->lock_fd = open(path, flags | O_CREAT | O_EXCL, 0644);
    bool made = st->lock_fd >= 0;
    bool named = !made && errno == EEXIST; /* a name there, maybe a dangling symlink */
    if (named)
        st->lock_fd = open(path, flags);
    if (st->lock_fd < 0) {
        if (errno == EISDIR)
            wcs_err(err, errlen, "state %s is not a regular file", path);
        else if (errno == ENOENT && named)
            wcs_err(err, errlen, "state %s is a symbolic link to a file that does not exist", path);
        else
            wcs_err(err, errlen, "cannot open state %s: %s", path, strerror(errno));
        return -1;
    }
    /* Made here but locked first by another process: the file is its. */
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            wcs_err(err, errlen, "state %s is in use by another wcstream process", path);
        else
            wcs_err(err, errlen, "cannot lock state %s: %s", path, strerror(errno));
        return -1;
    }
    if (made && !(st->made = strdup(path))) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* The SQLite errors of opening say "state: ..." (exec() and the like),
 * which names no file: a state missing a table says "no such table". */
static void name_state(const char *path, char *err, size_t errlen)
{
    static const char generic[] = "state: ";
    if (strncmp(err, generic, sizeof(generic) - 1) != 0)
        return;
    char *why = strdup(err + sizeof(generic) - 1);
    if (why)
        wcs_err(err, errlen, "state %s: %s", path, why);
    free(why);
}

struct wcs_state *wcs_state_open(const char *path, const char *synchronous, size_t top_k, char *err,
                                 size_t errlen)
{
    bool memory = strcmp(path, ":memory:") == 0;
    struct wcs_state *st = calloc(1, sizeof(*st));
    if (!st) {
        wcs_err(err, errlen, "out of memory");
        return NULL;
    }
    st->lock_fd = -1;
    if (!memory && lock_state(st, path, err, errlen) < 0)
        goto fail;
    int blank = memory ? 1 : check_file(path, err, errlen); /* 1: no byte there yet */
    if (blank < 0 || (!memory && check_siblings(path, err, errlen) < 0) ||
        (blank == 0 && check_journal(path, err, errlen) < 0))
        goto fail;
    int rc = db_open(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    if (rc != SQLITE_OK) {
        wcs_err(err, errlen, "cannot open state %s: %s", path,
                st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto fail;
    }
    /* SQLite opens what it may not write read-only; access() says why. */
    int unwritable = !memory && access(path, W_OK) < 0          ? errno
                     : sqlite3_db_readonly(st->db, "main") == 1 ? EACCES
                                                                : 0;
    if (unwritable) { /* EACCES, EROFS */
        wcs_err(err, errlen, "cannot write state %s: %s", path, strerror(unwritable));
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);
    /* A WAL left by another connection may be someone else's: until the
     * file is known to be ours, closing must not checkpoint it into it. */
    char wal[PATH_MAX + 16];
    sibling(path, "-wal", wal, sizeof(wal));
    bool had_wal = !memory && access(wal, F_OK) == 0;
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, had_wal, NULL);
    int64_t version;
    int fresh = adopt(st, path, &version, err, errlen);
    if (fresh < 0)
        goto fail;
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA synchronous = %s;", synchronous ? synchronous : "normal");
    if (exec(st, sql, err, errlen) < 0 ||
        exec(st, "PRAGMA cache_size = " XSTR(PAGE_CACHE_PAGES), err, errlen) < 0 ||
        (fresh && create_schema(st, blank, err, errlen) < 0))
        goto fail;
    /* Until the file has shown itself a whole state (its meta and batches
     * read, the statements compile against its tables, the top rows and
     * recent load) nothing writes to it. Then settle() writes what opening
     * has to in one transaction, which rolls back if the statements over
     * recent do not compile: a damaged file is refused untouched.
     * Switching to WAL rewrites the header, so it comes last (a state
     * made in a blank file is in WAL mode from its first write:
     * create_schema()). */
    if (load(st, err, errlen) < 0)
        goto fail;
    if (sqlite3_create_module_v2(st->db, "wcs_batch", &batch_module, st, NULL) != SQLITE_OK) {
        wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        goto fail;
    }
    if (prepare(st, &st->lookup,
                "SELECT NULL, c.count FROM wcs_batch AS b LEFT JOIN counts AS c ON c.word = b.word",
                err, errlen) < 0 ||
        prepare(st, &st->apply, UPSERT("counts", "SELECT word, total FROM wcs_batch WHERE true"),
                err, errlen) < 0 ||
        prepare(st, &st->delivered, "REPLACE INTO meta VALUES('delivered:' || ?1, ?2)", err,
                errlen) < 0 ||
        prepare(st, &st->offset,
                "INSERT INTO offsets(source, partition, offset) VALUES(?1, ?2, ?3) "
                "ON CONFLICT(source, partition) DO UPDATE SET offset = excluded.offset",
                err, errlen) < 0 ||
        prepare(st, &st->offset_del, "DELETE FROM offsets WHERE source = ?1 AND partition = ?2",
                err, errlen) < 0 ||
        /* The record was printed before this commit: its totals are set here. */
        prepare(st, &st->batch,
                "INSERT INTO batches VALUES(?1, strftime('%Y-%m-%dT%H:%M:%fZ'), ?2, ?3, ?4, ?5, "
                "json_replace(?6, '$.stateOperators[0].numRowsTotal', ?4, "
                "'$.stateOperators[0].totalWords', ?5))",
                err, errlen) < 0 ||
        prepare(st, &st->forget, "DELETE FROM batches WHERE batch_id <= ?1", err, errlen) < 0 ||
        prepare(st, &st->lead_put, "REPLACE INTO leaders(word, count) VALUES(?1, ?2)", err,
                errlen) < 0 ||
        prepare(st, &st->lead_del, "DELETE FROM leaders WHERE word = ?1", err, errlen) < 0)
        goto fail;
    bool rebuilt;
    if (load_top(st, top_k < WCS_STATE_TOP_MIN ? WCS_STATE_TOP_MIN : top_k, &rebuilt, err, errlen) <
        0)
        goto fail;
    if (version > 1 && query_int(st, "SELECT count(*) FROM recent", &st->n_recent) < 0) {
        wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        goto fail;
    }
    if (settle(st, version, rebuilt, err, errlen) < 0)
        goto fail;
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    if (exec(st, "PRAGMA journal_mode = WAL", err, errlen) < 0)
        goto fail;
    /* Checkpoint every 32 frames (512 KiB), not SQLite's 1,000: each
     * checkpoint is then small, instead of one batch in eighty paying 40 ms
     * for all of them (measured with the latency probe of tests/bench).
     * wcs_state_checkpoint_behind() moves them off the commits. */
    sqlite3_wal_autocheckpoint(st->db, WAL_CHECKPOINT_FRAMES);
    return st;
fail:
    name_state(path, err, errlen);
    wcs_state_discard(st);
    return NULL;
}

/* Stop the thread if it runs, close its connection. Accepts NULL. */
static void checkpointer_free(struct checkpointer *ck)
{
    if (!ck)
        return;
    if (ck->started) {
        pthread_mutex_lock(&ck->mu);
        ck->quit = true;
        pthread_cond_signal(&ck->cv);
        pthread_mutex_unlock(&ck->mu);
        pthread_join(ck->thread, NULL);
    }
    sqlite3_close(ck->db);
    pthread_cond_destroy(&ck->cv);
    pthread_mutex_destroy(&ck->mu);
    free(ck);
}

void wcs_state_close(struct wcs_state *st)
{
    if (!st)
        return;
    checkpointer_free(st->ck); /* before the last connection, which checkpoints */
    sqlite3_finalize(st->get);
    sqlite3_finalize(st->lookup);
    sqlite3_finalize(st->lookup_both);
    sqlite3_finalize(st->apply);
    sqlite3_finalize(st->apply_recent);
    sqlite3_finalize(st->move_end);
    sqlite3_finalize(st->move);
    sqlite3_finalize(st->move_drop);
    wcs_buf_free(&st->move_from);
    sqlite3_finalize(st->delivered);
    sqlite3_finalize(st->offset);
    sqlite3_finalize(st->offset_del);
    sqlite3_finalize(st->batch);
    sqlite3_finalize(st->forget);
    sqlite3_finalize(st->lead_put);
    sqlite3_finalize(st->lead_del);
    sqlite3_close(st->db);
    if (st->discard && st->made) { /* still under the lock */
        for (size_t i = 0; i < N_SQLITE_FILES; i++) {
            char name[PATH_MAX + 16];
            sibling(st->made, sqlite_files[i][0], name, sizeof(name));
            unlink(name);
        }
        unlink(st->made);
    }
    free(st->made);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    wcs_topk_free(&st->top);
    wcs_topk_free(&st->next);
    free(st->rows);
    free(st->delta);
    free(st);
}

void wcs_state_discard(struct wcs_state *st)
{
    if (st)
        st->discard = true;
    wcs_state_close(st);
}

/* The checkpointer's loop: one PASSIVE checkpoint per wake-up. PASSIVE
 * takes no lock a commit needs, so the committer goes on appending to the
 * WAL meanwhile; a commit that starts after a run that copied every frame
 * starts the WAL over from its beginning. A failed run (a full disk) is
 * retried after the next commit; the WAL keeps the batches until then. */
static void *checkpointer_main(void *arg)
{
    struct checkpointer *ck = arg;
    bool failing = false;
    pthread_mutex_lock(&ck->mu);
    for (;;) {
        while (ck->done == ck->asked && !ck->quit)
            pthread_cond_wait(&ck->cv, &ck->mu);
        if (ck->quit)
            break;
        uint64_t asked = ck->asked;
        pthread_mutex_unlock(&ck->mu);
        int rc = sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        bool failed = rc != SQLITE_OK && rc != SQLITE_BUSY; /* BUSY: someone else's, not a fault */
        if (failed && !failing)
            wcs_warn("state: checkpoint: %s; the WAL holds the batches until one succeeds",
                     sqlite3_errmsg(ck->db));
        failing = failed;
        pthread_mutex_lock(&ck->mu);
        ck->done = asked;
        pthread_cond_broadcast(&ck->cv);
    }
    pthread_mutex_unlock(&ck->mu);
    return NULL;
}

/* Ask for a run (ask) and/or wait until every run asked for is done. */
static void checkpoint_run(struct checkpointer *ck, bool ask, bool wait)
{
    pthread_mutex_lock(&ck->mu);
    if (ask) {
        ck->asked++;
        pthread_cond_signal(&ck->cv);
    }
    while (wait && ck->done < ck->asked)
        pthread_cond_wait(&ck->cv, &ck->mu);
    pthread_mutex_unlock(&ck->mu);
}

/* SQLite's hook after each commit of the main connection, in place of its
 * auto-checkpoint: the checkpointer runs once WAL_CHECKPOINT_FRAMES wait. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db, (void)name;
    struct wcs_state *st = arg;
    st->wal_frames = frames;
    if (frames >= WAL_CHECKPOINT_FRAMES)
        checkpoint_run(st->ck, true, false);
    return SQLITE_OK;
}

int wcs_state_checkpoint_behind(struct wcs_state *st, char *err, size_t errlen)
{
    const char *path = sqlite3_db_filename(st->db, "main");
    if (st->ck || !path || !*path) /* a state in memory has no WAL */
        return 0;
    int64_t sync = 1; /* NORMAL, should the pragma say nothing */
    if (query_int(st, "PRAGMA synchronous", &sync) < 0) {
        wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    struct checkpointer *ck = calloc(1, sizeof(*ck));
    if (!ck) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&ck->mu, NULL);
    pthread_cond_init(&ck->cv, NULL);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA synchronous = %" PRId64, sync); /* its syncs are the ones */
    int rc = db_open(path, &ck->db, SQLITE_OPEN_READWRITE);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(ck->db, 1);
        sqlite3_db_config(ck->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        rc = sqlite3_exec(ck->db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        wcs_err(err, errlen, "state: the checkpointer's connection: %s",
                ck->db ? sqlite3_errmsg(ck->db) : sqlite3_errstr(rc));
        checkpointer_free(ck);
        return -1;
    }
    int e = pthread_create(&ck->thread, NULL, checkpointer_main, ck);
    if (e) {
        wcs_err(err, errlen, "cannot start the checkpointer thread: %s", strerror(e));
        checkpointer_free(ck);
        return -1;
    }
    ck->started = true;
    st->ck = ck;
    sqlite3_wal_hook(st->db, on_wal_commit, st); /* replaces the auto-checkpoint */
    return 0;
}

void wcs_state_checkpoint(struct wcs_state *st)
{
    if (st->ck)
        checkpoint_run(st->ck, true, true);
    else
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
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
        wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
    int rc, r = 0;
    while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW)
        r = fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1));
    if (r == 0 && rc != SQLITE_DONE) {
        wcs_err(err, errlen, "state: %s", sqlite3_errmsg(st->db));
        r = -1;
    }
    sqlite3_finalize(s);
    return r;
}

static bool grow_staging(struct wcs_state *st, size_t n)
{
    if (n <= st->rows_cap)
        return true;
    size_t cap = n + n / 4;
    struct wcs_row *rows = realloc(st->rows, cap * sizeof(*rows));
    if (rows)
        st->rows = rows;
    int64_t *delta = realloc(st->delta, cap * sizeof(*delta));
    if (delta)
        st->delta = delta;
    if (!rows || !delta)
        return false;
    wcs_prefault(rows + st->rows_cap, (n - st->rows_cap) * sizeof(*rows)); /* staged next */
    wcs_prefault(delta + st->rows_cap, (n - st->rows_cap) * sizeof(*delta));
    st->rows_cap = cap;
    return true;
}

/* A merge of the sets, each in key order: the least of their heads is the
 * next row, its delta summed over the sets that hold it. */
int wcs_state_stage(struct wcs_state *st, const struct wcs_group_set *sets, size_t nsets,
                    size_t *distinct, char *err, size_t errlen)
{
    size_t n = 0, at[WCS_STATE_MAX_SETS] = {0};
    for (size_t s = 0; s < nsets; s++)
        n += sets[s].n;
    st->n_rows = 0;
    st->staged = false;
    if (nsets > WCS_STATE_MAX_SETS) {
        wcs_err(err, errlen, "state: a batch in %zu sets; at most %d", nsets, WCS_STATE_MAX_SETS);
        return -1;
    }
    if (!grow_staging(st, n)) {
        wcs_err(err, errlen, "state: out of memory for a batch of %zu words", n);
        return -1;
    }
    size_t m = 0;
    for (const struct wcs_group *last = NULL;;) {
        const struct wcs_group *min = NULL;
        uint64_t tied = 0; /* the sets whose head is min */
        int64_t delta = 0;
        for (size_t s = 0; s < nsets; s++) {
            if (at[s] == sets[s].n)
                continue;
            const struct wcs_group *g = &sets[s].v[at[s]];
            int c = min ? wcs_group_cmp(g, min) : -1;
            if (c < 0)
                min = g, tied = 0, delta = 0;
            if (c <= 0)
                tied |= (uint64_t)1 << s, delta += g->delta;
        }
        if (!min)
            break;
        if (last && wcs_group_cmp(last, min) >= 0) {
            wcs_err(err, errlen, "state: a set of the batch's words is not in key order");
            return -1;
        }
        for (size_t s = 0; s < nsets; s++) {
            if (!(tied >> s & 1))
                continue;
            if (++at[s] + 16 < sets[s].n) /* the heads' words are scattered: fetch ahead */
                __builtin_prefetch(sets[s].v[at[s] + 16].word);
        }
        st->rows[m] = (struct wcs_row){.word = min->len ? min->word : "", .len = min->len};
        st->delta[m++] = delta;
        last = min;
    }
    st->n_rows = m;
    st->staged = true;
    *distinct = m;
    return 0;
}

const struct wcs_row *wcs_state_updated(const struct wcs_state *st, size_t *n)
{
    *n = st->n_rows;
    return st->rows;
}

/*
 * wcs_batch: the batch being committed as an eponymous virtual table
 * (word, total) over st->rows, in key order. A batch is then
 * looked up and written by two statements instead of two per word; the
 * per-statement cost was half of the commit.
 */
struct batch_vtab {
    sqlite3_vtab base;
    struct wcs_state *st;
};

struct batch_cursor {
    sqlite3_vtab_cursor base;
    struct wcs_state *st;
    size_t i;
};

static int batch_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **err)
{
    (void)argc, (void)argv, (void)err;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(word TEXT, total INTEGER)");
    struct batch_vtab *v = rc == SQLITE_OK ? sqlite3_malloc(sizeof(*v)) : NULL;
    if (!v)
        return rc == SQLITE_OK ? SQLITE_NOMEM : rc;
    *v = (struct batch_vtab){.st = aux};
    *out = &v->base;
    return SQLITE_OK;
}

static int batch_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int batch_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    info->estimatedCost = 1e6; /* a full scan, the only way it is read */
    return SQLITE_OK;
}

static int batch_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    struct batch_cursor *c = sqlite3_malloc(sizeof(*c));
    if (!c)
        return SQLITE_NOMEM;
    *c = (struct batch_cursor){.st = ((struct batch_vtab *)v)->st};
    *out = &c->base;
    return SQLITE_OK;
}

static int batch_close(sqlite3_vtab_cursor *c)
{
    sqlite3_free(c);
    return SQLITE_OK;
}

static int batch_filter(sqlite3_vtab_cursor *c, int idx, const char *idx_str, int argc,
                        sqlite3_value **argv)
{
    (void)idx, (void)idx_str, (void)argc, (void)argv;
    ((struct batch_cursor *)c)->i = 0;
    return SQLITE_OK;
}

static int batch_next(sqlite3_vtab_cursor *c)
{
    ((struct batch_cursor *)c)->i++;
    return SQLITE_OK;
}

static int batch_eof(sqlite3_vtab_cursor *c)
{
    const struct batch_cursor *bc = (const struct batch_cursor *)c;
    return bc->i >= bc->st->n_rows;
}

static int batch_column(sqlite3_vtab_cursor *c, sqlite3_context *ctx, int col)
{
    const struct batch_cursor *bc = (const struct batch_cursor *)c;
    const struct wcs_row *r = &bc->st->rows[bc->i];
    if (col == 0)
        sqlite3_result_text(ctx, r->word, (int)r->len, SQLITE_STATIC);
    else
        sqlite3_result_int64(ctx, r->count);
    return SQLITE_OK;
}

static int batch_rowid(sqlite3_vtab_cursor *c, sqlite3_int64 *rowid)
{
    *rowid = (sqlite3_int64)((struct batch_cursor *)c)->i;
    return SQLITE_OK;
}

static const sqlite3_module batch_module = {
    .xConnect = batch_connect, /* no xCreate: eponymous only */
    .xBestIndex = batch_best_index,
    .xDisconnect = batch_disconnect,
    .xDestroy = batch_disconnect,
    .xOpen = batch_open,
    .xClose = batch_close,
    .xFilter = batch_filter,
    .xNext = batch_next,
    .xEof = batch_eof,
    .xColumn = batch_column,
    .xRowid = batch_rowid,
};

/* Write the rows that differ between the committed top-k and st->next. */
static int write_leaders(struct wcs_state *st)
{
    int rc = wcs_topk_diff(&st->top, &st->next, write_leader, st);
    return rc == -ENOMEM ? SQLITE_NOMEM : rc;
}

/* ?1 and ?3 of the move statements (AFTER_FROM). */
static void bind_from(sqlite3_stmt *s, const struct wcs_state *st)
{
    bool set = st->move_from_set;
    sqlite3_bind_text(s, 1, set && st->move_from.len ? st->move_from.data : "",
                      set ? (int)st->move_from.len : 0, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 3, !set);
}

/* Move rows of recent to counts: the next `limit` after st->move_from in
 * key order, wrapping round at the end, or all of them (-1). *moved gets
 * how many. An SQLite code. */
static int move_recent(struct wcs_state *st, int64_t limit, int64_t *moved)
{
    *moved = 0;
    if (limit < 0) /* all of it: from the first row, not from the cursor */
        st->move_from_set = false;
    for (int pass = 0; pass < 2; pass++) {
        bind_from(st->move_end, st);
        sqlite3_bind_int64(st->move_end, 2, limit);
        int rc = sqlite3_step(st->move_end);
        if (rc != SQLITE_ROW) {
            sqlite3_reset(st->move_end);
            return rc;
        }
        if (sqlite3_column_type(st->move_end, 0) == SQLITE_NULL) { /* none after from */
            sqlite3_reset(st->move_end);
            if (!st->move_from_set)
                return SQLITE_OK;
            st->move_from_set = false;
            continue;
        }
        const char *end = (const char *)sqlite3_column_text(st->move_end, 0);
        int end_len = sqlite3_column_bytes(st->move_end, 0);
        sqlite3_stmt *s[] = {st->move, st->move_drop};
        for (int i = 0; i < 2; i++) {
            bind_from(s[i], st);
            sqlite3_bind_text(s[i], 2, end, end_len, SQLITE_TRANSIENT);
        }
        st->move_from.len = 0; /* a failed copy restarts from the first row: no harm */
        st->move_from_set = wcs_buf_append(&st->move_from, end, (size_t)end_len) == 0;
        sqlite3_reset(st->move_end);
        if ((rc = step_done(st->move)) == SQLITE_OK && (rc = step_done(st->move_drop)) == SQLITE_OK)
            *moved = sqlite3_changes64(st->db);
        return rc;
    }
    return SQLITE_OK;
}

int wcs_state_commit(struct wcs_state *st, int64_t batch_id, const struct wcs_offsets *offs,
                     uint64_t input_rows, const char *progress_json, char *err, size_t errlen)
{
    if (batch_id != st->last_batch + 1) {
        wcs_err(err, errlen, "state: batch %" PRId64 " does not follow committed batch %" PRId64,
                batch_id, st->last_batch);
        return -1;
    }
    if (!st->staged) {
        wcs_err(err, errlen, "state: batch %" PRId64 " was not staged", batch_id);
        return -1;
    }
    /* A commit starts the WAL over only if, when it begins, the checkpointer
     * has copied all of it; commits in a row never wait for that. Past
     * WCS_STATE_WAL_MAX_FRAMES, wait for the run the last commit asked for. */
    if (st->ck && st->wal_frames > WCS_STATE_WAL_MAX_FRAMES)
        checkpoint_run(st->ck, false, true);
    size_t n = st->n_rows;
    struct wcs_row *rows = st->rows;
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    /* A state deleted, renamed or replaced while the service runs is still
     * open here, and SQLite would go on committing to a file no path names
     * (all lost at the stop, or kept in a WAL beside no state): refuse the
     * commit, so that the batch is retried (the file moved back, it goes
     * on) and a stop exits 1, instead of reporting batches committed. */
    int gone = 0;
    if (rc == SQLITE_OK && st->lock_fd >= 0 &&
        sqlite3_file_control(st->db, "main", SQLITE_FCNTL_HAS_MOVED, &gone) == SQLITE_OK && gone)
        rc = SQLITE_CANTOPEN;
    int64_t distinct = st->distinct, total = st->total, n_recent = st->n_recent, moved = 0;
    bool empty = st->distinct == 0; /* every word is new: no lookups */
    bool small = n <= RECENT_MIN || (int64_t)n <= st->distinct / ROWS_PER_PAGE;
    sqlite3_stmt *lookup = n_recent ? st->lookup_both : st->lookup;
    /* The new totals, in key order: the stored count (read for the whole
     * batch by one statement; column 0 from recent, 1 from counts) plus the
     * delta. */
    for (size_t k = 0; rc == SQLITE_OK && k < n; k++) {
        int64_t have = 0;
        bool found = false, in_recent = false;
        if (!empty) {
            int step = sqlite3_step(lookup);
            if (step != SQLITE_ROW) {
                rc = step == SQLITE_DONE ? SQLITE_INTERNAL : step;
                break;
            }
            in_recent = sqlite3_column_type(lookup, 0) != SQLITE_NULL;
            found = in_recent || sqlite3_column_type(lookup, 1) != SQLITE_NULL;
            have = sqlite3_column_int64(lookup, in_recent ? 0 : 1);
        }
        /* Only a damaged state holds a count near 2^63: refuse it, no UB. */
        if (__builtin_add_overflow(have, st->delta[k], &rows[k].count) ||
            __builtin_add_overflow(total, st->delta[k], &total)) {
            rc = SQLITE_RANGE;
            break;
        }
        distinct += !found;
        n_recent += small && !in_recent;
    }
    sqlite3_reset(lookup);
    if (rc == SQLITE_OK && !small && n_recent) { /* a big batch: counts takes all */
        rc = move_recent(st, -1, &moved);
        n_recent = 0;
    }
    if (rc == SQLITE_OK && n) /* every row of the batch, one statement */
        rc = step_done(small ? st->apply_recent : st->apply);
    if (rc == SQLITE_OK && n_recent > recent_max(n, st->distinct)) {
        rc = move_recent(st, (int64_t)n > MOVE_MIN ? (int64_t)n : MOVE_MIN, &moved);
        n_recent -= moved;
    }
    for (size_t i = 0; rc == SQLITE_OK && offs && i < offs->n; i++) {
        bool drop = offs->v[i].offset == WCS_OFFSET_FORGET; /* in order: a later put wins */
        sqlite3_stmt *s = drop ? st->offset_del : st->offset;
        sqlite3_bind_text(s, 1, offs->v[i].source, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, offs->v[i].partition, -1, SQLITE_STATIC);
        if (!drop)
            sqlite3_bind_int64(s, 3, offs->v[i].offset);
        rc = step_done(s);
    }
    if (rc == SQLITE_OK && wcs_topk_merge(&st->top, rows, n, &st->next) < 0)
        rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = write_leaders(st);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st->batch, 1, batch_id);
        sqlite3_bind_int64(st->batch, 2, (int64_t)input_rows);
        sqlite3_bind_int64(st->batch, 3, (int64_t)n);
        sqlite3_bind_int64(st->batch, 4, distinct);
        sqlite3_bind_int64(st->batch, 5, total);
        sqlite3_bind_text(st->batch, 6, progress_json, -1, SQLITE_STATIC);
        rc = step_done(st->batch);
    }
    if (rc == SQLITE_OK && batch_id >= WCS_STATE_BATCHES_KEPT) {
        sqlite3_bind_int64(st->forget, 1, batch_id - WCS_STATE_BATCHES_KEPT);
        rc = step_done(st->forget);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        wcs_err(err, errlen, "state: batch %" PRId64 " not committed: %s", batch_id,
                rc == SQLITE_NOMEM   ? "out of memory"
                : rc == SQLITE_RANGE ? "a count would pass 2^63 - 1; the state is damaged"
                : gone ? "the state file was deleted, renamed or replaced while in use; put it "
                         "back, or stop the service"
                       : sqlite3_errmsg(st->db));
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        int code = rc & 0xff; /* the primary code */
        return rc == SQLITE_RANGE || code == SQLITE_CORRUPT || code == SQLITE_NOTADB
                   ? WCS_STATE_DAMAGED
                   : -1;
    }
    struct wcs_topk t = st->top; /* the new top-k is committed: swap */
    st->top = st->next;
    st->next = t;
    st->last_batch = batch_id;
    st->staged = false;
    st->distinct = distinct;
    st->total = total;
    st->n_recent = n_recent;
    return 0;
}

const struct wcs_row *wcs_state_top(const struct wcs_state *st, size_t *n)
{
    *n = st->top.n;
    return st->top.rows;
}

/* Run a prepared "SELECT count ... WHERE word = ?1". */
static int64_t count_of(sqlite3_stmt *get, const char *word, size_t len)
{
    sqlite3_bind_text(get, 1, len ? word : "", (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(get);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(get, 0) : 0;
    sqlite3_reset(get);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? count : -1;
}

int64_t wcs_state_count(struct wcs_state *st, const char *word, size_t len)
{
    return count_of(st->get, word, len);
}

int64_t wcs_state_delivered(struct wcs_state *st, const char *sink)
{
    sqlite3_stmt *s;
    int64_t id = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'delivered:' || ?1", -1, &s,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return id;
}

int wcs_state_set_delivered(struct wcs_state *st, const char *sink, int64_t batch_id, char *err,
                            size_t errlen)
{
    sqlite3_bind_text(st->delivered, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->delivered, 2, batch_id);
    if (step_done(st->delivered) != SQLITE_OK) {
        wcs_err(err, errlen, "state: cannot record the delivery of batch %" PRId64 ": %s", batch_id,
                sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

int wcs_state_scan(struct wcs_state *st, size_t n,
                   int (*fn)(void *arg, const struct wcs_row *rows, size_t n), void *arg, char *err,
                   size_t errlen)
{
    int rc = scan_rows(st, "SELECT word, count FROM word_counts", n, fn, arg);
    if (rc == SQLITE_DONE)
        return 0;
    wcs_err(err, errlen, "state: cannot read the counts: %s",
            rc == SQLITE_ABORT ? "stopped" : sqlite3_errstr(rc));
    return -1;
}

struct wcs_state_reader {
    sqlite3 *db;
    sqlite3_stmt *get, *history;
};

struct wcs_state_reader *wcs_state_reader_open(const char *path, char *err, size_t errlen)
{
    struct wcs_state_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        wcs_err(err, errlen, "out of memory");
        return NULL;
    }
    int rc = db_open(path, &r->db, SQLITE_OPEN_READONLY);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(r->db, 1000);
        rc = sqlite3_prepare_v2(r->db, "SELECT count FROM word_counts WHERE word = ?1", -1, &r->get,
                                NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(r->db,
                                "SELECT progress FROM (SELECT batch_id, progress FROM batches "
                                "ORDER BY batch_id DESC LIMIT ?1) ORDER BY batch_id",
                                -1, &r->history, NULL);
    if (rc != SQLITE_OK) {
        wcs_err(err, errlen, "cannot read state %s: %s", path,
                r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
        wcs_state_reader_close(r);
        return NULL;
    }
    return r;
}

void wcs_state_reader_close(struct wcs_state_reader *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->get);
    sqlite3_finalize(r->history);
    sqlite3_close(r->db);
    free(r);
}

int64_t wcs_state_reader_count(struct wcs_state_reader *r, const char *word, size_t len)
{
    return count_of(r->get, word, len);
}

int wcs_state_reader_history(struct wcs_state_reader *r, size_t n,
                             int (*fn)(void *arg, const char *json), void *arg)
{
    int rc;

    sqlite3_bind_int64(r->history, 1, (sqlite3_int64)n);
    while ((rc = sqlite3_step(r->history)) == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(r->history, 0);
        if (json && fn(arg, json) != 0)
            break;
    }
    sqlite3_reset(r->history);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- the state's files -------------------------------------------------- */

int wcs_file_place(const char *path, struct wcs_file_place *pl)
{
    char *real = realpath(path, NULL); /* NULL when it does not exist yet */
    const char *p = real ? real : path;
    const char *slash = strrchr(p, '/');
    char *dir = !slash ? strdup(".") : slash == p ? strdup("/") : strndup(p, (size_t)(slash - p));
    struct stat sb;
    int r = dir && stat(dir, &sb) == 0 && (pl->base = strdup(slash ? slash + 1 : p)) ? 0 : -1;
    if (r == 0) {
        pl->dev = sb.st_dev;
        pl->ino = sb.st_ino;
    }
    free(dir);
    free(real);
    return r;
}

bool wcs_file_place_is(const struct wcs_file_place *pl, bool state, dev_t dev, ino_t ino,
                       const char *name)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    size_t len = strlen(pl->base);
    if (pl->dev != dev || pl->ino != ino || strncmp(name, pl->base, len) != 0)
        return false;
    for (size_t k = 0; k < (state ? 4 : 1); k++)
        if (strcmp(name + len, suffix[k]) == 0)
            return true;
    return false;
}
