/*
 * test_console.c - unit tests for the console sink (sinks/console.c).
 *
 * The console sink must print what Spark's console sink prints, so every
 * table here is compared byte for byte with the text Spark's
 * Dataset.show() produces for the same rows: alignment by truncate mode,
 * the 20-character cut, display width of wide characters, the empty
 * table and the "only showing top N rows" footer. The sink itself is run
 * against a redirected, a broken and a closed stdout.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "wcstream/sink.h"

#define S(lit) (lit), (sizeof(lit) - 1) /* a literal as pointer and length */
#define BAN    "-------------------------------------------\n"

static char *render(const struct wcs_result *res, size_t num_rows, int truncate)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);

    cr_assert_not_null(mem);
    wcs_console_render(mem, res, num_rows, truncate);
    cr_assert_eq(fclose(mem), 0);
    cr_assert_eq(strlen(text), len, "rendered text holds a NUL byte");
    return text;
}

static void check_render(const struct wcs_result *res, size_t num_rows, int truncate,
                         const char *want)
{
    char *got = render(res, num_rows, truncate);

    cr_expect_str_eq(got, want);
    free(got);
}

static struct wcs_result complete(const struct wcs_row *rows, size_t n, int64_t distinct)
{
    return (struct wcs_result){
        .batch_id = 0,
        .mode = WCS_MODE_COMPLETE,
        .top = rows,
        .n_top = n,
        .distinct_words = distinct,
    };
}

Test(console, spark_example_cut_to_num_rows)
{
    struct wcs_row rows[] = {{S("the"), 3}, {S("a"), 2}, {S("cat"), 1}};
    struct wcs_result res = complete(rows, 3, 3);

    check_render(&res, 2, 1,
                 BAN "Batch: 0\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| the|    3|\n"
                     "|   a|    2|\n"
                     "+----+-----+\n"
                     "only showing top 2 rows\n"
                     "\n");
}

Test(console, all_rows_no_footer)
{
    struct wcs_row rows[] = {{S("the"), 3}, {S("a"), 2}, {S("cat"), 1}};
    struct wcs_result res = complete(rows, 3, 3);

    res.batch_id = 12;
    check_render(&res, 20, 1,
                 BAN "Batch: 12\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| the|    3|\n"
                     "|   a|    2|\n"
                     "| cat|    1|\n"
                     "+----+-----+\n"
                     "\n");
    /* exactly numRows rows in the state: nothing was cut */
    check_render(&res, 3, 1,
                 BAN "Batch: 12\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| the|    3|\n"
                     "|   a|    2|\n"
                     "| cat|    1|\n"
                     "+----+-----+\n"
                     "\n");
}

Test(console, footer_uses_distinct_words_in_complete_mode)
{
    /* the engine handed exactly numRows rows, but the state holds more */
    struct wcs_row rows[] = {{S("the"), 3}, {S("a"), 2}};
    struct wcs_result res = complete(rows, 2, 5000);

    check_render(&res, 2, 1,
                 BAN "Batch: 0\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| the|    3|\n"
                     "|   a|    2|\n"
                     "+----+-----+\n"
                     "only showing top 2 rows\n"
                     "\n");
}

Test(console, one_row_footer_is_singular)
{
    struct wcs_row rows[] = {{S("the"), 3}, {S("a"), 2}};
    struct wcs_result res = complete(rows, 2, 2);

    check_render(&res, 1, 1,
                 BAN "Batch: 0\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| the|    3|\n"
                     "+----+-----+\n"
                     "only showing top 1 row\n"
                     "\n");
}

Test(console, empty_result)
{
    struct wcs_result res = complete(NULL, 0, 0);

    res.batch_id = 7;
    check_render(&res, 20, 1,
                 BAN "Batch: 7\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "+----+-----+\n"
                     "\n");
    res.mode = WCS_MODE_UPDATE;
    check_render(&res, 20, 0,
                 BAN "Batch: 7\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "+----+-----+\n"
                     "\n");
}

Test(console, empty_word_is_empty_cell)
{
    struct wcs_row rows[] = {{S(""), 4}, {S("a"), 2}};
    struct wcs_result res = complete(rows, 2, 2);

    check_render(&res, 20, 1,
                 BAN "Batch: 0\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "|    |    4|\n"
                     "|   a|    2|\n"
                     "+----+-----+\n"
                     "\n");
}

Test(console, wide_counts_widen_column)
{
    struct wcs_row rows[] = {{S("x"), 1234567}, {S("yy"), 8}};
    struct wcs_result res = complete(rows, 2, 2);

    check_render(&res, 20, 1,
                 BAN "Batch: 0\n" BAN "+----+-------+\n"
                     "|word|  count|\n"
                     "+----+-------+\n"
                     "|   x|1234567|\n"
                     "|  yy|      8|\n"
                     "+----+-------+\n"
                     "\n");
}

Test(console, truncation_at_20_characters)
{
    struct wcs_row rows[] = {
        {S("abcdefghijklmnopqrstu"), 5}, /* 21: cut to 17 + ... */
        {S("abcdefghijklmnopqrst"), 4},  /* 20: kept */
    };
    struct wcs_result res = complete(rows, 2, 2);

    check_render(&res, 20, 1,
                 BAN "Batch: 0\n" BAN "+--------------------+-----+\n"
                     "|                word|count|\n"
                     "+--------------------+-----+\n"
                     "|abcdefghijklmnopq...|    5|\n"
                     "|abcdefghijklmnopqrst|    4|\n"
                     "+--------------------+-----+\n"
                     "\n");
}

Test(console, truncate_false_left_aligns_and_keeps_long_cells)
{
    struct wcs_row rows[] = {{S("abcdefghijklmnopqrstu"), 5}, {S("abcdefghijklmnopqrst"), 4}};
    struct wcs_result res = complete(rows, 2, 3);

    check_render(&res, 2, 0,
                 BAN "Batch: 0\n" BAN "+---------------------+-----+\n"
                     "|word                 |count|\n"
                     "+---------------------+-----+\n"
                     "|abcdefghijklmnopqrstu|5    |\n"
                     "|abcdefghijklmnopqrst |4    |\n"
                     "+---------------------+-----+\n"
                     "only showing top 2 rows\n"
                     "\n");
}

Test(console, utf8_and_cjk_width_alignment)
{
    struct wcs_row rows[] = {
        {S("\xE4\xB8\xAD\xE6\x96\x87"), 3}, /* 中文: 2 chars, 4 columns */
        {S("h\xC3\xA9llo"), 2},             /* héllo: 5 columns */
        {S("e\xCC\x81"), 1},                /* e + combining acute: 1 column */
    };
    struct wcs_result res = complete(rows, 3, 3);

    check_render(&res, 20, 1,
                 BAN "Batch: 0\n" BAN "+-----+-----+\n"
                     "| word|count|\n"
                     "+-----+-----+\n"
                     "| \xE4\xB8\xAD\xE6\x96\x87|    3|\n"
                     "|h\xC3\xA9llo|    2|\n"
                     "|    e\xCC\x81|    1|\n"
                     "+-----+-----+\n"
                     "\n");
    check_render(&res, 20, 0,
                 BAN "Batch: 0\n" BAN "+-----+-----+\n"
                     "|word |count|\n"
                     "+-----+-----+\n"
                     "|\xE4\xB8\xAD\xE6\x96\x87 |3    |\n"
                     "|h\xC3\xA9llo|2    |\n"
                     "|e\xCC\x81    |1    |\n"
                     "+-----+-----+\n"
                     "\n");
}

Test(console, cjk_truncation_counts_characters_pads_by_width)
{
    /* 21 CJK characters: cut to 17 (34 columns) + "..." = 37 columns */
    char word[21 * 3 + 1] = "", want[4096], line[256];
    struct wcs_row rows[2];
    struct wcs_result res;
    size_t i;

    for (i = 0; i < 21; i++)
        strcat(word, "\xE4\xB8\xAD");
    rows[0] = (struct wcs_row){word, strlen(word), 2};
    rows[1] = (struct wcs_row){S("a"), 1};
    res = complete(rows, 2, 2);

    strcpy(want, BAN "Batch: 0\n" BAN);
    strcpy(line, "+-------------------------------------+-----+\n"); /* 37 dashes */
    strcat(want, line);
    strcat(want, "|                                 word|count|\n");
    strcat(want, line);
    strcat(want, "|");
    for (i = 0; i < 17; i++)
        strcat(want, "\xE4\xB8\xAD");
    strcat(want, "...|    2|\n");
    strcat(want, "|                                    a|    1|\n");
    strcat(want, line);
    strcat(want, "\n");
    check_render(&res, 20, 1, want);
}

Test(console, update_mode_shows_updated_rows)
{
    struct wcs_row top[] = {{S("the"), 9}, {S("a"), 5}};
    struct wcs_row upd[] = {{S("cat"), 2}, {S("new"), 1}, {S("zoo"), 1}};
    struct wcs_result res = {
        .batch_id = 3,
        .mode = WCS_MODE_UPDATE,
        .updated = upd,
        .n_updated = 3,
        .top = top,
        .n_top = 2,
        .distinct_words = 100,
    };

    /* distinct_words > numRows does not matter in update mode */
    check_render(&res, 3, 1,
                 BAN "Batch: 3\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| cat|    2|\n"
                     "| new|    1|\n"
                     "| zoo|    1|\n"
                     "+----+-----+\n"
                     "\n");
    check_render(&res, 2, 1,
                 BAN "Batch: 3\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| cat|    2|\n"
                     "| new|    1|\n"
                     "+----+-----+\n"
                     "only showing top 2 rows\n"
                     "\n");
    /* the same result in complete mode shows the top instead */
    res.mode = WCS_MODE_COMPLETE;
    check_render(&res, 2, 1,
                 BAN "Batch: 3\n" BAN "+----+-----+\n"
                     "|word|count|\n"
                     "+----+-----+\n"
                     "| the|    9|\n"
                     "|   a|    5|\n"
                     "+----+-----+\n"
                     "only showing top 2 rows\n"
                     "\n");
}

Test(console, meta_characters_escaped_invalid_bytes_replaced)
{
    struct wcs_row rows[] = {
        {S("a\tb"), 3},                  /* Spark shows a\tb: 4 columns */
        {S("x\xFFy"), 2},                /* undecodable byte shown as U+FFFD */
        {S("aaaaaaaaaaaaaaaaaaa\n"), 1}, /* 19 + 2 shown characters: cut */
    };
    struct wcs_result res = complete(rows, 3, 3);

    check_render(&res, 20, 1,
                 BAN "Batch: 0\n" BAN "+--------------------+-----+\n"
                     "|                word|count|\n"
                     "+--------------------+-----+\n"
                     "|                a\\tb|    3|\n"
                     "|                 x\xEF\xBF\xBDy|    2|\n"
                     "|aaaaaaaaaaaaaaaaa...|    1|\n"
                     "+--------------------+-----+\n"
                     "\n");
}

/* Beyond Spark: the other control characters cannot drive the terminal. */
Test(console, other_control_characters_escaped)
{
    struct wcs_row rows[] = {
        {S("\x1b[31mred"), 3}, /* ESC: \x1b, 4 columns */
        {S("a\x01\x7f"), 2},   /* C0 and DEL */
        {S("b\xC2\x85"), 1},   /* C1: U+0085 */
    };
    struct wcs_result res = complete(rows, 3, 3);

    check_render(&res, 20, 1,
                 BAN "Batch: 0\n" BAN "+-----------+-----+\n"
                     "|       word|count|\n"
                     "+-----------+-----+\n"
                     "|\\x1b[31mred|    3|\n"
                     "|  a\\x01\\x7f|    2|\n"
                     "|    b\\u0085|    1|\n"
                     "+-----------+-----+\n"
                     "\n");
}

/* The sink, driven as the engine drives it. */

static struct wcs_result sample(void)
{
    static const struct wcs_row rows[] = {{"the", 3, 3}, {"a", 1, 2}, {"cat", 3, 1}};

    return (struct wcs_result){
        .batch_id = 4, .mode = WCS_MODE_COMPLETE, .top = rows, .n_top = 3, .distinct_words = 3};
}

Test(console, sink_defaults, .init = cr_redirect_stdout)
{
    struct wcs_uri uri = {.text = "console", .scheme = "console", .target = ""};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_console};
    struct wcs_result res = sample();
    char err[256] = "", *want = render(&res, 20, 1);

    cr_assert_str_eq(wcs_sink_console.scheme, "console");
    cr_assert_eq(wcs_sink_console.init(&sk, &uri, &env, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(sk.top_n, 20);
    cr_assert_eq(wcs_sink_console.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    wcs_sink_console.destroy(&sk);
    cr_expect_null(sk.ctx);
    cr_expect_stdout_eq_str(want);
    free(want);
}

Test(console, sink_options, .init = cr_redirect_stdout)
{
    struct wcs_uri_param params[] = {{.key = "numRows", .value = "2"},
                                     {.key = "truncate", .value = "false"}};
    struct wcs_uri uri = {.text = "console?numRows=2&truncate=false",
                          .scheme = "console",
                          .target = "",
                          .params = params,
                          .nparams = 2};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_console};
    struct wcs_result res = sample();
    char err[256] = "", *one = render(&res, 2, 0), *want;

    cr_assert_eq(wcs_sink_console.init(&sk, &uri, &env, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(sk.top_n, 2);
    cr_expect(params[0].used && params[1].used, "options not marked used");
    cr_assert_eq(wcs_sink_console.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(wcs_sink_console.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    wcs_sink_console.destroy(&sk);

    cr_assert(strstr(one, "|word|count|\n") && strstr(one, "|a   |2    |\n"));
    cr_assert(asprintf(&want, "%s%s", one, one) > 0);
    cr_expect_stdout_eq_str(want);
    free(one);
    free(want);
}

Test(console, sink_rejects_bad_options)
{
    const char *bad[][2] = {
        {"numRows", "0"}, {"numRows", "abc"}, {"numRows", "-1"}, {"truncate", "maybe"}};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wcs_uri_param p = {.key = (char *)bad[i][0], .value = (char *)bad[i][1]};
        struct wcs_uri uri = {
            .text = "console?bad", .scheme = "console", .target = "", .params = &p, .nparams = 1};
        struct wcs_sink sk = {.plugin = &wcs_sink_console};
        char err[256] = "";

        cr_expect_eq(wcs_sink_console.init(&sk, &uri, &env, err, sizeof(err)), WCS_EUSAGE, "%s=%s",
                     bad[i][0], bad[i][1]);
        cr_expect_neq(err[0], '\0', "no error sentence for %s=%s", bad[i][0], bad[i][1]);
        cr_expect_null(sk.ctx);
        wcs_sink_console.destroy(&sk); /* must accept a failed init */
    }
}

Test(console, sink_rejects_target)
{
    struct wcs_uri uri = {.text = "console://x", .scheme = "console", .target = "x"};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_console};
    char err[256] = "";

    cr_expect_eq(wcs_sink_console.init(&sk, &uri, &env, err, sizeof(err)), WCS_EUSAGE);
    cr_expect(strstr(err, "console://x") != NULL, "%s", err);
    wcs_sink_console.destroy(&sk);
}

Test(console, sink_broken_pipe_is_an_error)
{
    struct wcs_uri uri = {.text = "console", .scheme = "console", .target = ""};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_console};
    struct wcs_result res = sample();
    char err[256] = "";
    int fds[2];

    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]);
    fflush(stdout);
    cr_assert_geq(dup2(fds[1], STDOUT_FILENO), 0);
    close(fds[1]);

    cr_assert_eq(wcs_sink_console.init(&sk, &uri, &env, err, sizeof(err)), 0, "%s", err);
    for (int i = 0; i < 2; i++) {
        err[0] = '\0';
        cr_expect_eq(wcs_sink_console.emit(&sk, &res, err, sizeof(err)), -1);
        cr_expect(strstr(err, strerror(EPIPE)) != NULL, "%s", err);
        cr_expect(strstr(err, "batch 4") != NULL, "%s", err);
    }
    wcs_sink_console.destroy(&sk);
}

Test(console, sink_closed_stdout_is_an_error)
{
    struct wcs_uri uri = {.text = "console", .scheme = "console", .target = ""};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_console};
    struct wcs_result res = sample();
    char err[256] = "";

    fflush(stdout);
    close(STDOUT_FILENO);
    cr_assert_eq(wcs_sink_console.init(&sk, &uri, &env, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(wcs_sink_console.emit(&sk, &res, err, sizeof(err)), -1);
    cr_expect(strstr(err, strerror(EBADF)) != NULL, "%s", err);
    wcs_sink_console.destroy(&sk);
}

Test(console, sink_recovers_after_failed_write)
{
    struct wcs_uri uri = {.text = "console", .scheme = "console", .target = ""};
    struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE};
    struct wcs_sink sk = {.plugin = &wcs_sink_console};
    struct wcs_result res = sample();
    char err[256] = "", file[] = "/tmp/wcs_console_XXXXXX", *want = render(&res, 20, 1), *got;
    int fds[2], fd = mkstemp(file);
    FILE *f;
    size_t len = 0;

    cr_assert_geq(fd, 0);
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(wcs_sink_console.init(&sk, &uri, &env, err, sizeof(err)), 0, "%s", err);

    /* a batch into a pipe nobody reads fails... */
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]);
    fflush(stdout);
    cr_assert_geq(dup2(fds[1], STDOUT_FILENO), 0);
    close(fds[1]);
    cr_expect_eq(wcs_sink_console.emit(&sk, &res, err, sizeof(err)), -1);

    /* ...and leaves nothing behind: the next one is written whole, once */
    cr_assert_geq(dup2(fd, STDOUT_FILENO), 0);
    res.batch_id = 5;
    free(want);
    want = render(&res, 20, 1);
    cr_expect_eq(wcs_sink_console.emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    wcs_sink_console.destroy(&sk);

    f = fopen(file, "r");
    cr_assert_not_null(f);
    got = calloc(1, 4096);
    len = fread(got, 1, 4095, f);
    fclose(f);
    unlink(file);
    close(fd);
    cr_expect_eq(len, strlen(want));
    cr_expect_str_eq(got, want);
    free(got);
    free(want);
}
