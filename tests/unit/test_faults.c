/*
 * test_faults.c - fault injection: I/O errors and a full disk under the
 * state's commits, and out-of-memory in the engine's own code.
 *
 * vfs: a wrapper SQLite VFS, made the default here, passes everything to
 * the real one but fails the n-th write, sync or truncate: once (an I/O
 * error) or from then on (a full disk). For every n that lands inside a
 * batch commit, the commit must fail with a sentence, and then either a
 * retry of the same batch succeeds or, after a close and a reopen, the
 * state is exactly the last committed batch (counts, totals, offsets,
 * batch id, integrity_check) and the batch commits cleanly. Faults while
 * closing (the final checkpoint) must lose nothing either.
 *
 * oom: the n-th allocation made by the project's own code fails (see
 * fault_alloc.c, cJSON's included) during a whole engine run: a file
 * source, two threads,
 * small batches, a jsonl sink. For every n: no crash, no leak (checked by
 * LeakSanitizer in the ASan build and by valgrind on the release build),
 * the run either succeeds or fails with a sentence, the state holds whole
 * batches only, and a second run without faults ends with exact counts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <criterion/criterion.h>
#include <sqlite3.h>

#include "fault_alloc.h"
#include "wcstream/config.h"
#include "wcstream/engine.h"
#include "wcstream/groupby.h"
#include "wcstream/source.h"
#include "wcstream/state.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAKS() __lsan_do_recoverable_leak_check()
#else
#define LEAKS() 0 /* valgrind checks the release build */
#endif

static char dir[64];

static void make_dir(void)
{
    /* tmpfs when there is one: these tests sync thousands of times. */
    strcpy(dir, access("/dev/shm", W_OK) == 0 ? "/dev/shm/wcs-test-faults-XXXXXX"
                                              : "/tmp/wcs-test-faults-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *in_dir(const char *name)
{
    static char buf[4][256];
    static int slot;
    char *p = buf[slot++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

/* "count|sum|checksum" of a state's word_counts, read with plain SQLite. */
static void fingerprint(const char *path, char *out, size_t outlen)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT count(*) || '|' || coalesce(sum(count), 0) || '|' || "
                                    "coalesce(sum(count * (length(word) + unicode(word))), 0) "
                                    "FROM word_counts",
                                    -1, &s, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    snprintf(out, outlen, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void integrity_ok(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* ---- a VFS that fails the n-th write, sync or truncate ------------------ */

struct faulty_file {
    sqlite3_file base;
    sqlite3_file *real; /* allocated right after this struct */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs faulty_vfs;
static int ops;     /* writes, syncs and truncates since armed */
static int fail_at; /* 0: unarmed */
static bool sticky; /* a full disk: every op from fail_at on fails */
static int faults;  /* ops failed */

static int fail_with(int rc)
{
    if (fail_at == 0 || (++ops < fail_at) || (!sticky && ops > fail_at))
        return SQLITE_OK;
    faults++;
    return sticky ? SQLITE_FULL : rc;
}

#define REAL(f) (((struct faulty_file *)(f))->real)

static int ff_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int rc = fail_with(SQLITE_IOERR_WRITE);
    return rc ? rc : REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fail_with(SQLITE_IOERR_TRUNCATE);
    return rc ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int ff_sync(sqlite3_file *f, int flags)
{
    int rc = fail_with(SQLITE_IOERR_FSYNC);
    return rc ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int ff_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int ff_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int ff_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int ff_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int ff_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int ff_caps(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, p);
}

static int ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void ff_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int ff_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2: WAL's shared memory is needed; no memory-mapped I/O, so every
 * write goes through ff_write. */
static const sqlite3_io_methods faulty_io = {
    .iVersion = 2,
    .xClose = ff_close,
    .xRead = ff_read,
    .xWrite = ff_write,
    .xTruncate = ff_truncate,
    .xSync = ff_sync,
    .xFileSize = ff_size,
    .xLock = ff_lock,
    .xUnlock = ff_unlock,
    .xCheckReservedLock = ff_reserved,
    .xFileControl = ff_control,
    .xSectorSize = ff_sector,
    .xDeviceCharacteristics = ff_caps,
    .xShmMap = ff_shm_map,
    .xShmLock = ff_shm_lock,
    .xShmBarrier = ff_shm_barrier,
    .xShmUnmap = ff_shm_unmap,
};

static int ff_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
    struct faulty_file *ff = (struct faulty_file *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out);
    /* SQLite calls xClose whenever pMethods is set, even after a failure. */
    ff->base.pMethods = ff->real->pMethods ? &faulty_io : NULL;
    return rc;
}

static void vfs_setup(void)
{
    make_dir();
    real_vfs = sqlite3_vfs_find(NULL);
    faulty_vfs = *real_vfs; /* the real one's own methods see its pAppData */
    faulty_vfs.zName = "wcs-faulty";
    faulty_vfs.szOsFile = (int)sizeof(struct faulty_file) + real_vfs->szOsFile;
    faulty_vfs.xOpen = ff_open;
    cr_assert_eq(sqlite3_vfs_register(&faulty_vfs, 1), SQLITE_OK);
}

static void vfs_teardown(void)
{
    sqlite3_vfs_unregister(&faulty_vfs);
    remove_dir();
}

static void arm(int n, bool full)
{
    ops = faults = 0;
    sticky = full;
    fail_at = n;
}

static int disarm(void)
{
    fail_at = 0;
    return ops;
}

/* ---- two batches: 3,000 words, then 6,000 (1,500 of them updates) ----- */

#define WORDS 9000

static char words[WORDS][16];
static struct wcs_group b1[3000], b2[6000];

static void make_batches(void)
{
    for (int i = 0; i < WORDS; i++)
        snprintf(words[i], sizeof(words[i]), "w%07d", (i * 7919) % WORDS);
    for (int i = 0; i < 3000; i++)
        b1[i] = (struct wcs_group){.word = words[i], .len = 8, .delta = 1 + i % 5};
    for (int i = 0; i < 6000; i++)
        b2[i] = (struct wcs_group){.word = words[1500 + i], .len = 8, .delta = 2};
}

static const struct wcs_offset off1 = {"file:///in", "a.txt", 1000};
static const struct wcs_offset off2 = {"file:///in", "a.txt", 2500};

static int commit(struct wcs_state *st, int64_t id, struct wcs_group *g, size_t n,
                  const struct wcs_offset *o, char *err, size_t errlen)
{
    struct wcs_group *sorted = malloc(n * sizeof(*sorted)); /* as a sorted group-by table */
    cr_assert_not_null(sorted);
    memcpy(sorted, g, n * sizeof(*g));
    qsort(sorted, n, sizeof(*sorted), wcs_group_cmp);
    struct wcs_group_set set = {sorted, n};
    struct wcs_offsets offs = {.v = (struct wcs_offset *)o, .n = 1, .cap = 1};
    size_t distinct;
    err[0] = '\0';
    int rc = wcs_state_stage(st, &set, 1, &distinct, err, errlen) < 0
                 ? -1
                 : wcs_state_commit(st, id, &offs, (uint64_t)n, "{}", err, errlen);
    free(sorted);
    return rc;
}

static int64_t saved_offset;

static int take_offset(void *arg, const char *partition, int64_t offset)
{
    saved_offset = offset;
    return 0;
}

/* The state holds exactly batches 0..last (last is 0 or 1). */
static void expect_state(struct wcs_state *st, int64_t last)
{
    char err[256];
    cr_assert_eq(wcs_state_last_batch(st), last);
    cr_assert_eq(wcs_state_distinct(st), last ? 7500 : 3000);
    int64_t total = 0;
    for (int i = 0; i < 3000; i++)
        total += b1[i].delta;
    cr_assert_eq(wcs_state_total(st), total + (last ? 12000 : 0));
    /* A word of batch 0 only, one of both, one of batch 1 only. */
    cr_assert_eq(wcs_state_count(st, words[10], 8), b1[10].delta);
    cr_assert_eq(wcs_state_count(st, words[2000], 8), b1[2000].delta + (last ? 2 : 0));
    cr_assert_eq(wcs_state_count(st, words[7000], 8), last ? 2 : 0);
    saved_offset = -1;
    cr_assert_eq(wcs_state_offsets(st, off1.source, take_offset, NULL, err, sizeof(err)), 0);
    cr_assert_eq(saved_offset, last ? off2.offset : off1.offset);
}

static struct wcs_state *open_state(void)
{
    char err[256];
    struct wcs_state *st = wcs_state_open(in_dir("s.db"), "normal", 0, err, sizeof(err));
    cr_assert_not_null(st, "%s", err);
    return st;
}

static void remove_state(void)
{
    unlink(in_dir("s.db"));
    unlink(in_dir("s.db-wal"));
    unlink(in_dir("s.db-shm"));
}

/* Batch 0 committed, the file closed: the starting point of every round. */
static void fresh_state(void)
{
    char err[256];
    remove_state();
    struct wcs_state *st = open_state();
    cr_assert_eq(commit(st, 0, b1, 3000, &off1, err, sizeof(err)), 0, "%s", err);
    wcs_state_close(st);
}

/* How many writes, syncs and truncates committing batch 1 takes. */
static int ops_of_commit(void)
{
    char err[256];
    fresh_state();
    struct wcs_state *st = open_state();
    arm(1 << 30, false);
    cr_assert_eq(commit(st, 1, b2, 6000, &off2, err, sizeof(err)), 0, "%s", err);
    int n = disarm();
    wcs_state_close(st);
    return n;
}

/* Fail op n of batch 1's commit; then retry it at once (retry) or close,
 * reopen, check and commit it again. */
static void fail_commit(int n, bool full, bool retry)
{
    char err[256];
    fresh_state();
    struct wcs_state *st = open_state();
    arm(n, full);
    int rc = commit(st, 1, b2, 6000, &off2, err, sizeof(err));
    disarm();
    cr_assert_gt(faults, 0, "op %d: no fault happened", n);
    cr_assert_eq(rc, -1, "op %d failed but the commit succeeded", n);
    cr_assert_neq(err[0], '\0', "op %d: no sentence", n);
    expect_state(st, 0); /* the in-memory view rolled back too */
    if (!retry) {
        wcs_state_close(st);
        integrity_ok(in_dir("s.db"));
        st = open_state();
        expect_state(st, 0);
        rc = commit(st, 1, b2, 6000, &off2, err, sizeof(err));
    } else {
        struct wcs_offsets offs = {.v = (struct wcs_offset *)&off2, .n = 1, .cap = 1};
        rc = wcs_state_commit(st, 1, &offs, 6000, "{}", err, sizeof(err));
    }
    cr_assert_eq(rc, 0, "op %d: the commit after the fault failed: %s", n, err);
    expect_state(st, 1);
    wcs_state_close(st);
    integrity_ok(in_dir("s.db"));
    st = open_state();
    expect_state(st, 1);
    wcs_state_close(st);
}

TestSuite(vfs, .init = vfs_setup, .fini = vfs_teardown);

Test(vfs, every_write_of_a_commit_fails_cleanly)
{
    make_batches();
    int total = ops_of_commit();
    cr_assert_gt(total, 3, "a commit of 6,000 words should write several pages");
    cr_log_info("a batch commit: %d writes, syncs and truncates", total);
    for (int n = 1; n <= total; n++) {
        fail_commit(n, false, false);
        fail_commit(n, false, true);
        fail_commit(n, true, false);
        fail_commit(n, true, true);
    }
}

/* Making a new state, its n-th write, sync or truncate fails (once, or a
 * full disk from there on): the open fails with a sentence, or succeeds,
 * and either way the next open finds a whole state to go on with. */
Test(vfs, every_write_of_a_new_state_fails_cleanly)
{
    char err[256];
    make_batches();
    remove_state();
    arm(1 << 30, false);
    wcs_state_close(open_state());
    int total = disarm();
    cr_assert_gt(total, 2, "a new state is written and synced");
    cr_log_info("a new state, opened and closed: %d writes, syncs and truncates", total);
    for (int n = 1; n <= total; n++) {
        for (int full = 0; full < 2; full++) {
            remove_state();
            arm(n, full);
            struct wcs_state *st = wcs_state_open(in_dir("s.db"), "normal", 0, err, sizeof(err));
            if (st)
                wcs_state_close(st);
            else
                cr_assert_neq(err[0], '\0', "op %d: no sentence", n);
            disarm();
            cr_assert_gt(faults, 0, "op %d: no fault happened", n);
            st = open_state();
            cr_assert_eq(wcs_state_last_batch(st), -1, "op %d", n);
            cr_assert_eq(commit(st, 0, b1, 3000, &off1, err, sizeof(err)), 0, "op %d: %s", n, err);
            expect_state(st, 0);
            wcs_state_close(st);
            integrity_ok(in_dir("s.db"));
        }
    }
}

Test(vfs, faults_while_closing_lose_nothing)
{
    char err[256];
    make_batches();
    /* Closing checkpoints the WAL into the file: writes, syncs, truncate. */
    fresh_state();
    struct wcs_state *st = open_state();
    cr_assert_eq(commit(st, 1, b2, 6000, &off2, err, sizeof(err)), 0, "%s", err);
    arm(1 << 30, false);
    wcs_state_close(st);
    int total = disarm();
    cr_assert_gt(total, 0);
    cr_log_info("a close: %d writes, syncs and truncates", total);
    for (int n = 1; n <= total; n++) {
        for (int full = 0; full < 2; full++) {
            fresh_state();
            st = open_state();
            cr_assert_eq(commit(st, 1, b2, 6000, &off2, err, sizeof(err)), 0, "%s", err);
            arm(n, full);
            wcs_state_close(st);
            disarm();
            integrity_ok(in_dir("s.db"));
            st = open_state();
            expect_state(st, 1);
            wcs_state_close(st);
        }
    }
}

/* The checkpointer's faults (wcs_state_checkpoint_behind()): a run that
 * fails leaves the batches in the WAL, and neither the commits after it
 * nor a reopen lose any. The batches are 20 words, a few WAL frames, so
 * that only the run asked for here touches the file while armed. */
Test(vfs, faults_in_the_checkpointer_lose_nothing)
{
    char err[256];
    make_batches();
    int64_t total0 = 0;
    for (int i = 0; i < 3000; i++)
        total0 += b1[i].delta;
    int run_ops = -1;
    for (int n = 1; run_ops < 0 || n <= run_ops; n++) {
        for (int full = 0; full < 2; full++) {
            fresh_state();
            struct wcs_state *st = open_state();
            cr_assert_eq(wcs_state_checkpoint_behind(st, err, sizeof(err)), 0, "%s", err);
            cr_assert_eq(commit(st, 1, b2, 20, &off2, err, sizeof(err)), 0, "%s", err);
            arm(run_ops < 0 ? 1 << 30 : n, full);
            wcs_state_checkpoint(st); /* done by the checkpointer, waited for */
            int done = disarm();
            if (run_ops < 0) {
                run_ops = done;
                cr_assert_gt(run_ops, 0, "a checkpoint writes and syncs");
                cr_log_info("a checkpoint: %d writes, syncs and truncates", run_ops);
            } else {
                cr_assert_gt(faults, 0, "op %d: no fault happened", n);
            }
            cr_assert_eq(commit(st, 2, b2 + 20, 20, &off2, err, sizeof(err)), 0, "op %d: %s", n,
                         err);
            wcs_state_close(st);
            integrity_ok(in_dir("s.db"));
            st = open_state();
            cr_assert_eq(wcs_state_last_batch(st), 2, "op %d", n);
            cr_assert_eq(wcs_state_distinct(st), 3000); /* b2's first 40 words are b1's too */
            cr_assert_eq(wcs_state_total(st), total0 + 80);
            cr_assert_eq(wcs_state_count(st, words[1500], 8), b1[1500].delta + 2);
            wcs_state_close(st);
        }
    }
}

/* ---- out of memory in a whole engine run -------------------------------- */

#define OOM_LINES 400

static char truth[128];

static void oom_setup(void)
{
    make_dir();
    FILE *f = fopen(in_dir("in.txt"), "w");
    cr_assert_not_null(f);
    for (int i = 0; i < OOM_LINES; i++)
        fprintf(f, "the quick w%d fox w%d jumps over w%d the lazy dog\n", i % 97, i % 13, i);
    fclose(f);
    /* Every failure logs its sentence: keep them out of the test log (this
     * is the test's own process), unless WCS_TEST_STDERR is set. */
    if (!getenv("WCS_TEST_STDERR"))
        cr_assert_not_null(freopen("/dev/null", "w", stderr));
    /* The JSON our code builds (progress records, config) allocates here
     * too: this file's malloc is the wrapped one. */
    cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = malloc, .free_fn = free});
}

/* One available-now run over in.txt into state `db`. 0 or -1 with err. */
static int run_engine(const char *db, char *err, size_t errlen)
{
    char source[300], sink[300], state[300];
    snprintf(source, sizeof(source), "file://%s", in_dir("in.txt"));
    snprintf(sink, sizeof(sink), "jsonl://%s", in_dir("out.jsonl"));
    snprintf(state, sizeof(state), "%s", in_dir(db));
    char *argv[] = {
        "wcstream",  "--source",      source,    "--sink",      sink,
        "--trigger", "available-now", "--state", state,         "--max-bytes-per-trigger",
        "2KiB",      "--threads",     "2",       "--log-level", "error",
        NULL};
    struct wcs_config cf;
    bool usage = false;
    int rc = -1;
    err[0] = '\0';
    if (wcs_config_from_args(&cf, 15, argv, err, errlen) == WCS_CONFIG_OK) {
        struct wcs_engine *eng = wcs_engine_new(&cf, &usage, err, errlen);
        if (eng)
            rc = wcs_engine_run(eng, err, errlen);
        wcs_engine_free(eng);
    }
    wcs_config_free(&cf);
    return rc;
}

TestSuite(oom, .init = oom_setup, .fini = remove_dir);

Test(oom, every_allocation_of_an_engine_run_fails_cleanly)
{
    char err[512], got[128];
    cr_assert_eq(run_engine("truth.db", err, sizeof(err)), 0, "%s", err);
    fingerprint(in_dir("truth.db"), truth, sizeof(truth));
    /* How many allocations a clean run makes (threads make it vary a bit). */
    fault_alloc_arm(1L << 40);
    cr_assert_eq(run_engine("count.db", err, sizeof(err)), 0, "%s", err);
    long total = fault_alloc_disarm();
    cr_log_info("an engine run: %ld allocations", total);
    cr_assert_gt(total, 50, "%ld allocations", total);

    int failed_runs = 0;
    for (long n = 1; n <= total; n++) {
        unlink(in_dir("s.db"));
        unlink(in_dir("s.db-wal"));
        unlink(in_dir("s.db-shm"));
        fault_alloc_arm(n);
        int rc = run_engine("s.db", err, sizeof(err));
        fault_alloc_disarm();
        if (!fault_alloc_failed())
            continue; /* this run made fewer allocations */
        cr_assert_eq(LEAKS(), 0, "allocation %ld: leaks", n);
        if (rc != 0) {
            /* Whole batches only: a clean run resumes and ends exact. */
            failed_runs++;
            cr_assert_neq(err[0], '\0', "allocation %ld: failed without a sentence", n);
            cr_assert_eq(run_engine("s.db", err, sizeof(err)), 0, "allocation %ld: rerun: %s", n,
                         err);
        }
        fingerprint(in_dir("s.db"), got, sizeof(got));
        cr_assert_str_eq(got, truth, "allocation %ld (%s): counts differ", n,
                         rc ? "failed, then rerun" : "succeeded");
        integrity_ok(in_dir("s.db"));
    }
    cr_assert_gt(failed_runs, 0, "no allocation failure stopped a run: the test tests nothing");
    cr_log_info("%d of %ld runs failed with a sentence", failed_runs, total);
}
