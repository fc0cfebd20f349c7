/*
 * fuzz_state.c - libFuzzer target for opening a state database
 * (src/state.c) from arbitrary bytes: a damaged file, another program's
 * SQLite database, or something that is not SQLite at all.
 *
 * The input is written to a file in a scratch directory and opened as the
 * state. wcs_state_open() must either open it, and then the state can be
 * read (a word's count, the offsets, the delivered batch, the top rows, a
 * scan) and closed, or refuse it with a sentence in err, and then the file
 * must be byte for byte what it was and no -wal, -shm or -journal file may
 * be left beside it. The read-only reader the dashboard uses is opened on
 * the same bytes too (it may refuse; it must not crash). Inputs are kept
 * small (run.sh gives -max_len); the corpus holds real state files written
 * by wcstream, vacuumed to 512-byte pages, and damaged copies of them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "wcstream/log.h"
#include "wcstream/state.h"

static char dir[256], path[300];

const char *__asan_default_options(void);

/* A damaged top_k or count may ask for gigabytes: let such an allocation
 * fail (NULL) so that the out-of-memory refusal is what gets tested. */
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=512";
}

static void write_file(const char *p, const uint8_t *data, size_t size)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0, "cannot create %s", p);
    FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size, "cannot write %s", p);
    close(fd);
}

/* The bytes of p (malloc'd), *size set; NULL when it cannot be read. */
static uint8_t *read_file(const char *p, size_t *size)
{
    struct stat sb;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint8_t *b = malloc((size_t)sb.st_size + 1);
    ssize_t n = b ? read(fd, b, (size_t)sb.st_size) : -1;
    close(fd);
    if (n != sb.st_size) {
        free(b);
        return NULL;
    }
    *size = (size_t)n;
    return b;
}

/* Empty the scratch directory. Returns how many entries there were. */
static int clear_dir(bool remove_all, char *first, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    char p[600];

    FUZZ_CHECK(d, "cannot list %s", dir);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (strcmp(e->d_name, "state.db") != 0 && first && !first[0])
            snprintf(first, len, "%s", e->d_name);
        n++;
        if (remove_all) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    return n;
}

static int count_offset(void *arg, const char *partition, int64_t offset)
{
    (void)partition, (void)offset;
    ++*(int *)arg;
    return 0;
}

static int count_rows(void *arg, const struct wcs_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(rows[i].word || rows[i].len == 0, "a scanned row without a word");
    *(size_t *)arg += n;
    return 0;
}

static int history_row(void *arg, const char *json)
{
    FUZZ_CHECK(json, "a NULL progress record");
    ++*(int *)arg;
    return 0;
}

/* An open state can be read and closed. */
static void use(struct wcs_state *st)
{
    char err[512];
    int k = 0;
    size_t rows = 0, ntop;

    FUZZ_CHECK(wcs_state_last_batch(st) >= -1, "last batch %lld",
               (long long)wcs_state_last_batch(st));
    FUZZ_CHECK(strlen(wcs_state_query_id(st)) == 36, "query id '%s'", wcs_state_query_id(st));
    (void)wcs_state_count(st, "the", 3);
    (void)wcs_state_delivered(st, "console");
    (void)wcs_state_offsets(st, "stdin", count_offset, &k, err, sizeof(err));
    const struct wcs_row *top = wcs_state_top(st, &ntop);
    for (size_t i = 0; i < ntop; i++)
        FUZZ_CHECK(top[i].word || top[i].len == 0, "a top row without a word");
    (void)wcs_state_scan(st, 7, count_rows, &rows, err, sizeof(err));
}

static void remove_dir(void)
{
    clear_dir(true, NULL, 0);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/wcs-fuzz-state.XXXXXX",
             tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir), "cannot make a scratch directory in %s", dir);
    snprintf(path, sizeof(path), "%s/state.db", dir);
    wcs_log_set_level(WCS_LOG_ERROR);
    atexit(remove_dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "", extra[256] = "";

    clear_dir(true, NULL, 0);
    write_file(path, data, size);

    struct wcs_state_reader *r = wcs_state_reader_open(path, err, sizeof(err));
    if (r) {
        int n = 0;
        (void)wcs_state_reader_count(r, "the", 3);
        (void)wcs_state_reader_history(r, 5, history_row, &n);
        wcs_state_reader_close(r);
    }
    /* Reading never writes, whatever the file holds. */
    size_t n = 0;
    uint8_t *now = read_file(path, &n);
    FUZZ_CHECK(now && n == size && (size == 0 || memcmp(now, data, size) == 0),
               "the reader changed the file");
    free(now);
    clear_dir(true, NULL, 0);
    write_file(path, data, size);

    err[0] = '\0';
    struct wcs_state *st = wcs_state_open(path, "off", WCS_STATE_TOP_MIN, err, sizeof(err));
    if (st) {
        use(st);
        wcs_state_close(st);
    } else {
        now = read_file(path, &n);
        FUZZ_CHECK(err[0], "refused without a reason");
        FUZZ_CHECK(now, "the refused file is gone (%s)", err);
        FUZZ_CHECK(n == size && (size == 0 || memcmp(now, data, size) == 0),
                   "the refused file changed (%zu bytes, was %zu): %s", n, size, err);
        free(now);
        FUZZ_CHECK(clear_dir(false, extra, sizeof(extra)) == 1, "%s left beside a refused file: %s",
                   extra, err);
    }
    clear_dir(true, NULL, 0);
    return 0;
}
