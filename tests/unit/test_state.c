/*
 * test_state.c - unit tests for the durable running counts (src/state.c),
 * the SQLite checkpoint every micro-batch commits to.
 *
 * Covers: a new state (ids, schema version, WAL), commits built by hand
 * (updated totals, distinct/total, last batch), top-N order and that it
 * reads the index, point counts, offsets and the query id across a
 * reopen, the batch-id sequence, the word_counts view and batches table
 * seen from a second connection, words with odd bytes, refusal of files
 * that are not ours (left byte-for-byte untouched), ":memory:", a
 * failed commit that rolls back completely and can be retried, the split
 * of the counts between recent and counts, and the upgrade of a version 1
 * state.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <limits.h>
#include <sqlite3.h>

#include "wcstream/buf.h"
#include "wcstream/groupby.h"
#include "wcstream/result.h"
#include "wcstream/source.h"
#include "wcstream/state.h"

/* ---- fixture: one temp dir per test ------------------------------------ */

static char st_dir[64];

static void st_setup(void)
{
    strcpy(st_dir, "/tmp/wcs-test-state-XXXXXX");
    cr_assert_not_null(mkdtemp(st_dir));
}

static void st_cleanup(void)
{
    DIR *d = opendir(st_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", st_dir, e->d_name);
            if (unlink(p) < 0)
                rmdir(p);
        }
        closedir(d);
    }
    rmdir(st_dir);
}

/* path = st_dir/name, in a static buffer per slot. */
static const char *st_path(const char *name)
{
    static char buf[4][256];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s", st_dir, name);
    return p;
}

static struct wcs_state *st_open(const char *path)
{
    char err[512] = "";
    struct wcs_state *st = wcs_state_open(path, "normal", 0, err, sizeof(err));
    cr_assert_not_null(st, "open %s: %s", path, err);
    return st;
}

/* ---- batches built by hand --------------------------------------------- */

#define ST_BATCH_MAX 2048

struct st_batch {
    struct wcs_group g[ST_BATCH_MAX];
    struct wcs_row updated[ST_BATCH_MAX]; /* after the commit, in key order */
    size_t n, n_updated;
};

static void st_add(struct st_batch *b, const char *word, size_t len, int64_t delta)
{
    cr_assert_lt(b->n, ST_BATCH_MAX);
    b->g[b->n++] = (struct wcs_group){.word = word, .len = len, .hash = 0, .delta = delta};
}

static void st_addz(struct st_batch *b, const char *word, int64_t delta)
{
    st_add(b, word, strlen(word), delta);
}

/* Commit b as batch id with offs; returns the result, err in errbuf. */
static int st_commit_err(struct wcs_state *st, int64_t id, struct st_batch *b,
                         const struct wcs_offsets *offs, char *errbuf, size_t errlen)
{
    char progress[64];
    snprintf(progress, sizeof(progress), "{\"batchId\":%" PRId64 "}", id);
    errbuf[0] = '\0';
    qsort(b->g, b->n, sizeof(*b->g), wcs_group_cmp); /* as a sorted group-by table */
    struct wcs_group_set set = {b->g, b->n};
    size_t distinct;
    if (wcs_state_stage(st, &set, 1, &distinct, errbuf, errlen) < 0)
        return -1;
    int r = wcs_state_commit(st, id, offs, 10 + (uint64_t)id, progress, errbuf, errlen);
    if (r < 0)
        return r; /* -1, or WCS_STATE_DAMAGED */
    const struct wcs_row *rows = wcs_state_updated(st, &b->n_updated);
    cr_assert_eq(b->n_updated, distinct);
    memcpy(b->updated, rows, b->n_updated * sizeof(*rows));
    return 0;
}

static void st_commit(struct wcs_state *st, int64_t id, struct st_batch *b,
                      const struct wcs_offsets *offs)
{
    char err[512];
    cr_assert_eq(st_commit_err(st, id, b, offs, err, sizeof(err)), 0, "batch %" PRId64 ": %s", id,
                 err);
}

/* The new total of word among b's updated rows; -1 when absent. */
static int64_t st_updated(const struct st_batch *b, const char *word, size_t len)
{
    for (size_t i = 0; i < b->n_updated; i++)
        if (b->updated[i].len == len && memcmp(b->updated[i].word, word, len) == 0)
            return b->updated[i].count;
    return -1;
}

static int64_t st_updatedz(const struct st_batch *b, const char *word)
{
    return st_updated(b, word, strlen(word));
}

static int64_t st_countz(struct wcs_state *st, const char *word)
{
    return wcs_state_count(st, word, strlen(word));
}

/* ---- a second connection ----------------------------------------------- */

static sqlite3 *st_sql_open(const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                 SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    return db;
}

static void st_sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_free(msg);
}

/* A closed state at path whose batch 0 counted `word` once, then changed
 * by sql (unless NULL) on a connection of its own. */
static void st_made(const char *path, const char *word, const char *sql)
{
    struct wcs_state *st = st_open(path);
    struct st_batch b = {0};
    st_addz(&b, word, 1);
    st_commit(st, 0, &b, NULL);
    wcs_state_close(st);
    if (sql) {
        sqlite3 *db = st_sql_open(path);
        st_sql_exec(db, sql);
        sqlite3_close(db);
    }
}

/* First column of the first row as an integer. */
static int64_t st_sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* First column of the first row as text, into buf. */
static const char *st_sql_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
    const unsigned char *t = sqlite3_column_text(s, 0);
    snprintf(buf, len, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(s);
    return buf;
}

/* ---- new state --------------------------------------------------------- */

Test(state, new_file, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("new.db");
    struct wcs_state *st = st_open(path);
    cr_expect_eq(wcs_state_last_batch(st), -1);
    cr_expect_eq(wcs_state_distinct(st), 0);
    cr_expect_eq(wcs_state_total(st), 0);
    const char *id = wcs_state_query_id(st);
    cr_assert_eq(strlen(id), 36, "'%s'", id);
    cr_expect_eq(id[14], '4');
    cr_expect_eq(st_countz(st, "anything"), 0);

    struct stat sb;
    cr_expect_eq(stat(path, &sb), 0, "the file exists");
    sqlite3 *db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "PRAGMA application_id"), 0x57435354);
    cr_expect_eq(st_sql_int(db, "PRAGMA user_version"), WCS_STATE_SCHEMA_VERSION);
    char buf[64];
    cr_expect_str_eq(st_sql_text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
    cr_expect_eq(st_sql_int(db, "PRAGMA page_size"), 16384, "set before the switch to WAL");
    cr_expect_str_eq(
        st_sql_text(db, "SELECT value FROM meta WHERE key = 'query_id'", buf, sizeof(buf)), id);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM word_counts"), 0);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM batches"), 0);
    sqlite3_close(db);
    wcs_state_close(st);
    wcs_state_close(NULL);
}

Test(state, empty_file_becomes_a_state, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("empty.db");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    struct wcs_state *st = st_open(path);
    cr_expect_eq(wcs_state_last_batch(st), -1);
    wcs_state_close(st);
}

/* ---- commits ----------------------------------------------------------- */

Test(state, commit_updates_totals, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_state *st = st_open(st_path("s.db"));
    struct st_batch b = {0};
    st_addz(&b, "the", 3);
    st_addz(&b, "fox", 1);
    st_addz(&b, "a", 2);
    st_commit(st, 0, &b, NULL);
    cr_expect_eq(wcs_state_last_batch(st), 0);
    cr_expect_eq(wcs_state_distinct(st), 3);
    cr_expect_eq(wcs_state_total(st), 6);
    cr_assert_eq(b.n_updated, 3);
    const char *order[] = {"a", "fox", "the"};
    for (size_t i = 0; i < 3; i++) {
        cr_expect_str_eq(b.updated[i].word, order[i], "updated rows come in key order");
        cr_expect_eq(b.updated[i].count, st_updatedz(&b, order[i]));
    }
    cr_expect_eq(st_updatedz(&b, "the"), 3, "a new word's total is its delta");
    cr_expect_eq(b.updated[2].word, b.g[2].word, "words are borrowed from the (sorted) groups");

    struct st_batch b2 = {0};
    st_addz(&b2, "new", 5);
    st_addz(&b2, "the", 2);
    st_commit(st, 1, &b2, NULL);
    cr_expect_eq(st_updatedz(&b2, "new"), 5);
    cr_expect_eq(st_updatedz(&b2, "the"), 5, "the: 3 + 2");
    cr_expect_eq(wcs_state_last_batch(st), 1);
    cr_expect_eq(wcs_state_distinct(st), 4);
    cr_expect_eq(wcs_state_total(st), 13);
    cr_expect_eq(st_countz(st, "the"), 5);
    cr_expect_eq(st_countz(st, "fox"), 1);
    cr_expect_eq(st_countz(st, "The"), 0, "bytes, not case-folded");
    cr_expect_eq(wcs_state_count(st, "thex", 3), 5, "the length bounds the word");

    /* An empty batch still moves the batch id. */
    struct st_batch none = {0};
    st_commit(st, 2, &none, NULL);
    cr_expect_eq(wcs_state_last_batch(st), 2);
    cr_expect_eq(wcs_state_distinct(st), 4);
    cr_expect_eq(wcs_state_total(st), 13);
    wcs_state_close(st);
}

Test(state, same_word_in_two_sets, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_state *st = st_open(st_path("s.db"));
    struct wcs_group one = {.word = "dup", .len = 3, .delta = 2};
    struct wcs_group two = {.word = "dup", .len = 3, .delta = 3};
    struct wcs_group_set sets[] = {{&one, 1}, {&two, 1}};
    size_t distinct, n;
    char err[256];
    cr_assert_eq(wcs_state_stage(st, sets, 2, &distinct, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wcs_state_commit(st, 0, NULL, 1, "{}", err, sizeof(err)), 0, "%s", err);
    const struct wcs_row *rows = wcs_state_updated(st, &n);
    cr_expect_eq(n, 1, "one row per distinct word");
    cr_expect_eq(rows[0].count, 5);
    cr_expect_eq(wcs_state_distinct(st), 1);
    cr_expect_eq(wcs_state_total(st), 5);
    wcs_state_close(st);
}

/* What fold.h hands over: one table per thread, words shared between them. */
Test(state, sets_are_summed_in_key_order, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_state *st = st_open(st_path("s.db"));
    /* Prefixes of 8 bytes alike and not, an empty word, a word that is a
     * prefix of another. */
    const char *one[] = {"interest", "interesting", "b", "", "a", "zz"};
    const char *two[] = {"zz", "interested", "", "interest", "c"};
    struct wcs_group g1[6], g2[5];
    for (size_t i = 0; i < 6; i++)
        g1[i] = (struct wcs_group){.word = one[i], .len = strlen(one[i]), .delta = 1};
    for (size_t i = 0; i < 5; i++)
        g2[i] = (struct wcs_group){.word = two[i], .len = strlen(two[i]), .delta = 10};
    qsort(g1, 6, sizeof(*g1), wcs_group_cmp);
    qsort(g2, 5, sizeof(*g2), wcs_group_cmp);
    struct wcs_group_set sets[] = {{g1, 6}, {g2, 5}};
    size_t distinct;
    char err[256];
    cr_assert_eq(wcs_state_stage(st, sets, 2, &distinct, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(distinct, 8);
    cr_assert_eq(wcs_state_commit(st, 0, NULL, 1, "{}", err, sizeof(err)), 0, "%s", err);
    size_t n;
    const struct wcs_row *rows = wcs_state_updated(st, &n);
    const char *want[] = {"", "a", "b", "c", "interest", "interested", "interesting", "zz"};
    const int64_t count[] = {11, 1, 1, 10, 11, 10, 1, 11};
    cr_assert_eq(n, 8);
    for (size_t i = 0; i < n; i++) {
        cr_expect(rows[i].len == strlen(want[i]) && memcmp(rows[i].word, want[i], rows[i].len) == 0,
                  "row %zu: got '%.*s', want '%s'", i, (int)rows[i].len, rows[i].word, want[i]);
        cr_expect_eq(rows[i].count, count[i], "row %zu", i);
    }
    cr_expect_eq(wcs_state_distinct(st), 8);
    cr_expect_eq(wcs_state_total(st), 56);
    cr_expect_eq(st_countz(st, "interest"), 11);
    wcs_state_close(st);
}

/* A set out of key order, or with a word twice, is a caller's bug: the
 * merge would write a word twice. Staging refuses it and commits nothing. */
Test(state, refuses_sets_out_of_order, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_state *st = st_open(st_path("s.db"));
    struct wcs_group down[] = {{.word = "b", .len = 1, .delta = 1},
                               {.word = "a", .len = 1, .delta = 1}};
    struct wcs_group twice[] = {{.word = "a", .len = 1, .delta = 1},
                                {.word = "a", .len = 1, .delta = 1}};
    struct wcs_group ok[] = {{.word = "a", .len = 1, .delta = 1}};
    struct wcs_group_set bad[][2] = {{{down, 2}, {ok, 1}}, {{ok, 1}, {twice, 2}}};
    char err[256];
    size_t distinct;
    for (size_t i = 0; i < 2; i++) {
        cr_expect_eq(wcs_state_stage(st, bad[i], 2, &distinct, err, sizeof(err)), -1, "case %zu",
                     i);
        cr_expect_not_null(strstr(err, "not in key order"), "got: %s", err);
        cr_expect_eq(wcs_state_commit(st, 0, NULL, 1, "{}", err, sizeof(err)), -1,
                     "nothing staged");
    }
    cr_expect_eq(wcs_state_last_batch(st), -1);
    wcs_state_close(st);
}

Test(state, batch_id_must_follow, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    struct st_batch b = {0};
    char err[512];
    st_addz(&b, "w", 1);

    cr_expect_eq(st_commit_err(st, 1, &b, NULL, err, sizeof(err)), -1, "first batch is 0");
    cr_expect_not_null(strstr(err, "1"), "got: %s", err);
    cr_expect_eq(st_commit_err(st, -1, &b, NULL, err, sizeof(err)), -1);
    cr_expect_eq(wcs_state_last_batch(st), -1);
    cr_expect_eq(st_countz(st, "w"), 0, "a refused commit changes nothing");

    st_commit(st, 0, &b, NULL);
    cr_expect_eq(st_commit_err(st, 0, &b, NULL, err, sizeof(err)), -1, "no batch twice");
    cr_expect_neq(err[0], '\0');
    cr_expect_eq(st_commit_err(st, 2, &b, NULL, err, sizeof(err)), -1, "no gaps");
    cr_expect_eq(st_commit_err(st, INT64_MAX, &b, NULL, err, sizeof(err)), -1);
    cr_expect_eq(wcs_state_last_batch(st), 0);
    cr_expect_eq(wcs_state_total(st), 1);
    cr_expect_eq(st_countz(st, "w"), 1);

    sqlite3 *db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM batches"), 1);
    sqlite3_close(db);
    st_commit(st, 1, &b, NULL);
    cr_expect_eq(st_countz(st, "w"), 2);
    wcs_state_close(st);
}

/* ---- top-N ------------------------------------------------------------- */

Test(state, top_order, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_state *st = st_open(st_path("s.db"));
    struct st_batch b = {0};
    st_addz(&b, "b", 5);
    st_addz(&b, "z", 3);
    st_addz(&b, "a", 5);
    st_addz(&b, "m", 7);
    st_addz(&b, "c", 5);
    st_addz(&b, "B", 5); /* 'B' < 'a' bytewise */
    st_commit(st, 0, &b, NULL);

    size_t n = 99;
    const struct wcs_row *rows = wcs_state_top(st, &n);
    cr_assert_eq(n, 6, "all rows of a small state");
    static const char *const want[] = {"m", "B", "a", "b", "c", "z"};
    static const int64_t wantc[] = {7, 5, 5, 5, 5, 3};
    for (size_t i = 0; i < 6; i++) {
        cr_expect_eq(rows[i].len, 1);
        cr_expect_eq(rows[i].word[0], want[i][0], "row %zu: %.*s", i, (int)rows[i].len,
                     rows[i].word);
        cr_expect_eq(rows[i].count, wantc[i], "row %zu", i);
    }

    /* A later batch moves rows: a new leader, an old row overtaking. */
    struct st_batch b2 = {0};
    st_addz(&b2, "q", 100);
    st_addz(&b2, "z", 4);
    st_commit(st, 1, &b2, NULL);
    rows = wcs_state_top(st, &n);
    cr_assert_eq(n, 7);
    cr_expect_eq(rows[0].word[0], 'q');
    cr_expect_eq(rows[1].word[0], 'm');
    cr_expect_eq(rows[2].word[0], 'z', "z has 7 now and sorts after m");
    cr_expect_eq(rows[2].count, 7);
    cr_expect_eq(rows[3].word[0], 'B');
    wcs_state_close(st);
}

/* The persisted leaders equal the in-memory top, survive a reopen, and a
 * reopen asking for a bigger top rebuilds it from the counts. */
Test(state, top_persisted_and_rebuilt, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    static struct st_batch b;
    static char w[1500][16]; /* the batch borrows its words */
    for (int i = 0; i < 1500; i++) {
        snprintf(w[i], sizeof(w[i]), "w%04d", i);
        st_addz(&b, w[i], 1 + i % 97);
    }
    st_commit(st, 0, &b, NULL);
    size_t n;
    const struct wcs_row *rows = wcs_state_top(st, &n);
    cr_assert_eq(n, WCS_STATE_TOP_MIN, "the top holds k rows of a larger state");
    sqlite3 *db = st_sql_open(path);
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT word, count FROM top_words", -1, &s, NULL),
                 SQLITE_OK);
    size_t i = 0;
    while (sqlite3_step(s) == SQLITE_ROW && i < n) {
        cr_expect_eq((size_t)sqlite3_column_bytes(s, 0), rows[i].len);
        cr_expect(memcmp(sqlite3_column_text(s, 0), rows[i].word, rows[i].len) == 0, "row %zu", i);
        cr_expect_eq(sqlite3_column_int64(s, 1), rows[i].count);
        i++;
    }
    cr_expect_eq(i, n, "top_words has the same rows");
    sqlite3_finalize(s);
    sqlite3_close(db);
    int64_t first = rows[0].count;
    wcs_state_close(st);

    char err[512] = "";
    st = wcs_state_open(path, "normal", 1200, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    rows = wcs_state_top(st, &n);
    cr_expect_eq(n, 1200, "rebuilt for the bigger k from the counts");
    cr_expect_eq(rows[0].count, first);
    wcs_state_close(st);
    /* A smaller k keeps the bigger one: the leaders past k would go stale
     * while it runs, and a later bigger k would read them. */
    st = st_open(path);
    rows = wcs_state_top(st, &n);
    cr_expect_eq(n, 1200);
    cr_expect_eq(rows[0].count, first);
    static struct st_batch b2;
    b2.n = 0;
    st_addz(&b2, w[24], 1); /* w0024 had 25: a row around rank 1100 */
    st_commit(st, 1, &b2, NULL);
    wcs_state_close(st);
    st = wcs_state_open(path, "normal", 1200, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    rows = wcs_state_top(st, &n);
    bool found = false;
    for (size_t j = 0; j < n; j++)
        if (rows[j].len == 5 && memcmp(rows[j].word, "w0024", 5) == 0)
            found = rows[j].count == 26;
    cr_expect(found, "the leader row of w0024 was kept up to date");
    wcs_state_close(st);

    /* A top kept bigger than any sink may ask for (numRows had no bound)
     * made every commit allocate for it: it is built again, for k. */
    db = st_sql_open(path);
    st_sql_exec(db, "REPLACE INTO meta VALUES('top_k', 600000000)");
    st = st_open(path);
    rows = wcs_state_top(st, &n);
    cr_expect_eq(n, WCS_STATE_TOP_MIN);
    cr_expect_eq(rows[0].count, first);
    cr_expect_eq(st_sql_int(db, "SELECT value FROM meta WHERE key = 'top_k'"), WCS_STATE_TOP_MIN);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM leaders"), WCS_STATE_TOP_MIN);
    b2.n = 0;
    st_addz(&b2, w[1], 1);
    st_commit(st, 2, &b2, NULL);
    sqlite3_close(db);
    wcs_state_close(st);
}

/* Property: after every batch the kept top equals the top computed by SQL
 * over all counts, with words overtaking each other across batches. */
Test(state, top_exact_over_many_batches, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    sqlite3 *db = st_sql_open(path);
    uint64_t rnd = 42;
    static char w[3000][16]; /* the batches borrow their words */
    for (int i = 0; i < 3000; i++)
        snprintf(w[i], sizeof(w[i]), "w%d", i);
    for (int64_t batch = 0; batch < 25; batch++) {
        static struct st_batch b;
        b.n = 0;
        bool seen[3000] = {0};
        for (int i = 0; i < 300; i++) {
            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            int id = (int)((rnd >> 33) % 3000);
            if (seen[id])
                continue;
            seen[id] = true;
            st_addz(&b, w[id], 1 + (int64_t)((rnd >> 20) % (id < 100 ? 50 : 5)));
        }
        st_commit(st, batch, &b, NULL);
        size_t n;
        const struct wcs_row *rows = wcs_state_top(st, &n);
        sqlite3_stmt *s;
        cr_assert_eq(sqlite3_prepare_v2(db,
                                        "SELECT word, count FROM word_counts "
                                        "ORDER BY count DESC, word LIMIT 1000",
                                        -1, &s, NULL),
                     SQLITE_OK);
        size_t i = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            cr_assert_lt(i, n, "batch %lld: SQL has more rows", (long long)batch);
            cr_assert_eq(sqlite3_column_int64(s, 1), rows[i].count, "batch %lld row %zu",
                         (long long)batch, i);
            cr_assert(memcmp(sqlite3_column_text(s, 0), rows[i].word, rows[i].len) == 0 &&
                          (size_t)sqlite3_column_bytes(s, 0) == rows[i].len,
                      "batch %lld row %zu", (long long)batch, i);
            i++;
        }
        sqlite3_finalize(s);
        cr_assert_eq(i, n, "batch %lld", (long long)batch);
    }
    sqlite3_close(db);
    wcs_state_close(st);
}

/* A batch that only moves offsets (input consumed without any text):
 * committed, recorded, nothing counted. */
Test(state, offsets_only_batch, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_state *st = st_open(st_path("s.db"));
    struct wcs_offset o = {.source = "kafka:t", .partition = "t/0", .offset = 6};
    struct wcs_offsets offs = {.v = &o, .n = 1, .cap = 1};
    char err[256];
    size_t none;
    cr_assert_eq(wcs_state_stage(st, NULL, 0, &none, err, sizeof(err)), 0);
    cr_assert_eq(wcs_state_commit(st, 0, &offs, 0, "{}", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(wcs_state_last_batch(st), 0);
    cr_expect_eq(wcs_state_distinct(st), 0);
    wcs_state_close(st);
}

/* ---- odd words --------------------------------------------------------- */

Test(state, odd_bytes_round_trip, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    static const char nul[] = {'a', '\0', 'b'};
    static const char bad[] = {'\xff', '\xfe', '\xc3'};
    struct st_batch b = {0};
    st_add(&b, "", 0, 4);
    st_add(&b, nul, 3, 3);
    st_add(&b, "a", 1, 2);
    st_add(&b, bad, 3, 1);
    st_add(&b, "\xc3\xa9t\xc3\xa9", 6, 5);
    st_commit(st, 0, &b, NULL);
    cr_expect_eq(wcs_state_distinct(st), 5, "'a', 'a\\0b' and '' are three words");
    cr_expect_eq(wcs_state_total(st), 15);
    cr_expect_eq(wcs_state_count(st, "", 0), 4);
    cr_expect_eq(wcs_state_count(st, "zzz", 0), 4, "length 0 is the empty word");
    cr_expect_eq(wcs_state_count(st, nul, 3), 3);
    cr_expect_eq(wcs_state_count(st, "a", 1), 2);
    cr_expect_eq(wcs_state_count(st, nul, 2), 0, "'a\\0' is not 'a'");
    cr_expect_eq(wcs_state_count(st, bad, 3), 1);
    cr_expect_eq(wcs_state_count(st, bad, 2), 0);

    size_t n = 0;
    const struct wcs_row *rows = wcs_state_top(st, &n);
    cr_assert_eq(n, 5);
    cr_expect_eq(rows[0].count, 5);
    cr_expect_eq(rows[0].len, 6);
    cr_expect(memcmp(rows[0].word, "\xc3\xa9t\xc3\xa9", 6) == 0);
    cr_expect_eq(rows[1].count, 4);
    cr_expect_eq(rows[1].len, 0, "the empty word comes back empty");
    cr_expect_not_null(rows[1].word);
    cr_expect_eq(rows[2].count, 3);
    cr_assert_eq(rows[2].len, 3);
    cr_expect(memcmp(rows[2].word, nul, 3) == 0, "the NUL byte survives");
    cr_expect_eq(rows[3].len, 1);
    cr_assert_eq(rows[4].len, 3);
    cr_expect(memcmp(rows[4].word, bad, 3) == 0, "invalid UTF-8 survives");

    /* Reopened, the same bytes add up. */
    wcs_state_close(st);
    st = st_open(path);
    struct st_batch b2 = {0};
    st_add(&b2, nul, 3, 1);
    st_add(&b2, "", 0, 1);
    st_commit(st, 1, &b2, NULL);
    cr_expect_eq(st_updated(&b2, nul, 3), 4);
    cr_expect_eq(st_updated(&b2, "", 0), 5);
    cr_expect_eq(wcs_state_distinct(st), 5);
    wcs_state_close(st);
}

/* ---- offsets and reopen ------------------------------------------------ */

struct st_seen {
    char part[8][32];
    int64_t off[8];
    int n;
    int stop_after; /* return -1 after this many calls; 0: never */
};

static int st_offset_cb(void *arg, const char *partition, int64_t offset)
{
    struct st_seen *s = arg;
    cr_assert_lt(s->n, 8);
    snprintf(s->part[s->n], sizeof(s->part[0]), "%s", partition);
    s->off[s->n++] = offset;
    return s->stop_after && s->n >= s->stop_after ? -1 : 0;
}

/* The offset seen for partition, or -1. */
static int64_t st_seen_off(const struct st_seen *s, const char *partition)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->part[i], partition) == 0)
            return s->off[i];
    return -1;
}

static struct st_seen st_offsets(struct wcs_state *st, const char *source)
{
    struct st_seen s = {0};
    char err[256] = "";
    cr_assert_eq(wcs_state_offsets(st, source, st_offset_cb, &s, err, sizeof(err)), 0, "%s", err);
    return s;
}

Test(state, offsets_and_ids_survive_reopen, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    char qid[37];
    snprintf(qid, sizeof(qid), "%s", wcs_state_query_id(st));

    struct wcs_offset ov[] = {
        {.source = "file:///a", .partition = "p0", .offset = 100},
        {.source = "file:///a", .partition = "p1", .offset = 200},
        {.source = "kafka://t", .partition = "0", .offset = 5},
    };
    struct wcs_offsets offs = {.v = ov, .n = 3, .cap = 3};
    struct st_batch b = {0};
    st_addz(&b, "w", 2);
    st_addz(&b, "v", 1);
    st_commit(st, 0, &b, &offs);
    wcs_state_close(st);

    st = st_open(path);
    cr_expect_str_eq(wcs_state_query_id(st), qid, "the query id is stable across restarts");
    cr_expect_eq(wcs_state_last_batch(st), 0);
    cr_expect_eq(wcs_state_distinct(st), 2);
    cr_expect_eq(wcs_state_total(st), 3);
    cr_expect_eq(st_countz(st, "w"), 2);

    struct st_seen s = st_offsets(st, "file:///a");
    cr_expect_eq(s.n, 2);
    cr_expect_eq(st_seen_off(&s, "p0"), 100);
    cr_expect_eq(st_seen_off(&s, "p1"), 200);
    s = st_offsets(st, "kafka://t");
    cr_expect_eq(s.n, 1);
    cr_expect_eq(st_seen_off(&s, "0"), 5);
    s = st_offsets(st, "file:///other");
    cr_expect_eq(s.n, 0);

    /* A later batch moves one partition; the other keeps its offset. */
    struct wcs_offset ov2[] = {{.source = "file:///a", .partition = "p0", .offset = 150}};
    struct wcs_offsets offs2 = {.v = ov2, .n = 1, .cap = 1};
    struct st_batch b2 = {0};
    st_addz(&b2, "w", 1);
    st_commit(st, 1, &b2, &offs2);
    wcs_state_close(st);

    st = st_open(path);
    s = st_offsets(st, "file:///a");
    cr_expect_eq(s.n, 2);
    cr_expect_eq(st_seen_off(&s, "p0"), 150);
    cr_expect_eq(st_seen_off(&s, "p1"), 200);
    cr_expect_eq(wcs_state_last_batch(st), 1);
    cr_expect_eq(wcs_state_total(st), 4);
    cr_expect_str_eq(wcs_state_query_id(st), qid);

    /* The callback can stop the walk; its result comes back. */
    struct st_seen stop = {.stop_after = 1};
    char err[256] = "";
    cr_expect_eq(wcs_state_offsets(st, "file:///a", st_offset_cb, &stop, err, sizeof(err)), -1);
    cr_expect_eq(stop.n, 1);
    wcs_state_close(st);
}

Test(state, second_connection_reads_view_and_batches, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    struct st_batch b = {0};
    st_addz(&b, "hello", 2);
    st_addz(&b, "world", 1);
    st_commit(st, 0, &b, NULL);
    struct st_batch b2 = {0};
    st_addz(&b2, "hello", 1);
    st_commit(st, 1, &b2, NULL);

    /* Read while the service still has the state open (WAL). */
    sqlite3 *db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "SELECT count FROM word_counts WHERE word = 'hello'"), 3);
    cr_expect_eq(st_sql_int(db, "SELECT count FROM word_counts WHERE word = 'world'"), 1);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM word_counts"), 2);
    cr_expect_eq(st_sql_int(db, "SELECT sum(count) FROM word_counts"), 4);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM batches"), 2);
    cr_expect_eq(st_sql_int(db, "SELECT max(batch_id) FROM batches"), 1);
    cr_expect_eq(st_sql_int(db, "SELECT num_input_rows FROM batches WHERE batch_id = 1"), 11);
    cr_expect_eq(st_sql_int(db, "SELECT num_rows_updated FROM batches WHERE batch_id = 0"), 2);
    char buf[128];
    cr_expect_str_eq(
        st_sql_text(db, "SELECT progress FROM batches WHERE batch_id = 1", buf, sizeof(buf)),
        "{\"batchId\":1}");
    st_sql_text(db, "SELECT committed_at FROM batches WHERE batch_id = 0", buf, sizeof(buf));
    cr_expect_eq(strlen(buf), 24, "ISO-8601 with ms: %s", buf);
    cr_expect_eq(buf[23], 'Z', "%s", buf);
    cr_expect_eq(st_sql_int(db, "SELECT typeof(word) = 'text' FROM word_counts LIMIT 1"), 1);
    sqlite3_close(db);
    wcs_state_close(st);
}

/* The stored record is printed before the commit: the state puts in the
 * totals that the commit made. */
Test(state, stored_record_has_the_commits_totals, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    struct wcs_group g[] = {{.word = "a", .len = 1, .delta = 2},
                            {.word = "b", .len = 1, .delta = 1}};
    struct wcs_group_set set = {g, 2};
    size_t distinct;
    char err[256] = "";
    cr_assert_eq(wcs_state_stage(st, &set, 1, &distinct, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wcs_state_commit(st, 0, NULL, 1,
                                  "{\"stateOperators\":[{\"numRowsTotal\":0,\"totalWords\":0}]}",
                                  err, sizeof(err)),
                 0, "%s", err);
    sqlite3 *db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "SELECT progress ->> '$.stateOperators[0].numRowsTotal' "
                                "FROM batches"),
                 2);
    cr_expect_eq(st_sql_int(db, "SELECT progress ->> '$.stateOperators[0].totalWords' "
                                "FROM batches"),
                 3);
    sqlite3_close(db);
    wcs_state_close(st);
}

/* The batches table keeps the last WCS_STATE_BATCHES_KEPT rows: a state
 * whose rows go up to KEPT + 4 (written by hand, each with batch 0's
 * totals) drops rows 0 to 5 with the commit of batch KEPT + 5. */
Test(state, batches_keeps_the_last_rows, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    char sql[512];
    const int64_t kept = WCS_STATE_BATCHES_KEPT;
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %" PRId64
             ") INSERT INTO batches SELECT i, b.committed_at, 0, 0, b.num_rows_total, "
             "b.total_words, NULL FROM n, batches AS b WHERE b.batch_id = 0",
             kept + 4);
    st_made(path, "word", sql);

    struct wcs_state *st = st_open(path);
    cr_assert_eq(wcs_state_last_batch(st), kept + 4);
    struct st_batch b = {0};
    st_addz(&b, "word", 2);
    st_commit(st, kept + 5, &b, NULL);
    sqlite3 *db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM batches"), kept);
    cr_expect_eq(st_sql_int(db, "SELECT min(batch_id) FROM batches"), 6);
    cr_expect_eq(st_sql_int(db, "SELECT total_words FROM batches ORDER BY batch_id DESC"), 3);
    sqlite3_close(db);
    wcs_state_close(st);

    st = st_open(path); /* the numbering and the totals go on */
    cr_expect_eq(wcs_state_last_batch(st), kept + 5);
    cr_expect_eq(wcs_state_total(st), 3);
    wcs_state_close(st);
}

/* SQLite's pages come from the pool the first open gives it (state.c,
 * PAGE_CACHE_PAGES), faulted in at once, not from malloc page by page. */
Test(state, page_cache_comes_from_the_pool, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_state *st = st_open(st_path("s.db"));
    struct st_batch b = {0};
    st_addz(&b, "word", 1);
    st_commit(st, 0, &b, NULL);
    int used, overflow, high;
    cr_assert_eq(sqlite3_status(SQLITE_STATUS_PAGECACHE_USED, &used, &high, 0), SQLITE_OK);
    cr_assert_eq(sqlite3_status(SQLITE_STATUS_PAGECACHE_OVERFLOW, &overflow, &high, 0), SQLITE_OK);
    cr_expect_gt(used, 0, "the state's pages are pool slots");
    cr_expect_eq(overflow, 0, "no page came from malloc");
    wcs_state_close(st);
}

/* ---- the read-only reader of another thread ---------------------------- */

static int st_collect(void *arg, const char *json)
{
    char *out = arg;
    strcat(out, json);
    strcat(out, ";");
    return 0;
}

Test(state, reader_sees_each_commit_and_the_history, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    char err[256], got[256] = "";
    struct st_batch b = {0};
    st_addz(&b, "hello", 2);
    st_commit(st, 0, &b, NULL);

    struct wcs_state_reader *r = wcs_state_reader_open(path, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    cr_expect_eq(wcs_state_reader_count(r, "hello", 5), 2);
    cr_expect_eq(wcs_state_reader_count(r, "nobody", 6), 0);
    for (int64_t id = 1; id <= 2; id++) {
        struct st_batch more = {0};
        st_addz(&more, "hello", 1);
        st_commit(st, id, &more, NULL);
    }
    cr_expect_eq(wcs_state_reader_count(r, "hello", 5), 4, "sees commits made after it opened");
    cr_expect_eq(wcs_state_reader_count(r, "hellox", 5), 4, "the length bounds the word");

    cr_expect_eq(wcs_state_reader_history(r, 2, st_collect, got), 0);
    cr_expect_str_eq(got, "{\"batchId\":1};{\"batchId\":2};", "the last two, oldest first");
    got[0] = '\0';
    cr_expect_eq(wcs_state_reader_history(r, 100, st_collect, got), 0);
    cr_expect_str_eq(got, "{\"batchId\":0};{\"batchId\":1};{\"batchId\":2};");
    wcs_state_reader_close(r);
    wcs_state_close(st);

    cr_expect_null(wcs_state_reader_open(st_path("missing.db"), err, sizeof(err)));
    cr_expect(strstr(err, "missing.db") != NULL, "%s", err);
    wcs_state_reader_close(NULL);
}

/* ---- at-least-once sinks: deliveries and a scan of every count --------- */

struct st_scan {
    size_t calls, rows;
    int64_t sum;
    char last[16];
};

static int st_scan_fn(void *arg, const struct wcs_row *rows, size_t n)
{
    struct st_scan *sc = arg;
    cr_expect_leq(n, 3, "chunks of at most n rows");
    for (size_t i = 0; i < n; i++) {
        char w[16];
        snprintf(w, sizeof(w), "%.*s", (int)rows[i].len, rows[i].word);
        cr_expect_gt(strcmp(w, sc->last), 0, "word order: %s after %s", w, sc->last);
        strcpy(sc->last, w);
        sc->sum += rows[i].count;
    }
    sc->calls++;
    sc->rows += n;
    return 0;
}

Test(state, delivered_and_scan, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    char err[256];
    cr_expect_eq(wcs_state_delivered(st, "kafka://b/t"), -1, "none recorded");
    struct st_batch b = {0};
    const char *words[] = {"e", "b", "g", "a", "d", "c", "f"};
    for (int i = 0; i < 7; i++)
        st_addz(&b, words[i], i + 1);
    st_commit(st, 0, &b, NULL);
    cr_assert_eq(wcs_state_set_delivered(st, "kafka://b/t", 0, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(wcs_state_delivered(st, "kafka://b/t"), 0);
    cr_expect_eq(wcs_state_delivered(st, "kafka://b/other"), -1, "per sink");

    struct st_scan sc = {0};
    cr_assert_eq(wcs_state_scan(st, 3, st_scan_fn, &sc, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(sc.rows, 7);
    cr_expect_eq(sc.calls, 3, "3 + 3 + 1");
    cr_expect_eq(sc.sum, 28);
    wcs_state_close(st);

    st = st_open(path);
    cr_expect_eq(wcs_state_delivered(st, "kafka://b/t"), 0, "kept across a reopen");
    wcs_state_close(st);
}

/* ---- :memory: ---------------------------------------------------------- */

Test(state, memory_state)
{
    char err[256] = "";
    struct wcs_state *st = wcs_state_open(":memory:", NULL, 0, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    struct wcs_state *st2 = wcs_state_open(":memory:", "off", 0, err, sizeof(err));
    cr_assert_not_null(st2, "%s", err);
    cr_expect_eq(wcs_state_last_batch(st), -1);
    cr_expect_eq(strlen(wcs_state_query_id(st)), 36);
    cr_expect_str_neq((char *)wcs_state_query_id(st), (char *)wcs_state_query_id(st2));

    struct st_batch b = {0};
    st_addz(&b, "m", 3);
    st_commit(st, 0, &b, NULL);
    cr_expect_eq(st_countz(st, "m"), 3);
    cr_expect_eq(st_countz(st2, "m"), 0, "two :memory: states are separate");
    size_t n = 0;
    wcs_state_top(st, &n);
    cr_expect_eq(n, 1);
    wcs_state_close(st);
    wcs_state_close(st2);
}

/* ---- refusals leave the file untouched --------------------------------- */

struct st_snap {
    char *bytes;
    size_t len;
    struct timespec mtime;
    char listing[512];
};

static struct st_snap st_snapshot(const char *path)
{
    struct st_snap s = {0};
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    s.mtime = sb.st_mtim;
    if (S_ISREG(sb.st_mode)) {
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f);
        s.bytes = malloc((size_t)sb.st_size + 1);
        cr_assert_not_null(s.bytes);
        s.len = fread(s.bytes, 1, (size_t)sb.st_size, f);
        fclose(f);
    }
    DIR *d = opendir(st_dir);
    struct dirent *e;
    char *names[32];
    int k = 0;
    while ((e = readdir(d)) != NULL && k < 32)
        names[k++] = strdup(e->d_name);
    closedir(d);
    for (int i = 1; i < k; i++) /* insertion sort: readdir order varies */
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < k; i++) {
        strncat(s.listing, names[i], sizeof(s.listing) - strlen(s.listing) - 2);
        strcat(s.listing, " ");
        free(names[i]);
    }
    return s;
}

/* Opening path must fail with a sentence (in err) and leave it, and the
 * directory, exactly as they were. */
static void st_refused_err(const char *path, char *err, size_t errlen)
{
    struct st_snap before = st_snapshot(path);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000L}; /* past mtime granularity */
    nanosleep(&pause, NULL);
    err[0] = '\0';
    struct wcs_state *st = wcs_state_open(path, "normal", 0, err, errlen);
    cr_expect_null(st, "%s should be refused", path);
    wcs_state_close(st);
    cr_expect(err[0], "refused without a reason");
    struct st_snap after = st_snapshot(path);
    cr_expect_eq(after.len, before.len, "%s: size changed", path);
    cr_expect(before.len == after.len &&
                  (before.len == 0 || memcmp(before.bytes, after.bytes, before.len) == 0),
              "%s: content changed", path);
    cr_expect(before.mtime.tv_sec == after.mtime.tv_sec &&
                  before.mtime.tv_nsec == after.mtime.tv_nsec,
              "%s: mtime changed", path);
    cr_expect_str_eq(after.listing, before.listing, "files appeared or vanished next to %s", path);
    free(before.bytes);
    free(after.bytes);
}

/* As st_refused_err(), and the sentence names path (and contains needle). */
static void st_refused(const char *path, const char *needle)
{
    char err[512];
    st_refused_err(path, err, sizeof(err));
    cr_expect_not_null(strstr(err, path), "error '%s' should name the path", err);
    if (needle)
        cr_expect_not_null(strstr(err, needle), "error '%s' should mention '%s'", err, needle);
}

static void st_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

Test(state, refuses_a_text_file, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("notes.txt");
    static const char text[] = "These are my notes.\nDo not overwrite them.\n";
    st_write_file(path, text, sizeof(text) - 1);
    st_refused(path, "not a wcstream state");

    const char *tiny = st_path("tiny");
    st_write_file(tiny, "SQLite", 6);
    st_refused(tiny, NULL);
}

Test(state, refuses_random_bytes, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("random.bin");
    unsigned char bytes[8192];
    uint64_t x = 0x243F6A8885A308D3ULL;
    for (size_t i = 0; i < sizeof(bytes); i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        bytes[i] = (unsigned char)(x >> 56);
    }
    st_write_file(path, bytes, sizeof(bytes));
    st_refused(path, NULL);

    /* The SQLite magic followed by garbage. */
    memcpy(bytes, "SQLite format 3", 16);
    const char *fake = st_path("fake.db");
    st_write_file(fake, bytes, sizeof(bytes));
    st_refused(fake, NULL);
}

Test(state, refuses_another_apps_database, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("other.db");
    sqlite3 *db = st_sql_open(path);
    st_sql_exec(db, "CREATE TABLE contacts(name TEXT, phone TEXT);"
                    "INSERT INTO contacts VALUES('ada', '123');");
    sqlite3_close(db);
    st_refused(path, "another application");

    /* The same in WAL mode, with an application_id of its own. */
    const char *wal = st_path("other-wal.db");
    db = st_sql_open(wal);
    st_sql_exec(db, "PRAGMA journal_mode = WAL; PRAGMA application_id = 1234;"
                    "CREATE TABLE t(x); INSERT INTO t VALUES(1);");
    sqlite3_close(db);
    st_refused(wal, "1234");
}

/* A writer that dies in a transaction on path after its changes spilled
 * into the file (a small cache), leaving a hot rollback journal. */
static void st_writer_dies(const char *path, const char *sql)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        sqlite3 *w = NULL;
        char *full = sqlite3_mprintf("PRAGMA cache_size = 2; BEGIN; %s", sql);
        if (sqlite3_open(path, &w) != SQLITE_OK || !full ||
            sqlite3_exec(w, full, NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        _exit(0);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    char journal[PATH_MAX];
    snprintf(journal, sizeof(journal), "%s-journal", path);
    struct stat sb;
    cr_assert_eq(stat(journal, &sb), 0, "no journal left behind");
    cr_assert_gt(sb.st_size, 0);
}

#define ST_FILL                                                                                    \
    "CREATE TABLE t(x);"                                                                           \
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"               \
    " INSERT INTO t SELECT randomblob(200) FROM n;"

/* A database whose writer died mid-transaction has a hot rollback journal:
 * SQLite would roll it back, rewriting the file, at the first read. It is
 * refused before that, journal and all. */
Test(state, refuses_a_database_with_a_hot_journal, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("crashed.db");
    sqlite3 *db = st_sql_open(path);
    st_sql_exec(db,
                "PRAGMA application_id = 1234; CREATE TABLE t(x);"
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
                " INSERT INTO t SELECT randomblob(100) FROM n;");
    sqlite3_close(db);
    st_writer_dies(path, "UPDATE t SET x = zeroblob(100);");
    st_refused(path, "rollback journal");
    /* Through a symlink too: SQLite keeps the journal next to the target. */
    const char *link = st_path("link.db");
    cr_assert_eq(symlink(path, link), 0);
    st_refused(link, "rollback journal");
    struct stat sb;
    cr_expect_eq(stat(st_path("crashed.db-journal"), &sb), 0, "the journal was rolled back");
}

/* A file of one page held nothing but its header before the transaction:
 * whose it is depends on that header, saved in the journal. Another
 * application's (its application_id) is refused untouched; a blank one
 * (a state whose making in an empty SQLite file died) is rolled back and
 * made a state. */
Test(state, judges_a_one_page_file_by_the_page_its_journal_saved, .init = st_setup,
     .fini = st_cleanup)
{
    const char *theirs = st_path("theirs.db");
    sqlite3 *db = st_sql_open(theirs);
    st_sql_exec(db, "PRAGMA application_id = 4242;");
    sqlite3_close(db);
    st_writer_dies(theirs, ST_FILL);
    st_refused(theirs, "rollback journal");

    const char *blank = st_path("blank.db");
    db = st_sql_open(blank);
    st_sql_exec(db, "PRAGMA application_id = 0;");
    sqlite3_close(db);
    st_writer_dies(blank, ST_FILL);
    char err[512] = "";
    struct wcs_state *st = wcs_state_open(blank, "normal", 0, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    cr_expect_eq(wcs_state_distinct(st), 0);
    wcs_state_close(st);
}

Test(state, refuses_a_newer_schema, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("future.db");
    st_made(path, "w", "PRAGMA user_version = 99");
    st_refused(path, "99");
}

/* Found by fuzz_state: a version 0 state whose top-k had to be rebuilt
 * was written (the rebuilt top-k) before the statements over recent, a
 * table it lacked, refused it. */
Test(state, refuses_a_version_it_never_wrote, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("zero.db");
    st_made(path, "w", "PRAGMA user_version = 0; DELETE FROM meta WHERE key = 'top_k'");
    st_refused(path, "version 0");
}

/* A recent table that its statements cannot use (no primary key for the
 * upsert) refuses the file after the rebuilt top-k was written: the
 * writes of opening roll back with it. */
Test(state, refuses_a_damaged_recent_untouched, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("damaged.db");
    st_made(path, "w",
            "DROP VIEW word_counts; DROP TABLE recent;"
            "CREATE TABLE recent(word TEXT, count INTEGER NOT NULL);"
            "CREATE VIEW word_counts(word, count) AS SELECT word, count FROM recent "
            "UNION ALL SELECT word, count FROM counts;"
            "DELETE FROM meta WHERE key = 'top_k'");
    char err[512];
    st_refused_err(path, err, sizeof(err));
    cr_expect_not_null(strstr(err, "ON CONFLICT"), "got: %s", err);
}

Test(state, refuses_a_directory, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("adir");
    cr_assert_eq(mkdir(path, 0755), 0);
    st_refused(path, NULL);

    char err[256] = "";
    cr_expect_null(wcs_state_open(st_path("no/such/dir/s.db"), "normal", 0, err, sizeof(err)));
    cr_expect_neq(err[0], '\0');
}

Test(state, refuses_a_directory_where_sqlite_keeps_its_files, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    wcs_state_close(st_open(path));
    static const char *const suffixes[] = {"-journal", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char side[300];
        snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
        cr_assert_eq(mkdir(side, 0755), 0);
        st_refused(path, "is not a regular file");
        cr_assert_eq(rmdir(side), 0);
    }
    wcs_state_close(st_open(path));
}

Test(state, discard_removes_only_a_file_it_made, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    char side[300];
    wcs_state_discard(st_open(path));
    cr_expect_neq(access(path, F_OK), 0, "a state this open made is removed");
    snprintf(side, sizeof(side), "%s-wal", path);
    cr_expect_neq(access(side, F_OK), 0, "and its WAL");

    wcs_state_close(st_open(path));
    wcs_state_discard(st_open(path));
    cr_expect_eq(access(path, F_OK), 0, "a state that was there stays");
    wcs_state_close(st_open(path));
}

/* ---- recent and counts -------------------------------------------------- */

#define ST_WORDS 100000

/* The id of word "w%05d", from its len bytes (not NUL-terminated). */
static int st_word_id(const char *w, size_t len)
{
    cr_assert_eq(len, 6);
    int id = 0;
    for (size_t i = 1; i < len; i++)
        id = id * 10 + (w[i] - '0');
    return id;
}

/* Commit batch id: distinct words `ids` (delta 1 + id % 3), checking each
 * new total against truth[], which it updates. */
static void st_commit_ids(struct wcs_state *st, int64_t id, const int *ids, size_t n,
                          char (*words)[16], int64_t *truth)
{
    struct wcs_group *g = calloc(n, sizeof(*g));
    cr_assert_not_null(g);
    for (size_t i = 0; i < n; i++)
        g[i] = (struct wcs_group){.word = words[ids[i]], .len = 6, .delta = 1 + ids[i] % 3};
    qsort(g, n, sizeof(*g), wcs_group_cmp);
    struct wcs_group_set set = {g, n};
    size_t distinct;
    char err[512] = "";
    cr_assert_eq(wcs_state_stage(st, &set, 1, &distinct, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wcs_state_commit(st, id, NULL, n, "{}", err, sizeof(err)), 0, "%s", err);
    for (size_t i = 0; i < n; i++)
        truth[ids[i]] += 1 + ids[i] % 3;
    size_t nu;
    const struct wcs_row *rows = wcs_state_updated(st, &nu);
    cr_assert_eq(nu, n);
    for (size_t i = 0; i < nu; i++)
        cr_assert_eq(rows[i].count, truth[st_word_id(rows[i].word, rows[i].len)],
                     "batch %" PRId64 " %.6s", id, rows[i].word);
    free(g);
}

/* n distinct random word ids into ids, from the generator state *rnd. */
static void st_random_ids(uint64_t *rnd, int *ids, size_t n)
{
    static bool seen[ST_WORDS];
    memset(seen, 0, sizeof(seen));
    for (size_t k = 0; k < n;) {
        *rnd = *rnd * 6364136223846793005ULL + 1442695040888963407ULL;
        int w = (int)((*rnd >> 33) % ST_WORDS);
        if (!seen[w])
            seen[w] = true, ids[k++] = w;
    }
}

/* Every word's count, read back through word_counts, equals truth[]. */
static void st_check_all(const char *path, const int64_t *truth)
{
    sqlite3 *db = st_sql_open(path);
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT word, count FROM word_counts", -1, &s, NULL),
                 SQLITE_OK);
    int64_t seen = 0, want = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int w =
            st_word_id((const char *)sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        cr_assert_eq(sqlite3_column_int64(s, 1), truth[w], "w%05d", w);
        seen++;
    }
    sqlite3_finalize(s);
    for (int i = 0; i < ST_WORDS; i++)
        want += truth[i] > 0;
    cr_assert_eq(seen, want);
    sqlite3_close(db);
}

Test(state, recent_and_counts_hold_the_totals, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    static char words[ST_WORDS][16];
    static int64_t truth[ST_WORDS];
    static int ids[ST_WORDS];
    for (int i = 0; i < ST_WORDS; i++)
        snprintf(words[i], sizeof(words[i]), "w%05d", i);
    struct wcs_state *st = st_open(path);
    sqlite3 *db = st_sql_open(path);
    uint64_t rnd = 7;
    int64_t batch = 0, max_recent = 0;
    /* Small batches of random distinct words: recent fills, then each
     * batch moves a slice of it to counts; past 33,554 words in state,
     * recent may grow beyond its floor, to sqrt(batch words x state). */
    enum { D = 2000 };
    for (; batch < 60; batch++) {
        double cap = sqrt((double)D * (double)wcs_state_distinct(st));
        st_random_ids(&rnd, ids, D);
        st_commit_ids(st, batch, ids, D, words, truth);
        int64_t r = st_sql_int(db, "SELECT count(*) FROM recent");
        max_recent = r > max_recent ? r : max_recent;
        cr_assert_leq(r, (cap > WCS_STATE_RECENT_MIN ? cap : WCS_STATE_RECENT_MIN) + D,
                      "batch %" PRId64, batch);
    }
    cr_expect_gt(max_recent, WCS_STATE_RECENT_MIN + 1000, "recent never grew with the state");
    cr_expect_gt(st_sql_int(db, "SELECT count(*) FROM counts"), 10000, "nothing moved");
    cr_expect_gt(st_sql_int(db, "SELECT count(*) FROM counts AS c JOIN recent USING(word) "
                                "WHERE c.count < recent.count"),
                 0, "no word in both tables: the view's precedence is untested");
    st_check_all(path, truth);
    for (int i = 0; i < ST_WORDS; i += 97)
        cr_expect_eq(wcs_state_count(st, words[i], 6), truth[i], "%s", words[i]);

    /* A big batch goes to counts and takes recent with it. */
    for (int i = 0; i < WCS_STATE_RECENT_MIN + 1; i++)
        ids[i] = i * 3;
    st_commit_ids(st, batch++, ids, WCS_STATE_RECENT_MIN + 1, words, truth);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM recent"), 0);
    st_check_all(path, truth);

    /* And both survive a reopen. */
    st_commit_ids(st, batch++, ids, 10, words, truth);
    wcs_state_close(st);
    st = st_open(path);
    cr_expect_eq(wcs_state_last_batch(st), batch - 1);
    st_check_all(path, truth);
    int64_t total = 0;
    for (int i = 0; i < ST_WORDS; i++)
        total += truth[i];
    cr_expect_eq(wcs_state_total(st), total);
    sqlite3_close(db);
    wcs_state_close(st);
}

/* The empty word (--split spark keeps it) moves from recent to counts like
 * any other word: the first row of recent is not "after ''". */
Test(state, empty_word_moves_with_recent, .init = st_setup, .fini = st_cleanup)
{
    enum { N = WCS_STATE_RECENT_MIN + 1 };
    static char words[N][16];
    static struct wcs_group g[N];
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    sqlite3 *db = st_sql_open(path);
    struct st_batch *b = calloc(1, sizeof(*b));
    cr_assert_not_null(b);
    st_add(b, "", 0, 5);
    st_addz(b, "a", 1);
    st_commit(st, 0, b, NULL); /* small: into recent */
    cr_assert_eq(st_sql_int(db, "SELECT count(*) FROM recent"), 2);

    /* A big batch: counts takes all of recent with it. */
    for (int i = 0; i < N; i++) {
        snprintf(words[i], sizeof(words[i]), "w%05d", i);
        g[i] = (struct wcs_group){.word = words[i], .len = 6, .delta = 1};
    }
    struct wcs_group_set set = {g, N};
    size_t distinct;
    char err[512] = "";
    cr_assert_eq(wcs_state_stage(st, &set, 1, &distinct, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wcs_state_commit(st, 1, NULL, N, "{}", err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM recent"), 0);
    cr_expect_eq(st_sql_int(db, "SELECT count FROM counts WHERE word = ''"), 5);

    b->n = 0;
    st_add(b, "", 0, 1);
    st_commit(st, 2, b, NULL);
    cr_expect_eq(st_updated(b, "", 0), 6);
    cr_expect_eq(wcs_state_count(st, "", 0), 6);
    cr_expect_eq(wcs_state_distinct(st), N + 2);
    cr_expect_eq(wcs_state_total(st), 5 + 1 + N + 1);
    free(b);
    sqlite3_close(db);
    wcs_state_close(st);
}

Test(state, upgrades_version_1, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("v1.db");
    struct wcs_state *st = st_open(path);
    struct st_batch b = {0};
    st_addz(&b, "old", 3);
    st_addz(&b, "older", 1);
    st_commit(st, 0, &b, NULL);
    wcs_state_close(st);
    /* What version 1 wrote: the counts table alone. */
    sqlite3 *db = st_sql_open(path);
    st_sql_exec(db, "BEGIN; INSERT INTO counts SELECT * FROM recent; DROP VIEW word_counts;"
                    "DROP TABLE recent; CREATE VIEW word_counts(word, count) AS "
                    "SELECT word, count FROM counts; PRAGMA user_version = 1; COMMIT");
    sqlite3_close(db);

    st = st_open(path);
    b.n = 0;
    st_addz(&b, "old", 1);
    st_addz(&b, "new", 2);
    st_commit(st, 1, &b, NULL);
    cr_expect_eq(st_updatedz(&b, "old"), 4);
    cr_expect_eq(wcs_state_distinct(st), 3);
    wcs_state_close(st);
    db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "PRAGMA user_version"), WCS_STATE_SCHEMA_VERSION);
    cr_expect_eq(st_sql_int(db, "SELECT count FROM word_counts WHERE word = 'old'"), 4);
    cr_expect_eq(st_sql_int(db, "SELECT count FROM word_counts WHERE word = 'older'"), 1);
    cr_expect_eq(st_sql_int(db, "SELECT sum(count) FROM word_counts"), 7);
    sqlite3_close(db);
}

/* Versions 1 and 2 kept a Kafka source's offsets under its topic list;
 * version 3 under each topic, so that another list finds them. */
Test(state, upgrades_kafka_offsets_to_per_topic, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("v2.db");
    st_made(path, "w",
            "BEGIN; INSERT INTO offsets VALUES('kafka:t,u', 't/0', 5), ('kafka:t,u', 'u/1', 7), "
            "('kafka:u', 'u/1', 9), ('kafka:v', 'v/0', 3), ('file://in', 'in/a,b.txt', 4); "
            "PRAGMA user_version = 2; COMMIT");

    wcs_state_close(st_open(path));
    sqlite3 *db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "PRAGMA user_version"), 3);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM offsets"), 4);
    cr_expect_eq(st_sql_int(db, "SELECT offset FROM offsets WHERE source = 'kafka:t'"), 5);
    cr_expect_eq(st_sql_int(db, "SELECT offset FROM offsets WHERE source = 'kafka:u'"), 9,
                 "a row under the topic already is the newer");
    cr_expect_eq(st_sql_int(db, "SELECT offset FROM offsets WHERE source = 'kafka:v'"), 3);
    cr_expect_eq(st_sql_int(db, "SELECT offset FROM offsets WHERE source = 'file://in'"), 4);
    sqlite3_close(db);
}

Test(state, refuses_a_count_past_int64, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    st_made(path, "big", /* what only damage or a hand could write */
            "UPDATE recent SET count = 9223372036854775800 WHERE word = 'big'");

    struct wcs_state *st = st_open(path);
    struct st_batch b = {0};
    st_addz(&b, "big", 10);
    char err[512];
    cr_expect_eq(st_commit_err(st, 1, &b, NULL, err, sizeof(err)), WCS_STATE_DAMAGED);
    cr_expect_not_null(strstr(err, "damaged"), "got: %s", err);
    cr_expect_eq(wcs_state_last_batch(st), 0);
    cr_expect_eq(st_countz(st, "big"), 9223372036854775800);
    wcs_state_close(st);
}

/* A damaged page is no failure to retry: the commit says so. */
Test(state, commit_on_a_damaged_page_says_damaged, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    st_made(path, "w", /* counts of several leaves, which opening does not read */
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
            "INSERT INTO counts SELECT printf('w%05d', i), 1 FROM n");
    /* Every leaf of counts made junk. */
    sqlite3 *db = st_sql_open(path);
    int64_t page_size = st_sql_int(db, "PRAGMA page_size");
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT pageno FROM dbstat WHERE name = 'counts' AND "
                                    "pagetype = 'leaf'",
                                    -1, &q, NULL),
                 SQLITE_OK);
    char junk[512];
    memset(junk, 0xff, sizeof(junk));
    int fd = open(path, O_WRONLY), leaves = 0;
    cr_assert_geq(fd, 0);
    while (sqlite3_step(q) == SQLITE_ROW && ++leaves)
        cr_assert_eq(pwrite(fd, junk, sizeof(junk), (sqlite3_column_int64(q, 0) - 1) * page_size),
                     (ssize_t)sizeof(junk));
    close(fd);
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert_gt(leaves, 1, "no leaves of their own");

    struct wcs_state *st = st_open(path);
    struct st_batch b1 = {0};
    st_addz(&b1, "w00007", 1);
    char err[512];
    cr_expect_eq(st_commit_err(st, 1, &b1, NULL, err, sizeof(err)), WCS_STATE_DAMAGED, "%s", err);
    cr_expect_not_null(strstr(err, "malformed"), "got: %s", err);
    wcs_state_close(st);
}

/* ---- a failed commit rolls back ---------------------------------------- */

/* Make the commit fail at the counts upsert ("counts") or at the batch row
 * ("batches") through a trigger added by a second connection. */
static void st_poison(const char *path, const char *where, bool on)
{
    sqlite3 *db = st_sql_open(path);
    if (!on)
        st_sql_exec(db, "DROP TRIGGER poison");
    else if (strcmp(where, "recent") == 0) /* where a small batch's words go */
        st_sql_exec(db, "CREATE TRIGGER poison BEFORE INSERT ON recent WHEN NEW.word = 'poison' "
                        "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
    else
        st_sql_exec(db, "CREATE TRIGGER poison BEFORE INSERT ON batches "
                        "BEGIN SELECT RAISE(ABORT, 'poisoned'); END");
    sqlite3_close(db);
}

static void st_failed_commit_rolls_back(const char *where)
{
    const char *path = st_path("s.db");
    struct wcs_state *st = st_open(path);
    struct wcs_offset ov0[] = {{.source = "file:///a", .partition = "p", .offset = 10}};
    struct wcs_offsets offs0 = {.v = ov0, .n = 1, .cap = 1};
    struct st_batch b0 = {0};
    st_addz(&b0, "keep", 4);
    st_commit(st, 0, &b0, &offs0);

    st_poison(path, where, true);
    struct wcs_offset ov1[] = {{.source = "file:///a", .partition = "p", .offset = 20},
                               {.source = "file:///a", .partition = "q", .offset = 1}};
    struct wcs_offsets offs1 = {.v = ov1, .n = 2, .cap = 2};
    struct st_batch b1 = {0};
    st_addz(&b1, "keep", 1);
    st_addz(&b1, "new", 2);
    st_addz(&b1, "poison", 1);
    char err[512];
    cr_expect_eq(st_commit_err(st, 1, &b1, &offs1, err, sizeof(err)), -1, "%s: should fail", where);
    cr_expect_not_null(strstr(err, "not committed"), "got: %s", err);

    /* Nothing of batch 1 is visible, in memory or on disk. */
    cr_expect_eq(wcs_state_last_batch(st), 0);
    cr_expect_eq(wcs_state_distinct(st), 1);
    cr_expect_eq(wcs_state_total(st), 4);
    cr_expect_eq(st_countz(st, "keep"), 4);
    cr_expect_eq(st_countz(st, "new"), 0);
    struct st_seen s = st_offsets(st, "file:///a");
    cr_expect_eq(s.n, 1);
    cr_expect_eq(st_seen_off(&s, "p"), 10);
    sqlite3 *db = st_sql_open(path);
    cr_expect_eq(st_sql_int(db, "SELECT count(*) FROM batches"), 1);
    cr_expect_eq(st_sql_int(db, "SELECT sum(count) FROM word_counts"), 4);
    sqlite3_close(db);

    /* The same batch again, once the cause is gone: committed again as
     * staged, as the engine retries. */
    st_poison(path, where, false);
    cr_assert_eq(wcs_state_commit(st, 1, &offs1, 11, "{}", err, sizeof(err)), 0, "%s", err);
    memcpy(b1.updated, wcs_state_updated(st, &b1.n_updated), 3 * sizeof(*b1.updated));
    cr_assert_eq(b1.n_updated, 3);
    cr_expect_eq(b1.updated[0].count, 5);
    cr_expect_eq(b1.updated[1].count, 2);
    cr_expect_eq(b1.updated[2].count, 1);
    cr_expect_eq(wcs_state_last_batch(st), 1);
    cr_expect_eq(wcs_state_distinct(st), 3);
    cr_expect_eq(wcs_state_total(st), 8);
    s = st_offsets(st, "file:///a");
    cr_expect_eq(s.n, 2);
    cr_expect_eq(st_seen_off(&s, "p"), 20);
    wcs_state_close(st);

    /* And it is what a restart sees. */
    st = st_open(path);
    cr_expect_eq(wcs_state_last_batch(st), 1);
    cr_expect_eq(wcs_state_total(st), 8);
    cr_expect_eq(st_countz(st, "keep"), 5);
    wcs_state_close(st);
}

Test(state, failed_upsert_rolls_back, .init = st_setup, .fini = st_cleanup)
{
    st_failed_commit_rolls_back("recent");
}

Test(state, failed_batch_row_rolls_back, .init = st_setup, .fini = st_cleanup)
{
    st_failed_commit_rolls_back("batches");
}

static int64_t st_file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* With the checkpointer: the commits leave the WAL to it, the file gets
 * the batches behind them, and the WAL starts over instead of growing. */
Test(state, checkpoints_behind_the_commits, .init = st_setup, .fini = st_cleanup)
{
    const char *path = st_path("s.db");
    static char words[ST_WORDS][16];
    static int64_t truth[ST_WORDS];
    static int ids[ST_WORDS];
    char err[256], wal[512], uri[512];
    for (int i = 0; i < ST_WORDS; i++)
        snprintf(words[i], sizeof(words[i]), "w%05d", i);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(uri, sizeof(uri), "file:%s?immutable=1", path);
    struct wcs_state *st = st_open(path);
    cr_assert_eq(wcs_state_checkpoint_behind(st, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wcs_state_checkpoint_behind(st, err, sizeof(err)), 0, "a second call: no-op");
    for (int i = 0; i < 3000; i++)
        ids[i] = i * 7;
    st_commit_ids(st, 0, ids, 3000, words, truth);
    wcs_state_checkpoint(st);
    /* The file on its own (immutable: the WAL unread) has the batch. */
    sqlite3 *file;
    cr_assert_eq(sqlite3_open_v2(uri, &file, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                 SQLITE_OK);
    cr_expect_eq(st_sql_int(file, "SELECT count(*) FROM word_counts"), 3000);
    sqlite3_close(file);
    /* Commits that wait for nothing: the checkpointer keeps up, or the
     * commits wait once the WAL passes its bound. Either way the WAL stays
     * under it (pages of 16 KiB and a 24-byte frame header each). */
    int64_t bound = (WCS_STATE_WAL_MAX_FRAMES + 256) * (16384 + 24) + 32, most = 0;
    uint64_t rnd = 11;
    for (int64_t batch = 1; batch <= 400; batch++) {
        st_random_ids(&rnd, ids, 300);
        st_commit_ids(st, batch, ids, 300, words, truth);
        int64_t size = st_file_size(wal);
        most = size > most ? size : most;
        cr_assert_leq(size, bound, "batch %" PRId64, batch);
    }
    cr_log_info("the WAL grew to %" PRId64 " bytes at most", most);
    /* After a checkpoint with no commit in between, the next commit writes
     * the WAL from its start: it stays as big as it was. */
    wcs_state_checkpoint(st);
    int64_t before = st_file_size(wal);
    for (int i = 0; i < 300; i++)
        ids[i] = i;
    st_commit_ids(st, 401, ids, 300, words, truth);
    cr_expect_eq(st_file_size(wal), before, "the WAL did not start over");
    st_check_all(path, truth);
    wcs_state_close(st);
    cr_expect_eq(access(wal, F_OK), -1, "a close leaves no WAL");
    st = st_open(path);
    cr_expect_eq(wcs_state_last_batch(st), 401);
    wcs_state_close(st);
    st_check_all(path, truth);
}

/* Whether a path names the state's files: by any path (a link, ..), with
 * SQLite's -wal, -shm and -journal beside it only for a state; a file that
 * does not exist yet is placed by its directory. */
static bool names(const struct wcs_file_place *pl, bool state, const char *path)
{
    struct wcs_file_place at;
    cr_assert_eq(wcs_file_place(path, &at), 0, "%s", path);
    bool is = wcs_file_place_is(pl, state, at.dev, at.ino, at.base);
    free(at.base);
    return is;
}

Test(state, file_place_names_the_state_files, .init = st_setup, .fini = st_cleanup)
{
    struct wcs_file_place st;
    char up[256];
    cr_assert_eq(mkdir(st_path("sub"), 0700), 0);
    cr_assert_eq(symlink(st_path("s.db"), st_path("link.db")), 0);
    cr_assert_eq(wcs_file_place(st_path("s.db"), &st), 0);
    cr_expect_str_eq(st.base, "s.db");
    snprintf(up, sizeof(up), "%s/sub/../s.db-wal", st_dir);

    cr_expect(names(&st, true, st_path("s.db")));
    cr_expect(names(&st, true, up));
    cr_expect(names(&st, true, st_path("s.db-shm")));
    cr_expect(names(&st, true, st_path("s.db-journal")));
    cr_expect(!names(&st, true, st_path("s.db-walrus")));
    cr_expect(!names(&st, true, st_path("s.d")));
    cr_expect(!names(&st, true, st_path("sub/s.db")));
    cr_expect(!names(&st, false, up), "-wal is the state's only");
    /* A link is followed once its target exists, as SQLite follows it. */
    cr_expect(!names(&st, true, st_path("link.db")));
    close(open(st_path("s.db"), O_WRONLY | O_CREAT, 0600));
    cr_expect(names(&st, true, st_path("link.db")));
    free(st.base);

    cr_expect_eq(wcs_file_place("/no/such/dir/x.db", &st), -1);
}
