/*
 * test_jsonl.c - unit tests for the jsonl:// sink (sinks/jsonl.c).
 *
 * Each test runs the sink as the engine does (init, emit per batch,
 * destroy) on a file in a fresh temporary directory, reads the file back
 * and parses every line with cJSON: one object per batch, with the fields,
 * order of rows, topN cut and word encoding the sink promises.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <criterion/criterion.h>

#include "wcstream/sink.h"

#define S(lit) (lit), (sizeof(lit) - 1) /* a literal as pointer and length */

static char tmpdir[64];
static char path[128];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/wcs_jsonl_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/out.jsonl", tmpdir);
}

static void remove_tmpdir(void)
{
    unlink(path);
    rmdir(tmpdir);
}

static char *slurp(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    char *data;
    long n;

    cr_assert_not_null(f, "%s: %s", file, strerror(errno));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    data = malloc((size_t)n + 1);
    cr_assert_not_null(data);
    cr_assert_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* init the sink on `target` with at most one option; asserts success. */
static void open_sink(struct wcs_sink *sk, const char *target, const char *key, const char *value)
{
    struct wcs_uri_param p = {.key = (char *)key, .value = (char *)value};
    struct wcs_uri uri = {.text = "jsonl://test",
                          .scheme = "jsonl",
                          .target = (char *)target,
                          .params = key ? &p : NULL,
                          .nparams = key ? 1 : 0};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    char err[256] = "";

    *sk = (struct wcs_sink){.plugin = &wcs_sink_jsonl};
    cr_assert_eq(wcs_sink_jsonl.init(sk, &uri, &env, err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(sk->ctx);
    if (key)
        cr_assert(p.used, "option %s not marked used", key);
    /* As the engine does once the state is open. */
    struct wcs_result recovered = {.batch_id = -1, .mode = WCS_MODE_COMPLETE};
    cr_assert_eq(wcs_sink_jsonl.start(sk, &recovered, err, sizeof(err)), 0, "%s", err);
}

static void check_row(const cJSON *row, const char *word, double count)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(row, "word");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(row, "count");

    cr_assert(cJSON_IsString(w) && cJSON_IsNumber(c));
    cr_expect_str_eq(w->valuestring, word);
    cr_expect_eq(c->valuedouble, count);
}

static double number(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    cr_assert(cJSON_IsNumber(it), "%s missing or not a number", key);
    return it->valuedouble;
}

Test(jsonl, lines_fields_and_top_n, .init = make_tmpdir, .fini = remove_tmpdir)
{
    struct wcs_row top[] = {{S("the"), 9}, {S("a"), 5}, {S("cat"), 4}, {S("dog"), 1}};
    struct wcs_row upd[] = {{S("the"), 9}, {S("dog"), 1}};
    cJSON *progress = cJSON_Parse("{\"id\":\"q\",\"batchId\":0,\"durationMs\":{\"addBatch\":3}}");
    struct wcs_result res = {
        .batch_id = 0,
        .mode = WCS_MODE_COMPLETE,
        .updated = upd,
        .n_updated = 2,
        .top = top,
        .n_top = 4,
        .distinct_words = 4,
        .total_words = 19,
        .progress = progress,
    };
    struct wcs_sink sk;
    char err[256] = "", *data, *nl, *line2;
    size_t len;
    cJSON *o, *arr, *p;

    open_sink(&sk, path, "topN", "3");
    cr_expect_eq(sk.top_n, 3);
    cr_assert_eq(wcs_sink_jsonl.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    res.batch_id = 1;
    res.mode = WCS_MODE_UPDATE;
    res.progress = NULL;
    res.n_top = 2;
    cr_assert_eq(wcs_sink_jsonl.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    wcs_sink_jsonl.destroy(&sk);
    cr_expect_null(sk.ctx);

    data = slurp(path, &len);
    cr_assert_gt(len, 0);
    cr_assert_eq(data[len - 1], '\n');
    nl = strchr(data, '\n');
    line2 = nl + 1;
    cr_assert_eq(strchr(line2, '\n'), data + len - 1, "expected exactly two lines");
    *nl = '\0';
    data[len - 1] = '\0';

    /* first line: the full object */
    o = cJSON_Parse(data);
    cr_assert_not_null(o, "not JSON: %s", data);
    cr_expect_eq(number(o, "batchId"), 0);
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "outputMode")),
                     "complete");
    arr = cJSON_GetObjectItemCaseSensitive(o, "updated");
    cr_assert(cJSON_IsArray(arr));
    cr_assert_eq(cJSON_GetArraySize(arr), 2);
    check_row(cJSON_GetArrayItem(arr, 0), "the", 9);
    check_row(cJSON_GetArrayItem(arr, 1), "dog", 1);
    arr = cJSON_GetObjectItemCaseSensitive(o, "top");
    cr_assert(cJSON_IsArray(arr));
    cr_assert_eq(cJSON_GetArraySize(arr), 3, "top not cut to topN");
    check_row(cJSON_GetArrayItem(arr, 0), "the", 9);
    check_row(cJSON_GetArrayItem(arr, 1), "a", 5);
    check_row(cJSON_GetArrayItem(arr, 2), "cat", 4);
    cr_expect_eq(number(o, "distinctWords"), 4);
    cr_expect_eq(number(o, "totalWords"), 19);
    p = cJSON_GetObjectItemCaseSensitive(o, "progress");
    cr_expect(cJSON_Compare(p, progress, 1), "progress not carried over");
    /* keys in the documented order, no spaces */
    cr_expect(strncmp(data, "{\"batchId\":0,\"outputMode\":\"complete\",\"updated\":[{\"word\":",
                      55) == 0,
              "%s", data);
    cJSON_Delete(o);

    /* second line: update mode, fewer top rows than topN, no progress */
    o = cJSON_Parse(line2);
    cr_assert_not_null(o, "not JSON: %s", line2);
    cr_expect_eq(number(o, "batchId"), 1);
    cr_expect_str_eq(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "outputMode")),
                     "update");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "top")), 2);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "progress")));
    cJSON_Delete(o);

    cJSON_Delete(progress);
    free(data);
}

Test(jsonl, words_with_nul_and_invalid_bytes, .init = make_tmpdir, .fini = remove_tmpdir)
{
    struct wcs_row rows[] = {
        {S("a\0b"), 3}, {S("x\xFFy"), 2}, {S("q\"\\\n"), 1}, {S("\xE4\xB8\xAD"), 1}, {S(""), 1}};
    struct wcs_result res = {
        .batch_id = 5,
        .mode = WCS_MODE_UPDATE,
        .updated = rows,
        .n_updated = 5,
        .top = rows,
        .n_top = 5,
        .distinct_words = 5,
        .total_words = 8,
    };
    struct wcs_sink sk;
    char err[256] = "", *data;
    size_t len;
    cJSON *o, *arr;

    open_sink(&sk, path, NULL, NULL);
    cr_expect_eq(sk.top_n, 20);
    cr_assert_eq(wcs_sink_jsonl.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    wcs_sink_jsonl.destroy(&sk);

    data = slurp(path, &len);
    cr_assert_eq(strlen(data), len, "raw NUL byte in the file");
    cr_expect(strstr(data, "{\"word\":\"a\\u0000b\",\"count\":3}") != NULL, "%s", data);
    cr_expect(strstr(data, "{\"word\":\"x\\ufffdy\",\"count\":2}") != NULL, "%s", data);
    cr_expect(strstr(data, "{\"word\":\"q\\\"\\\\\\n\",\"count\":1}") != NULL, "%s", data);
    cr_expect(strstr(data, "{\"word\":\"\xE4\xB8\xAD\",\"count\":1}") != NULL, "%s", data);
    cr_expect(strstr(data, "{\"word\":\"\",\"count\":1}") != NULL, "%s", data);

    o = cJSON_Parse(data);
    cr_assert_not_null(o, "not JSON: %s", data);
    arr = cJSON_GetObjectItemCaseSensitive(o, "updated");
    cr_assert_eq(cJSON_GetArraySize(arr), 5);
    check_row(cJSON_GetArrayItem(arr, 1), "x\xEF\xBF\xBDy", 2);
    check_row(cJSON_GetArrayItem(arr, 2), "q\"\\\n", 1);
    check_row(cJSON_GetArrayItem(arr, 3), "\xE4\xB8\xAD", 1);
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "top")), 5);
    cJSON_Delete(o);
    free(data);
}

/* The line an empty batch 2 appends. */
#define BATCH_2_LINE                                                                               \
    "{\"batchId\":2,\"outputMode\":\"complete\",\"updated\":[],\"top\":[],"                        \
    "\"distinctWords\":0,\"totalWords\":0,\"progress\":null}\n"

/* Write `before` to path, append an empty batch 2 through a sink, open
 * the sink once more (the file now ends in '\n': left as it is), and
 * return the file's text. */
static char *append_batch_2(const char *before)
{
    struct wcs_result res = {.batch_id = 2, .mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk;
    char err[256] = "";
    size_t len;
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs(before, f);
    fclose(f);
    open_sink(&sk, path, NULL, NULL);
    cr_assert_eq(wcs_sink_jsonl.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    wcs_sink_jsonl.destroy(&sk);
    open_sink(&sk, path, NULL, NULL);
    wcs_sink_jsonl.destroy(&sk);
    return slurp(path, &len);
}

Test(jsonl, appends_to_existing_file, .init = make_tmpdir, .fini = remove_tmpdir)
{
    struct stat stbuf;
    char *data = append_batch_2("{\"batchId\":1}\n");
    cr_expect_str_eq(data, "{\"batchId\":1}\n" BATCH_2_LINE);
    free(data);
    cr_assert_eq(stat(path, &stbuf), 0);
    cr_expect_eq(stbuf.st_mode & 0600, 0600);
}

/* A crash in the middle of a line's write (kill -9 during a big write, a
 * power loss) leaves a half line; the next start ends it, so that its
 * first record is a whole line of JSON rather than the half one's tail.
 * The half line stays: the file may hold lines that are not ours. */
Test(jsonl, half_line_left_by_a_crash_is_ended, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char *data = append_batch_2("{\"batchId\":0}\n{\"batchId\":1,\"outputMode\":\"comp");
    cr_expect_str_eq(data, "{\"batchId\":0}\n{\"batchId\":1,\"outputMode\":\"comp\n" BATCH_2_LINE);
    free(data);
}

/* The sink is made before the state is opened, and a state in use by
 * another process is refused after: that process may be in the middle of
 * writing a line to the same file. Until start(), the file is not
 * written. */
Test(jsonl, half_line_left_alone_until_start, .init = make_tmpdir, .fini = remove_tmpdir)
{
    struct wcs_uri uri = {.text = "jsonl://test", .scheme = "jsonl", .target = path};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_jsonl};
    char err[256] = "", *data;
    size_t len;
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    fputs("{\"batchId\":7,\"outp", f);
    fclose(f);
    cr_assert_eq(wcs_sink_jsonl.init(&sk, &uri, &env, err, sizeof(err)), 0, "%s", err);
    wcs_sink_jsonl.destroy(&sk);
    data = slurp(path, &len);
    cr_expect_str_eq(data, "{\"batchId\":7,\"outp");
    free(data);
}

Test(jsonl, top_n_zero_and_bad_values, .init = make_tmpdir, .fini = remove_tmpdir)
{
    struct wcs_row rows[] = {{S("a"), 1}};
    struct wcs_result res = {.mode = WCS_MODE_COMPLETE, .top = rows, .n_top = 1};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    const char *bad[] = {"-1", "x", "2147483648"};
    struct wcs_sink sk;
    char err[256] = "", *data;
    size_t len;

    open_sink(&sk, path, "topN", "0");
    cr_expect_eq(sk.top_n, 0);
    cr_assert_eq(wcs_sink_jsonl.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    wcs_sink_jsonl.destroy(&sk);
    data = slurp(path, &len);
    cr_expect(strstr(data, "\"top\":[],") != NULL, "%s", data);
    free(data);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wcs_uri_param p = {.key = "topN", .value = (char *)bad[i]};
        struct wcs_uri uri = {
            .text = "jsonl://x", .scheme = "jsonl", .target = path, .params = &p, .nparams = 1};

        sk = (struct wcs_sink){.plugin = &wcs_sink_jsonl};
        err[0] = '\0';
        cr_expect_eq(wcs_sink_jsonl.init(&sk, &uri, &env, err, sizeof(err)), WCS_EUSAGE, "topN=%s",
                     bad[i]);
        cr_expect_neq(err[0], '\0');
        cr_expect_null(sk.ctx);
        wcs_sink_jsonl.destroy(&sk);
    }
}

Test(jsonl, open_failure_names_path_and_reason)
{
    struct wcs_uri uri = {.text = "jsonl:///nonexistent-dir-wcs/x.jsonl",
                          .scheme = "jsonl",
                          .target = "/nonexistent-dir-wcs/x.jsonl"};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_jsonl};
    char err[256] = "";

    cr_expect_eq(wcs_sink_jsonl.init(&sk, &uri, &env, err, sizeof(err)), -1);
    cr_expect(strstr(err, "/nonexistent-dir-wcs/x.jsonl") != NULL, "%s", err);
    cr_expect(strstr(err, strerror(ENOENT)) != NULL, "%s", err);
    cr_expect_null(sk.ctx);
    wcs_sink_jsonl.destroy(&sk); /* must accept a failed init */
}

Test(jsonl, empty_path_refused)
{
    struct wcs_uri uri = {.text = "jsonl://", .scheme = "jsonl", .target = ""};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_jsonl};
    char err[256] = "";

    cr_expect_eq(wcs_sink_jsonl.init(&sk, &uri, &env, err, sizeof(err)), WCS_EUSAGE);
    cr_expect_neq(err[0], '\0');
    cr_expect_null(sk.ctx);
    wcs_sink_jsonl.destroy(&sk);
}

Test(jsonl, write_failure_is_an_error)
{
    struct wcs_row rows[] = {{S("a"), 1}};
    struct wcs_result res = {.batch_id = 9, .mode = WCS_MODE_COMPLETE, .top = rows, .n_top = 1};
    struct wcs_sink sk;
    char err[256] = "";

    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("no /dev/full");
    open_sink(&sk, "/dev/full", NULL, NULL);
    cr_expect_eq(wcs_sink_jsonl.emit(&sk, &res, err, sizeof(err)), -1);
    cr_expect(strstr(err, "/dev/full") != NULL, "%s", err);
    cr_expect(strstr(err, strerror(ENOSPC)) != NULL, "%s", err);
    cr_expect(strstr(err, "batch 9") != NULL, "%s", err);
    wcs_sink_jsonl.destroy(&sk);
}
