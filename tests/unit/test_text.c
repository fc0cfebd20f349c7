/*
 * test_text.c - unit tests for the UTF-8/JSON helpers the sinks share
 * (src/text.c) and for the order of result rows (src/result.c).
 *
 * Words reach the sinks as arbitrary bytes, so most cases here feed
 * invalid UTF-8: overlong forms, surrogates, code points past U+10FFFF,
 * truncated sequences, stray continuation bytes and NUL bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wcstream/buf.h"
#include "wcstream/result.h"
#include "wcstream/text.h"

#define S(lit) (lit), (sizeof(lit) - 1) /* a literal as pointer and length */

/* wcs_json_string of the bytes as a NUL-terminated copy (test helper). */
static char *json_of(const char *s, size_t len)
{
    struct wcs_buf b = {0};
    char *out;

    cr_assert_eq(wcs_json_string(&b, s, len), 0);
    out = strndup(b.data, b.len);
    cr_assert(memchr(b.data, 0, b.len) == NULL, "JSON output holds a raw NUL byte");
    wcs_buf_free(&b);
    return out;
}

static void check_json(const char *s, size_t len, const char *want)
{
    char *got = json_of(s, len);

    cr_expect_str_eq(got, want);
    free(got);
}

Test(text, chars_ascii_and_multibyte)
{
    cr_expect_eq(wcs_utf8_chars(S("")), 0);
    cr_expect_eq(wcs_utf8_chars(S("hello")), 5);
    cr_expect_eq(wcs_utf8_chars(S("h\xC3\xA9llo")), 5);             /* héllo */
    cr_expect_eq(wcs_utf8_chars(S("\xE4\xB8\xAD\xE6\x96\x87")), 2); /* 中文 */
    cr_expect_eq(wcs_utf8_chars(S("\xF0\x9F\x98\x80!")), 2);        /* 😀! */
    cr_expect_eq(wcs_utf8_chars(S("\xF4\x8F\xBF\xBF")), 1);         /* U+10FFFF */
    cr_expect_eq(wcs_utf8_chars(S("\xEF\xBF\xBF")), 1);             /* U+FFFF */
    cr_expect_eq(wcs_utf8_chars(S("\xC2\x80")), 1);                 /* U+0080 */
    cr_expect_eq(wcs_utf8_chars(S("a\0b")), 3);                     /* NUL is a character */
    cr_expect_eq(wcs_utf8_chars(S("\xED\x9F\xBF\xEE\x80\x80")), 2); /* U+D7FF, U+E000 */
}

Test(text, chars_invalid_bytes_count_one_each)
{
    cr_expect_eq(wcs_utf8_chars(S("\xFF")), 1);
    cr_expect_eq(wcs_utf8_chars(S("a\x80z")), 3);           /* stray continuation */
    cr_expect_eq(wcs_utf8_chars(S("\xE2\x82")), 2);         /* truncated 3-byte */
    cr_expect_eq(wcs_utf8_chars(S("\xE2\x82z")), 3);        /* cut by ASCII */
    cr_expect_eq(wcs_utf8_chars(S("\xC0\xAF")), 2);         /* overlong '/' */
    cr_expect_eq(wcs_utf8_chars(S("\xC1\xBF")), 2);         /* overlong */
    cr_expect_eq(wcs_utf8_chars(S("\xE0\x80\xAF")), 3);     /* overlong 3-byte */
    cr_expect_eq(wcs_utf8_chars(S("\xF0\x80\x80\xAF")), 4); /* overlong 4-byte */
    cr_expect_eq(wcs_utf8_chars(S("\xED\xA0\x80")), 3);     /* surrogate U+D800 */
    cr_expect_eq(wcs_utf8_chars(S("\xED\xBF\xBF")), 3);     /* surrogate U+DFFF */
    cr_expect_eq(wcs_utf8_chars(S("\xF4\x90\x80\x80")), 4); /* U+110000 */
    cr_expect_eq(wcs_utf8_chars(S("\xF5\x80\x80\x80")), 4); /* F5 never valid */
    cr_expect_eq(wcs_utf8_chars(S("\xF0\x9F\x98")), 3);     /* truncated 4-byte */
    cr_expect_eq(wcs_utf8_chars(S("\xC3\xC3\xA9")), 2);     /* bad lead, then é */
}

Test(text, prefix)
{
    cr_expect_eq(wcs_utf8_prefix(S("hello"), 3), 3);
    cr_expect_eq(wcs_utf8_prefix(S("hello"), 0), 0);
    cr_expect_eq(wcs_utf8_prefix(S("hello"), 99), 5);
    cr_expect_eq(wcs_utf8_prefix(S("h\xC3\xA9llo"), 2), 3);
    cr_expect_eq(wcs_utf8_prefix(S("\xE4\xB8\xAD\xE6\x96\x87x"), 1), 3);
    cr_expect_eq(wcs_utf8_prefix(S("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), 1), 4);
    /* never splits a valid sequence, undecodable bytes are one each */
    cr_expect_eq(wcs_utf8_prefix(S("\xFF\xE2\x82\xAC"), 1), 1);
    cr_expect_eq(wcs_utf8_prefix(S("\xFF\xE2\x82\xAC"), 2), 4);
    cr_expect_eq(wcs_utf8_prefix(S("\xED\xA0\x80z"), 2), 2);
    cr_expect_eq(wcs_utf8_prefix(S("\xE2\x82"), 1), 1);
}

Test(text, width)
{
    cr_expect_eq(wcs_utf8_width(S("")), 0);
    cr_expect_eq(wcs_utf8_width(S("abc")), 3);
    cr_expect_eq(wcs_utf8_width(S("h\xC3\xA9llo")), 5);
    cr_expect_eq(wcs_utf8_width(S("\xE4\xB8\xAD\xE6\x96\x87")), 4); /* 中文 */
    cr_expect_eq(wcs_utf8_width(S("\xEA\xB0\x80")), 2);             /* Hangul 가 */
    cr_expect_eq(wcs_utf8_width(S("\xEF\xBC\xA1")), 2);             /* fullwidth Ａ */
    cr_expect_eq(wcs_utf8_width(S("\xF0\x9F\x98\x80")), 2);         /* 😀 */
    cr_expect_eq(wcs_utf8_width(S("e\xCC\x81")), 1);                /* e + combining acute */
    cr_expect_eq(wcs_utf8_width(S("\xFF\xFE")), 2);                 /* undecodable: 1 each */
    cr_expect_eq(wcs_utf8_width(S("\xED\xA0\x80")), 3);             /* surrogate bytes */
    cr_expect_eq(wcs_utf8_width(S("\xC0\xAF")), 2);                 /* overlong */
}

Test(text, json_plain_and_utf8_kept)
{
    check_json(S(""), "\"\"");
    check_json(NULL, 0, "\"\"");
    check_json(S("hello"), "\"hello\"");
    check_json(S("h\xC3\xA9llo"), "\"h\xC3\xA9llo\"");
    check_json(S("\xE4\xB8\xAD\xE6\x96\x87"), "\"\xE4\xB8\xAD\xE6\x96\x87\"");
    check_json(S("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");
    check_json(S("\xF4\x8F\xBF\xBF"), "\"\xF4\x8F\xBF\xBF\"");
    check_json(S("a\x7fz"), "\"a\x7fz\"");
    check_json(S("/"), "\"/\"");
}

Test(text, json_escapes)
{
    check_json(S("say \"hi\""), "\"say \\\"hi\\\"\"");
    check_json(S("a\\b"), "\"a\\\\b\"");
    check_json(S("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\"");
    check_json(S("a\0b"), "\"a\\u0000b\"");
    check_json(S("\x01\x1f\x0b"), "\"\\u0001\\u001f\\u000b\"");
}

Test(text, json_invalid_bytes_become_replacement)
{
    check_json(S("x\xFFy"), "\"x\\ufffdy\"");
    check_json(S("\xC0\xAF"), "\"\\ufffd\\ufffd\"");                       /* overlong */
    check_json(S("\xE0\x80\xAF"), "\"\\ufffd\\ufffd\\ufffd\"");            /* overlong */
    check_json(S("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate */
    check_json(S("\xF4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    check_json(S("\xE2\x82z"), "\"\\ufffd\\ufffdz\"");                     /* truncated */
    check_json(S("\xE2\x82"), "\"\\ufffd\\ufffd\"");                       /* truncated at end */
    check_json(S("\x80\xC3\xA9"), "\"\\ufffd\xC3\xA9\"");                  /* resyncs on é */
}

Test(text, json_appends_to_existing_bytes)
{
    struct wcs_buf b = {0};

    cr_assert_eq(wcs_buf_append(&b, "[", 1), 0);
    cr_assert_eq(wcs_json_string(&b, S("a\nb")), 0);
    cr_assert_eq(wcs_buf_append(&b, ",", 1), 0);
    cr_assert_eq(wcs_json_string(&b, S("\xFF")), 0);
    cr_assert_eq(b.len, strlen("[\"a\\nb\",\"\\ufffd\""));
    cr_expect(memcmp(b.data, "[\"a\\nb\",\"\\ufffd\"", b.len) == 0);
    wcs_buf_free(&b);
}

Test(text, json_long_word_with_many_escapes)
{
    char word[3000];
    struct wcs_buf b = {0};

    for (size_t i = 0; i < sizeof(word); i++)
        word[i] = i % 3 == 0 ? '\0' : i % 3 == 1 ? (char)0xFF : 'z';
    cr_assert_eq(wcs_json_string(&b, word, sizeof(word)), 0);
    /* 1000 x (\u0000 \ufffd z) plus the quotes */
    cr_assert_eq(b.len, 1000 * 13 + 2);
    cr_expect(memcmp(b.data, "\"\\u0000\\ufffdz\\u0000", 20) == 0);
    cr_expect_eq(b.data[b.len - 1], '"');
    wcs_buf_free(&b);
}

/* A log line quotes file names: nothing in it may drive the terminal. */
Test(text, escape_line_controls_and_bad_bytes)
{
    char out[64];
    size_t n = wcs_escape_line(out, sizeof(out), S("a\x1b[31mb\nc\xff\xc2\x85\xc3\xa9\t"));

    cr_expect_eq(n, strlen("a\\x1b[31mb\\nc\\xff\\u0085\xc3\xa9\\t"));
    cr_expect(memcmp(out, "a\\x1b[31mb\\nc\\xff\\u0085\xc3\xa9\\t", n) == 0);
    /* An escape that does not fit whole is left out, not cut. */
    n = wcs_escape_line(out, 6, S("abc\x1b" "d"));
    cr_expect_eq(n, 3);
    cr_expect(memcmp(out, "abc", 3) == 0);
}

/* wcs_row_cmp lives in src/result.c; its order is the order of every row
 * list a sink prints. */

static int cmp(const char *a, size_t alen, int64_t ac, const char *b, size_t blen, int64_t bc)
{
    struct wcs_row x = {.word = a, .len = alen, .count = ac};
    struct wcs_row y = {.word = b, .len = blen, .count = bc};

    return wcs_row_cmp(&x, &y);
}

Test(result, count_descending_first)
{
    cr_expect_lt(cmp(S("zebra"), 5, S("apple"), 2), 0);
    cr_expect_gt(cmp(S("apple"), 2, S("zebra"), 5), 0);
    cr_expect_lt(cmp(S("a"), INT64_MAX, S("a"), INT64_MIN), 0);
    cr_expect_gt(cmp(S("a"), -1, S("b"), 0), 0);
}

Test(result, word_ascending_bytewise)
{
    cr_expect_lt(cmp(S("apple"), 3, S("banana"), 3), 0);
    cr_expect_gt(cmp(S("banana"), 3, S("apple"), 3), 0);
    cr_expect_eq(cmp(S("same"), 3, S("same"), 3), 0);
    cr_expect_lt(cmp(S("ab"), 1, S("abc"), 1), 0); /* prefix first */
    cr_expect_gt(cmp(S("abc"), 1, S("ab"), 1), 0);
    cr_expect_lt(cmp(S(""), 1, S("a"), 1), 0); /* empty word first */
    cr_expect_eq(cmp(NULL, 0, 1, S(""), 1), 0);
    cr_expect_lt(cmp(S("z"), 1, S("\xC3\xA9"), 1), 0); /* bytes are unsigned */
    cr_expect_lt(cmp(S("B"), 1, S("a"), 1), 0);        /* no case folding */
    cr_expect_lt(cmp(S("a\0b"), 1, S("a\0c"), 1), 0);  /* past a NUL byte */
    cr_expect_gt(cmp(S("a\0"), 1, S("a"), 1), 0);
}

Test(result, qsort_order)
{
    struct wcs_row rows[] = {
        {S("b"), 1}, {S("the"), 3}, {S(""), 1}, {S("a"), 2}, {S("ab"), 2}, {S("\xFF"), 3},
    };
    const char *want[] = {"the", "\xFF", "a", "ab", "", "b"};

    qsort(rows, sizeof(rows) / sizeof(rows[0]), sizeof(rows[0]), wcs_row_cmp);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cr_expect_eq(rows[i].len, strlen(want[i]), "row %zu", i);
        cr_expect(memcmp(rows[i].word, want[i], rows[i].len) == 0, "row %zu", i);
    }
}

/* Rows are what the jsonl and ws sinks send; ws cuts long words. */
static void check_rows(const struct wcs_row *rows, size_t n, size_t max_chars, const char *want)
{
    struct wcs_buf b = {0};
    cr_assert_eq(wcs_json_rows(&b, rows, n, max_chars), 0);
    cr_expect_eq(b.len, strlen(want), "got %.*s", (int)b.len, b.data);
    cr_expect(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0, "got %.*s", (int)b.len,
              b.data);
    wcs_buf_free(&b);
}

Test(text, json_rows)
{
    const struct wcs_row rows[] = {
        {"the", 3, 12},
        {"caf\xC3\xA9", 5, 3},
        {"x\"y", 3, -1},
    };
    check_rows(rows, 0, 0, "[]");
    check_rows(rows, 1, 0, "[{\"word\":\"the\",\"count\":12}]");
    check_rows(rows, 3, 0,
               "[{\"word\":\"the\",\"count\":12},{\"word\":\"caf\xC3\xA9\",\"count\":3},"
               "{\"word\":\"x\\\"y\",\"count\":-1}]");
}

Test(text, json_rows_cut_long_words_by_characters)
{
    const struct wcs_row rows[] = {
        {"caf\xC3\xA9s", 6, 7},
        {"abc", 3, 1},
    };
    /* 4 characters: the cut keeps the two-byte é whole. */
    check_rows(rows, 2, 4,
               "[{\"word\":\"caf\xC3\xA9\",\"count\":7,\"cut\":true},{\"word\":\"abc\",\"count\":1}]");
    check_rows(rows + 1, 1, 3, "[{\"word\":\"abc\",\"count\":1}]");
}

/* A record that holds bytes that are not UTF-8 (a file's name) prints as
 * valid UTF-8: each such byte becomes U+FFFD; valid text is left alone. */
Test(text, json_print_replaces_bytes_that_do_not_decode)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "caf\xE9.txt", "ok \xC3\xA9 \xFF\xFE end");
    char *text = wcs_json_print(o);
    cr_assert_not_null(text);
    cr_expect_str_eq(text,
                     "{\"caf\xEF\xBF\xBD.txt\":\"ok \xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD end\"}");
    free(text);
    cJSON_Delete(o);

    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "w", "caf\xC3\xA9");
    text = wcs_json_print(o);
    cr_expect_str_eq(text, "{\"w\":\"caf\xC3\xA9\"}");
    free(text);
    cJSON_Delete(o);
}
