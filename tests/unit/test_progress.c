/*
 * test_progress.c - unit tests for the per-batch progress record
 * (src/progress.c), shaped like Spark's StreamingQueryProgress, and for
 * the query/run ids.
 *
 * Covers the JSON field names and values (id, runId, batchId, an ISO-8601
 * UTC timestamp with milliseconds, input rows and rates, durationMs with
 * only the measured phases, stateOperators, sources with their offsets,
 * sink), that the record copies what it is given, and wcs_uuid's format
 * (version 4, RFC 4122 variant) and uniqueness.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wcstream/progress.h"

/* A progress record with every field set. */
static struct wcs_progress pg_sample(struct wcs_progress_source *srcs)
{
    struct wcs_progress p;
    memset(&p, 0, sizeof(p));
    p.id = "11111111-2222-4333-8444-555555555555";
    p.run_id = "66666666-7777-4888-9999-aaaaaaaaaaaa";
    p.batch_id = 42;
    p.timestamp.tv_sec = 1704164645; /* 2024-01-02T03:04:05Z */
    p.timestamp.tv_nsec = 678901234;
    p.input_rows = 1000;
    p.input_bytes = 123456;
    p.input_rows_per_second = 333.33333333;
    p.rows_total = 5000;
    p.rows_updated = 77;
    p.total_words = 90000;
    srcs[0] = (struct wcs_progress_source){.description = "socket://h:1",
                                           .start = cJSON_CreateNumber(10),
                                           .end = cJSON_CreateNumber(760),
                                           .rows = 750,
                                           .bytes = 100000,
                                           .lines_cut = 3};
    srcs[1] = (struct wcs_progress_source){.description = "file:///x", .rows = 250, .bytes = 23456};
    p.sources = srcs;
    p.nsources = 2;
    p.sink_description = "console";
    p.sink_output_rows = 20;
    return p;
}

static void pg_free_sources(struct wcs_progress_source *srcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON_Delete(srcs[i].start);
        cJSON_Delete(srcs[i].end);
    }
}

/* The number at key (which must exist and be a number). */
static double pg_num(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(it), "'%s' should be a number", key);
    return it->valuedouble;
}

/* The string at key (which must exist and be a string). */
static const char *pg_str(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsString(it), "'%s' should be a string", key);
    return it->valuestring;
}

Test(progress, top_level_fields)
{
    struct wcs_progress_source srcs[2];
    struct wcs_progress p = pg_sample(srcs);
    cJSON *o = wcs_progress_json(&p);
    cr_assert_not_null(o);
    cr_expect_str_eq(pg_str(o, "id"), p.id);
    cr_expect_str_eq(pg_str(o, "runId"), p.run_id);
    cr_expect_eq(pg_num(o, "batchId"), 42);
    cr_expect_str_eq(pg_str(o, "timestamp"), "2024-01-02T03:04:05.678Z");
    cr_expect_eq(pg_num(o, "numInputRows"), 1000);
    cr_expect_eq(pg_num(o, "numInputBytes"), 123456);
    cr_expect_eq(pg_num(o, "inputRowsPerSecond"), 333.333, "rounded to 3 decimals");
    cr_expect_eq(pg_num(o, "processedRowsPerSecond"), 0, "no phase measured: 0");
    cJSON_Delete(o);
    pg_free_sources(srcs, 2);
}

Test(progress, timestamp_format)
{
    struct wcs_progress p;
    memset(&p, 0, sizeof(p));
    p.id = p.run_id = p.sink_description = "x";
    static const struct {
        time_t sec;
        long nsec;
        const char *want;
    } cases[] = {
        {0, 0, "1970-01-01T00:00:00.000Z"},
        {0, 999999999, "1970-01-01T00:00:00.999Z"},
        {951782400, 5000000, "2000-02-29T00:00:00.005Z"},
        {1704067199, 999000, "2023-12-31T23:59:59.000Z"},
        {4102444800, 123456789, "2100-01-01T00:00:00.123Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p.timestamp.tv_sec = cases[i].sec;
        p.timestamp.tv_nsec = cases[i].nsec;
        cJSON *o = wcs_progress_json(&p);
        cr_assert_not_null(o);
        const char *ts = pg_str(o, "timestamp");
        cr_expect_str_eq(ts, cases[i].want);
        cr_expect_eq(strlen(ts), 24);
        cJSON_Delete(o);
    }
}

Test(progress, duration_only_with_measured_phases)
{
    struct wcs_progress p;
    memset(&p, 0, sizeof(p));
    p.id = p.run_id = p.sink_description = "x";
    p.input_rows = 500;
    for (int i = 0; i < WCS_PHASE_COUNT; i++)
        p.phase_ms[i] = 100.0 + i; /* set, but only measured ones count */

    cJSON *o = wcs_progress_json(&p);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "durationMs");
    cr_assert(cJSON_IsObject(d));
    cr_expect_null(d->child, "no phase measured: an empty object");
    cJSON_Delete(o);

    p.phases_done = 1u << WCS_PHASE_TOKENIZE | 1u << WCS_PHASE_STATE_COMMIT;
    p.phase_ms[WCS_PHASE_TOKENIZE] = 1.23456;
    p.phase_ms[WCS_PHASE_STATE_COMMIT] = 248.76544;
    o = wcs_progress_json(&p);
    d = cJSON_GetObjectItemCaseSensitive(o, "durationMs");
    cr_assert(cJSON_IsObject(d));
    cr_expect_eq(cJSON_GetArraySize(d), 2);
    cr_expect_eq(pg_num(d, "tokenize"), 1.235, "microsecond precision");
    cr_expect_eq(pg_num(d, "stateCommit"), 248.765);
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(d, "getBatch"));
    cr_expect_null(cJSON_GetObjectItemCaseSensitive(d, "triggerExecution"));
    /* Without triggerExecution the measured phases make up the time:
     * 500 rows in 0.25 s. */
    cr_expect_eq(pg_num(o, "processedRowsPerSecond"), 2000);
    cJSON_Delete(o);

    p.phases_done = (1u << WCS_PHASE_COUNT) - 1;
    p.phase_ms[WCS_PHASE_TRIGGER] = 400;
    o = wcs_progress_json(&p);
    d = cJSON_GetObjectItemCaseSensitive(o, "durationMs");
    static const char *const names[] = {"getBatch",    "tokenize", "aggregate",
                                        "stateCommit", "sinks",    "triggerExecution"};
    cr_expect_eq(cJSON_GetArraySize(d), 6);
    for (size_t i = 0; i < 6; i++)
        cr_expect(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, names[i])), "%s", names[i]);
    cr_expect_eq(pg_num(d, "triggerExecution"), 400);
    cr_expect_eq(pg_num(o, "processedRowsPerSecond"), 1250, "triggerExecution is the batch time");
    cJSON_Delete(o);
}

Test(progress, state_operator)
{
    struct wcs_progress_source srcs[2];
    struct wcs_progress p = pg_sample(srcs);
    cJSON *o = wcs_progress_json(&p);
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(o, "stateOperators");
    cr_assert(cJSON_IsArray(ops));
    cr_assert_eq(cJSON_GetArraySize(ops), 1);
    const cJSON *op = cJSON_GetArrayItem(ops, 0);
    cr_expect_eq(pg_num(op, "numRowsTotal"), 5000);
    cr_expect_eq(pg_num(op, "numRowsUpdated"), 77);
    cr_expect_eq(pg_num(op, "totalWords"), 90000);
    cr_expect_str_eq(pg_str(op, "operatorName"), "stateStoreSave");
    cJSON_Delete(o);
    pg_free_sources(srcs, 2);
}

Test(progress, sources_and_sink)
{
    struct wcs_progress_source srcs[2];
    struct wcs_progress p = pg_sample(srcs);
    cJSON *o = wcs_progress_json(&p);
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(o, "sources");
    cr_assert(cJSON_IsArray(ss));
    cr_assert_eq(cJSON_GetArraySize(ss), 2);

    const cJSON *s0 = cJSON_GetArrayItem(ss, 0);
    cr_expect_str_eq(pg_str(s0, "description"), "socket://h:1");
    cr_expect_eq(pg_num(s0, "startOffset"), 10);
    cr_expect_eq(pg_num(s0, "endOffset"), 760);
    cr_expect_eq(pg_num(s0, "numInputRows"), 750);
    cr_expect_eq(pg_num(s0, "inputRowsPerSecond"), 250, "its share of the rate: 333.33 * 3/4");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(s0, "metrics");
    cr_assert(cJSON_IsObject(m));
    cr_expect_eq(pg_num(m, "numInputBytes"), 100000);
    cr_expect_eq(pg_num(m, "linesCut"), 3);

    const cJSON *s1 = cJSON_GetArrayItem(ss, 1);
    cr_expect_str_eq(pg_str(s1, "description"), "file:///x");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s1, "startOffset")),
              "no offsets: null, as Spark shows them");
    cr_expect(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(s1, "endOffset")));
    cr_expect_eq(pg_num(s1, "numInputRows"), 250);

    const cJSON *sink = cJSON_GetObjectItemCaseSensitive(o, "sink");
    cr_assert(cJSON_IsObject(sink));
    cr_expect_str_eq(pg_str(sink, "description"), "console");
    cr_expect_eq(pg_num(sink, "numOutputRows"), 20);
    cJSON_Delete(o);
    pg_free_sources(srcs, 2);
}

Test(progress, offsets_are_copied_not_taken)
{
    struct wcs_progress_source srcs[2];
    struct wcs_progress p = pg_sample(srcs);
    cJSON_Delete(srcs[0].start);
    srcs[0].start = cJSON_Parse("{\"topic\":{\"0\":5,\"1\":7}}");
    cJSON *o = wcs_progress_json(&p);
    cJSON *o2 = wcs_progress_json(&p); /* twice from the same input */
    pg_free_sources(srcs, 2);          /* the records must not share them */

    const cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "sources"), 0);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(s0, "startOffset");
    cr_assert(cJSON_IsObject(st));
    const cJSON *topic = cJSON_GetObjectItemCaseSensitive(st, "topic");
    cr_expect_eq(pg_num(topic, "1"), 7);
    cJSON_Delete(o);
    cJSON_Delete(o2);
}

Test(progress, no_sources_and_big_numbers)
{
    struct wcs_progress p;
    memset(&p, 0, sizeof(p));
    p.id = p.run_id = p.sink_description = "x";
    p.batch_id = INT64_C(999999999999999); /* cJSON prints 15 significant digits */
    p.input_rows = UINT64_C(1) << 40;
    cJSON *o = wcs_progress_json(&p);
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(o, "sources");
    cr_assert(cJSON_IsArray(ss));
    cr_expect_eq(cJSON_GetArraySize(ss), 0);
    cr_expect_eq(pg_num(o, "batchId"), 999999999999999.0);
    cr_expect_eq(pg_num(o, "numInputRows"), 1099511627776.0);

    /* It prints and parses back as JSON. */
    char *text = cJSON_PrintUnformatted(o);
    cr_assert_not_null(text);
    cJSON *back = cJSON_Parse(text);
    cr_assert_not_null(back, "%s", text);
    cr_expect_eq(pg_num(back, "batchId"), 999999999999999.0);
    cr_expect_eq(pg_num(back, "numInputRows"), 1099511627776.0);
    cJSON_Delete(back);
    free(text);
    cJSON_Delete(o);
}

Test(progress, field_order_like_spark)
{
    struct wcs_progress_source srcs[2];
    struct wcs_progress p = pg_sample(srcs);
    cJSON *o = wcs_progress_json(&p);
    static const char *const order[] = {"id", "runId", "batchId", "timestamp", "numInputRows"};
    const cJSON *it = o->child;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++, it = it->next) {
        cr_assert_not_null(it);
        cr_expect_str_eq(it->string, order[i]);
    }
    cr_expect_not_null(cJSON_GetObjectItemCaseSensitive(o, "processedRowsPerSecond"));
    cJSON_Delete(o);
    pg_free_sources(srcs, 2);
}

/* ---- ids and clock ----------------------------------------------------- */

/* Check one UUID's format. */
static void pg_check_uuid(const char *u)
{
    cr_assert_eq(strlen(u), 36, "'%s'", u);
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            cr_assert_eq(u[i], '-', "'%s' at %zu", u, i);
        else
            cr_assert((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'),
                      "'%s': lower-case hex at %zu", u, i);
    }
    cr_assert_eq(u[14], '4', "'%s': version 4", u);
    cr_assert(strchr("89ab", u[19]) != NULL, "'%s': variant 10xx", u);
}

static int pg_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 37);
}

Test(progress, uuid_format_and_uniqueness)
{
    enum { N = 20000 };
    char(*ids)[37] = malloc(N * sizeof(*ids));
    cr_assert_not_null(ids);
    unsigned seen19 = 0;
    for (size_t i = 0; i < N; i++) {
        memset(ids[i], 'Z', 37);
        wcs_uuid(ids[i]);
        cr_assert_eq(ids[i][36], '\0');
        pg_check_uuid(ids[i]);
        seen19 |= 1u << (ids[i][19] <= '9' ? ids[i][19] - '0' : ids[i][19] - 'a' + 10);
    }
    cr_expect_eq(seen19, 1u << 8 | 1u << 9 | 1u << 10 | 1u << 11, "all four variant nibbles");
    qsort(ids, N, sizeof(*ids), pg_cmp);
    for (size_t i = 1; i < N; i++)
        cr_assert_neq(memcmp(ids[i - 1], ids[i], 37), 0, "duplicate id %s", ids[i]);
    /* The random positions vary: no hex digit is the same in every id. */
    for (size_t pos = 0; pos < 36; pos++) {
        if (pos == 8 || pos == 13 || pos == 14 || pos == 18 || pos == 23)
            continue;
        bool varies = false;
        for (size_t i = 1; i < N && !varies; i++)
            varies = ids[i][pos] != ids[0][pos];
        cr_expect(varies, "position %zu never changes", pos);
    }
    free(ids);
}

Test(progress, monotonic_clock)
{
    int64_t a = wcs_now_ns();
    for (int i = 0; i < 1000; i++) {
        int64_t b = wcs_now_ns();
        cr_assert_geq(b, a);
        a = b;
    }
    cr_expect_gt(a, 0);
}
