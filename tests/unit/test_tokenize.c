/*
 * test_tokenize.c - unit tests for the tokenizer (src/tokenize.c): the
 * pass that turns the micro-batch's bytes into words for the group-by.
 *
 * Every mode is fed its edge cases: Spark's empty words, CRLF, tabs, NUL
 * bytes, invalid UTF-8, empty input and a last line without '\n'; then
 * --lowercase (ASCII, Unicode, invalid bytes), regex errors, --split
 * parsing and chunking. Inputs are copied into buffers of their exact size
 * so that a read past the end shows up under ASan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wcstream/buf.h"
#include "wcstream/tokenize.h"

struct tok_out {
    struct wcs_word *w;
    size_t n, cap;
    size_t calls;    /* callback invocations */
    size_t maxchunk; /* largest n seen by the callback */
};

static void tok_collect(void *arg, const struct wcs_word *words, size_t n)
{
    struct tok_out *o = arg;

    o->calls++;
    if (n > o->maxchunk)
        o->maxchunk = n;
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->w = realloc(o->w, o->cap * sizeof(*o->w));
        cr_assert_not_null(o->w);
    }
    memcpy(o->w + o->n, words, n * sizeof(*words));
    o->n += n;
}

/* One run of a fresh tokenizer over an exact-size copy of the input. The
 * copy and the arena stay alive (in *copy and *a) for the checks. */
static void tok_run(struct tok_out *o, struct wcs_arena *a, char **copy, enum wcs_split mode,
                    const char *pattern, bool lower, const char *data, size_t len)
{
    char err[256] = "";
    struct wcs_tokenizer *tk = wcs_tokenizer_new(mode, pattern, lower, err, sizeof(err));
    cr_assert_not_null(tk, "tokenizer_new failed: %s", err);

    *copy = malloc(len ? len : 1);
    cr_assert_not_null(*copy);
    if (len)
        memcpy(*copy, data, len);
    memset(o, 0, sizeof(*o));
    cr_assert_eq(wcs_tokenize(tk, *copy, len, a, tok_collect, o), 0);
    wcs_tokenizer_free(tk);
}

static void tok_done(struct tok_out *o, struct wcs_arena *a, char *copy)
{
    free(o->w);
    free(copy);
    wcs_arena_free(a);
}

/* Tokenize and compare with a NULL-terminated list of expected words. */
static void tok_check(enum wcs_split mode, const char *pattern, bool lower, const char *data,
                      size_t len, const char *const *want)
{
    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    size_t nwant = 0;

    while (want[nwant])
        nwant++;
    tok_run(&o, &a, &copy, mode, pattern, lower, data, len);
    cr_expect_eq(o.n, nwant, "input \"%.*s\": got %zu words, want %zu", (int)len, data, o.n, nwant);
    for (size_t i = 0; i < o.n && i < nwant; i++) {
        size_t wl = strlen(want[i]);
        cr_expect(o.w[i].len == wl && memcmp(o.w[i].ptr, want[i], wl) == 0,
                  "input \"%.*s\": word %zu is \"%.*s\" (%zu bytes), want \"%s\"", (int)len, data,
                  i, (int)o.w[i].len, o.w[i].ptr, o.w[i].len, want[i]);
    }
    tok_done(&o, &a, copy);
}

#define CHECK(mode, pattern, lower, lit, ...)                                                      \
    tok_check(mode, pattern, lower, lit, sizeof(lit) - 1, (const char *const[]){__VA_ARGS__, NULL})
#define WS(lit, ...)          CHECK(WCS_SPLIT_WHITESPACE, NULL, false, lit, __VA_ARGS__)
#define SPARK(lit, ...)       CHECK(WCS_SPLIT_SPARK, NULL, false, lit, __VA_ARGS__)
#define WORDS(lit, ...)       CHECK(WCS_SPLIT_WORDS, NULL, false, lit, __VA_ARGS__)
#define RE(pat, lit, ...)     CHECK(WCS_SPLIT_REGEX, pat, false, lit, __VA_ARGS__)
#define LOWER(mode, lit, ...) CHECK(mode, NULL, true, lit, __VA_ARGS__)

/* ---- whitespace -------------------------------------------------------- */

Test(tokenize, whitespace_basic)
{
    WS("hello world\n", "hello", "world");
    WS("  a\t\tb \r\n c\v\fd\r\n", "a", "b", "c", "d");
    WS("one\ntwo\nthree\n", "one", "two", "three");
}

Test(tokenize, whitespace_empty_and_blank)
{
    WS("", NULL);
    WS("\n", NULL);
    WS("  \t\r\n\n\v\f ", NULL);
}

Test(tokenize, whitespace_no_trailing_newline)
{
    WS("no newline", "no", "newline");
    WS("single", "single");
    WS("trail\r", "trail");
    WS("x\r\ny", "x", "y");
    WS(" lead", "lead");
}

Test(tokenize, whitespace_crlf_and_cr_inside)
{
    WS("a\r\nb\r\n", "a", "b");
    /* \r is ASCII whitespace: it separates wherever it is */
    WS("a\rb\n", "a", "b");
}

Test(tokenize, whitespace_nul_and_invalid_utf8_are_word_bytes)
{
    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    static const char in[] = "a\0b \0 \xff\xfe x\x80y\n";

    tok_run(&o, &a, &copy, WCS_SPLIT_WHITESPACE, NULL, false, in, sizeof(in) - 1);
    cr_assert_eq(o.n, 4);
    cr_expect(o.w[0].len == 3 && memcmp(o.w[0].ptr, "a\0b", 3) == 0);
    cr_expect(o.w[1].len == 1 && o.w[1].ptr[0] == '\0');
    cr_expect(o.w[2].len == 2 && memcmp(o.w[2].ptr, "\xff\xfe", 2) == 0);
    cr_expect(o.w[3].len == 3 && memcmp(o.w[3].ptr, "x\x80y", 3) == 0);
    tok_done(&o, &a, copy);
}

Test(tokenize, whitespace_unicode_space_is_not_whitespace)
{
    /* only ASCII whitespace separates in this mode; U+00A0 is a word byte */
    WS("a\xc2\xa0"
       "b c",
       "a\xc2\xa0"
       "b",
       "c");
}

Test(tokenize, whitespace_is_zero_copy)
{
    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;

    tok_run(&o, &a, &copy, WCS_SPLIT_WHITESPACE, NULL, false, "ab  cd\nef", 9);
    cr_assert_eq(o.n, 3);
    cr_expect_eq(o.w[0].ptr, copy);
    cr_expect_eq(o.w[1].ptr, copy + 4);
    cr_expect_eq(o.w[2].ptr, copy + 7);
    cr_expect_null(a.head, "no arena memory without --lowercase");
    tok_done(&o, &a, copy);
}

/* ---- spark ------------------------------------------------------------- */

Test(tokenize, spark_split_on_single_spaces)
{
    SPARK("a b c\n", "a", "b", "c");
    SPARK("a  b\n", "a", "", "b");
    SPARK("a b \n", "a", "b", "");
    SPARK(" a\n", "", "a");
    SPARK("\n", "");
    SPARK("  \n", "", "", "");
    SPARK("  ", "", "", "");
    SPARK("x\n\ny\n", "x", "", "y");
}

Test(tokenize, spark_tabs_are_ordinary_bytes)
{
    SPARK("a\tb c\n", "a\tb", "c");
    SPARK("\t\n", "\t");
    SPARK("a\v\fb\n", "a\v\fb");
}

Test(tokenize, spark_line_ends)
{
    SPARK("", NULL);
    SPARK("x\n", "x");
    SPARK("x\n\n", "x", "");
    SPARK("x\ny", "x", "y");
    SPARK("x\r\ny\r\n", "x", "y");
    SPARK("a b\r\n", "a", "b");
    SPARK("end\r", "end");
    SPARK("\r\n", "");
    SPARK("\r", "");
    SPARK(" \r", "", "");
    /* only one \r belongs to the line end; others are word bytes */
    SPARK("a\r\r\n", "a\r");
    SPARK("a\rb\n", "a\rb");
}

Test(tokenize, spark_nul_and_invalid_bytes)
{
    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    static const char in[] = "\0 \xff\n";

    tok_run(&o, &a, &copy, WCS_SPLIT_SPARK, NULL, false, in, sizeof(in) - 1);
    cr_assert_eq(o.n, 2);
    cr_expect(o.w[0].len == 1 && o.w[0].ptr[0] == '\0');
    cr_expect(o.w[1].len == 1 && (unsigned char)o.w[1].ptr[0] == 0xff);
    tok_done(&o, &a, copy);
}

/* ---- words ------------------------------------------------------------- */

Test(tokenize, words_apostrophes_and_hyphens)
{
    WORDS("don't stop-believing\n", "don't", "stop-believing");
    WORDS("'quoted' \"double\"\n", "quoted", "double");
    WORDS("a--b a''b a-'b\n", "a", "b", "a", "b", "a", "b");
    WORDS("rock'n'roll state-of-the-art\n", "rock'n'roll", "state-of-the-art");
    WORDS("x- -y ' - '\n", "x", "y");
    WORDS("end'", "end");
    /* U+2019 and U+2010 join like ' and - */
    WORDS("don\xe2\x80\x99t", "don\xe2\x80\x99t");
    WORDS("well\xe2\x80\x90known \xe2\x80\x99tis\xe2\x80\x99", "well\xe2\x80\x90known", "tis");
    WORDS("a\xe2\x80\x90\xe2\x80\x90"
          "b",
          "a", "b");
    /* other dashes (U+2014 em dash) separate */
    WORDS("yes\xe2\x80\x94no", "yes", "no");
}

Test(tokenize, words_digits_and_punctuation)
{
    WORDS("abc123 3.14 42nd x-1\n", "abc123", "3", "14", "42nd", "x-1");
    WORDS("hello!world?(yes) [no]; a_b @c #d\n", "hello", "world", "yes", "no", "a", "b", "c", "d");
    WORDS("...!!!\n", NULL);
    WORDS("", NULL);
}

Test(tokenize, words_unicode_letters_cjk_and_marks)
{
    WORDS("caf\xc3\xa9 na\xc3\xafve\n", "caf\xc3\xa9", "na\xc3\xafve");
    /* 日本語 テスト、東京。 : CJK runs are words, CJK punctuation separates */
    WORDS("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x81"
          "\xe6\x9d\xb1\xe4\xba\xac\xe3\x80\x82",
          "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
          "\xe6\x9d\xb1\xe4\xba\xac");
    /* e + U+0301 combining acute stays in the word; a leading mark does not start one */
    WORDS("cafe\xcc\x81 x \xcc\x81y", "cafe\xcc\x81", "x", "y");
    /* U+00A0 no-break space and U+3000 ideographic space separate */
    WORDS("a\xc2\xa0"
          "b\xe3\x80\x80"
          "c",
          "a", "b", "c");
    /* Arabic-Indic digits and superscript two (N*) are word characters */
    WORDS("\xd9\xa1\xd9\xa2 x\xc2\xb2", "\xd9\xa1\xd9\xa2", "x\xc2\xb2");
    /* Greek and Cyrillic */
    WORDS("\xce\xa3\xce\x91\xce\xa3, \xd0\xbc\xd0\xb8\xd1\x80!", "\xce\xa3\xce\x91\xce\xa3",
          "\xd0\xbc\xd0\xb8\xd1\x80");
    /* emoji (So) separates */
    WORDS("hi\xf0\x9f\x98\x80there", "hi", "there");
}

Test(tokenize, words_line_ends_tabs_nul)
{
    WORDS("one\r\ntwo\r\n", "one", "two");
    WORDS("a\tb\nc", "a", "b", "c");
    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    /* NUL is an ordinary byte; it is not a letter, so it separates here */
    tok_run(&o, &a, &copy, WCS_SPLIT_WORDS, NULL, false, "a\0b", 3);
    cr_assert_eq(o.n, 2);
    cr_expect(o.w[0].len == 1 && o.w[0].ptr[0] == 'a');
    cr_expect(o.w[1].len == 1 && o.w[1].ptr[0] == 'b');
    tok_done(&o, &a, copy);
}

Test(tokenize, words_invalid_utf8_kept_as_word_bytes)
{
    WORDS("ab\xff"
          "cd \xfe\n",
          "ab\xff"
          "cd",
          "\xfe");
    /* truncated sequence at the end, stray continuation, surrogate, overlong */
    WORDS("x\xe2\x82", "x\xe2\x82");
    WORDS("\x80\x80 a", "\x80\x80", "a");
    WORDS("\xed\xa0\x80", "\xed\xa0\x80");
    WORDS("\xc0\xaf.", "\xc0\xaf");
    /* an invalid byte can sit on either side of a joiner */
    WORDS("\xff'\xff", "\xff'\xff");
}

/* ---- regex ------------------------------------------------------------- */

Test(tokenize, regex_separators)
{
    RE("[,;\\s]+", "a,b;;c  d\n,e,\n", "a", "b", "c", "d", "e");
    RE(",", "a,,b\n", "a", "b");
    RE(",", "", NULL);
    RE(",", ",,,\n\n", NULL);
    RE(",", "no-sep", "no-sep");
}

Test(tokenize, regex_is_per_line_and_strips_crlf)
{
    RE(",", "a,b\r\nc\r\n", "a", "b", "c");
    RE(",", "a,b\r", "a", "b");
    /* ^ anchors at each line start */
    RE("^#", "#a\n#b\nc#d", "a", "b", "c#d");
    /* a separator never spans lines */
    RE("x\\ny", "ax\nyb", "ax", "yb");
}

Test(tokenize, regex_empty_matches_do_not_loop)
{
    RE("x*", "axxb\n", "a", "b");
    RE("x*", "abc", "a", "b", "c");
    RE("(?:)", "ab\n", "a", "b");
    RE("\\b", "hi there", "hi", " ", "there");
    RE("x*", "\xc3\xa9\xc3\xa8", "\xc3\xa9", "\xc3\xa8");
    RE("x*", "\xff\xfe", "\xff", "\xfe");
    RE("$", "ab\ncd", "ab", "cd");
}

Test(tokenize, regex_unicode_and_invalid_subject)
{
    /* U+3001 ideographic comma as separator */
    RE("\\x{3001}", "\xe6\x97\xa5\xe6\x9c\xac\xe3\x80\x81\xe6\x9d\xb1\xe4\xba\xac",
       "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x9d\xb1\xe4\xba\xac");
    /* invalid UTF-8 in the subject is kept, never an error */
    RE(",", "\xff,\xfe\x80,ok\n", "\xff", "\xfe\x80", "ok");
    RE("\\s+", "a\xff b\xc3 c\n", "a\xff", "b\xc3", "c");
}

/* \S, \W and \D mean the same on every line: Debian 12's PCRE2 JIT gets
 * them wrong past ASCII in a pattern that accepts invalid UTF-8, so valid
 * lines are matched without that option, and the others interpreted. A
 * separator run too long for the JIT's stack (interpreted) splits the same
 * way too. \W is ASCII's, as in Java: a letter past ASCII is not a word
 * character. */
Test(tokenize, regex_classes_agree_on_every_line)
{
    RE("\\S+", "a\xc3\xa9 \xe6\x97\xa5 b\n", " ", " ");
    RE("\\W+", "na\xc3\xafve caf\xc3\xa9\n", "na", "ve", "caf");
    RE("\\D+",
       "1\xc3\xa9"
       "2\n",
       "1", "2");
    /* A byte that does not decode matches nothing, not even \W. */
    RE("\\W+", "x\xffy--\xc3\xa9z\n", "x\xffy", "z");
    /* (*UCP) makes the classes Unicode's, as README says. */
    RE("(*UCP)\\W+", "na\xc3\xafve, caf\xc3\xa9\n", "na\xc3\xafve", "caf\xc3\xa9");
    struct wcs_buf line = {0};
    cr_assert_eq(wcs_buf_append(&line, "caf\xc3\xa9", 5), 0);
    for (int i = 0; i < 20000; i++)
        cr_assert_eq(wcs_buf_append(&line, ", ", 2), 0);
    cr_assert_eq(wcs_buf_append(&line, "na\xc3\xafve\n", 7), 0);
    tok_check(WCS_SPLIT_REGEX, "(?:\\W|_)+", false, line.data, line.len,
              (const char *const[]){"caf", "na", "ve", NULL});
    wcs_buf_free(&line);
}

/* PCRE2 10.42's JIT reads a byte past the subject for \b and \B when it
 * ends in a cut or invalid UTF-8 sequence (such lines are interpreted).
 * Data that ends right before a page that cannot be read splits as it does
 * anywhere else. */
Test(tokenize, regex_never_reads_past_the_data)
{
    static const char *const patterns[] = {"\\b", "\\B", "\\s+"};
    static const char *const inputs[] = {"\xce",        "\x88",          "a\x88",
                                         "hi \xf4\x8f", "x\ny \xe2\x82", "y \xe2\x82\xac"};
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(map, MAP_FAILED);
    cr_assert_eq(mprotect(map + page, page, PROT_NONE), 0);
    for (size_t p = 0; p < sizeof(patterns) / sizeof(*patterns); p++)
        for (size_t i = 0; i < sizeof(inputs) / sizeof(*inputs); i++) {
            size_t len = strlen(inputs[i]);
            char *edge = map + page - len, *copy, err[256];
            memcpy(edge, inputs[i], len);
            struct wcs_tokenizer *tk =
                wcs_tokenizer_new(WCS_SPLIT_REGEX, patterns[p], false, err, sizeof(err));
            cr_assert_not_null(tk, "%s", err);
            struct tok_out o = {0}, ref;
            struct wcs_arena a = {0};
            cr_assert_eq(wcs_tokenize(tk, edge, len, NULL, tok_collect, &o), 0);
            wcs_tokenizer_free(tk);
            tok_run(&ref, &a, &copy, WCS_SPLIT_REGEX, patterns[p], false, inputs[i], len);
            cr_expect_eq(o.n, ref.n, "%s on input %zu: %zu words, %zu elsewhere", patterns[p], i,
                         o.n, ref.n);
            for (size_t k = 0; k < o.n && k < ref.n; k++)
                cr_expect(o.w[k].ptr - edge == ref.w[k].ptr - copy && o.w[k].len == ref.w[k].len,
                          "%s on input %zu: word %zu differs", patterns[p], i, k);
            free(o.w);
            tok_done(&ref, &a, copy);
        }
    munmap(map, 2 * page);
}

/* A match that repeats a group thousands of times outgrows the JIT's
 * 32 KiB stack; it still separates words, as it does when shorter, rather
 * than leave the rest of its line one word. */
Test(tokenize, regex_long_match_past_the_jit_stack)
{
    static const char *const patterns[] = {"(?:a|b)+,", "(a|b)*?,", "(?:\\s|-)+"};
    for (size_t p = 0; p < sizeof(patterns) / sizeof(*patterns); p++) {
        struct wcs_buf line = {0};
        const char *run = p < 2 ? "ab" : "- ";
        cr_assert_eq(wcs_buf_append(&line, "one", 3), 0);
        for (int i = 0; i < 20000; i++)
            cr_assert_eq(wcs_buf_append(&line, run, 2), 0);
        cr_assert_eq(wcs_buf_append(&line, p < 2 ? ",two\n" : "two\n", p < 2 ? 5 : 4), 0);
        tok_check(WCS_SPLIT_REGEX, patterns[p], false, line.data, line.len,
                  (const char *const[]){"one", "two", NULL});
        wcs_buf_free(&line);
    }
}

Test(tokenize, regex_with_lowercase)
{
    CHECK(WCS_SPLIT_REGEX, "[,;]", true, "Foo,BAR;baz\n", "foo", "bar", "baz");
}

Test(tokenize, regex_bad_pattern_is_an_error)
{
    char err[256] = "";
    struct wcs_tokenizer *tk = wcs_tokenizer_new(WCS_SPLIT_REGEX, "a(b", false, err, sizeof(err));
    cr_expect_null(tk);
    cr_expect(strstr(err, "a(b") != NULL, "err names the pattern: %s", err);
    cr_expect(strstr(err, "missing closing parenthesis") != NULL, "err has PCRE2's text: %s", err);
    cr_expect(strstr(err, "offset 3") != NULL, "err has the offset: %s", err);

    err[0] = '\0';
    tk = wcs_tokenizer_new(WCS_SPLIT_REGEX, "[z-a]", false, err, sizeof(err));
    cr_expect_null(tk);
    cr_expect(strstr(err, "offset") != NULL, "%s", err);

    err[0] = '\0';
    tk = wcs_tokenizer_new(WCS_SPLIT_REGEX, "", false, err, sizeof(err));
    cr_expect_null(tk);
    cr_expect(err[0] != '\0');

    err[0] = '\0';
    tk = wcs_tokenizer_new(WCS_SPLIT_REGEX, NULL, false, err, sizeof(err));
    cr_expect_null(tk);
    cr_expect(err[0] != '\0');

    /* invalid UTF-8 in the pattern itself */
    err[0] = '\0';
    tk = wcs_tokenizer_new(WCS_SPLIT_REGEX, "a\xff", false, err, sizeof(err));
    cr_expect_null(tk);
    cr_expect(strstr(err, "offset") != NULL, "%s", err);

    /* a NULL err buffer is fine too */
    cr_expect_null(wcs_tokenizer_new(WCS_SPLIT_REGEX, "(", false, NULL, 0));
}

/* ---- lowercase --------------------------------------------------------- */

Test(tokenize, lowercase_ascii)
{
    LOWER(WCS_SPLIT_WHITESPACE, "Hello WORLD plain x9Y\n", "hello", "world", "plain", "x9y");
    LOWER(WCS_SPLIT_SPARK, "A  B\n", "a", "", "b");
    LOWER(WCS_SPLIT_WORDS, "Don't Stop-Me\n", "don't", "stop-me");
    LOWER(WCS_SPLIT_WHITESPACE, "@[]`{} AZaz\n", "@[]`{}", "azaz");
}

Test(tokenize, lowercase_zero_copy_only_when_unchanged)
{
    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    static const char in[] = "plain Upper \xc3\xa9"
                             "cole \xc3\x89"
                             "COLE";

    tok_run(&o, &a, &copy, WCS_SPLIT_WHITESPACE, NULL, true, in, sizeof(in) - 1);
    cr_assert_eq(o.n, 4);
    cr_expect_eq(o.w[0].ptr, copy, "pure lower-case ASCII is passed as is");
    cr_expect_neq(o.w[1].ptr, copy + 6, "upper-case ASCII is copied");
    cr_expect(o.w[1].len == 5 && memcmp(o.w[1].ptr, "upper", 5) == 0);
    cr_expect(memcmp(copy + 6, "Upper", 5) == 0, "the batch bytes are not modified");
    cr_expect(o.w[2].len == 6 && memcmp(o.w[2].ptr,
                                        "\xc3\xa9"
                                        "cole",
                                        6) == 0);
    cr_expect_eq(o.w[2].ptr, copy + 12, "already folded Unicode is passed as is");
    cr_expect(o.w[3].len == 6 && memcmp(o.w[3].ptr,
                                        "\xc3\xa9"
                                        "cole",
                                        6) == 0);
    cr_expect_neq(o.w[3].ptr, copy + 19);
    cr_expect_not_null(a.head, "changed words live in the arena");
    tok_done(&o, &a, copy);
}

Test(tokenize, lowercase_unicode_full_case_folding)
{
    /* Straße -> strasse, ÉCOLE -> école */
    LOWER(WCS_SPLIT_WHITESPACE,
          "Stra\xc3\x9f"
          "e \xc3\x89"
          "COLE\n",
          "strasse",
          "\xc3\xa9"
          "cole");
    /* ΣΑΣ -> σασ (full folding maps every sigma to U+03C3) */
    LOWER(WCS_SPLIT_WHITESPACE, "\xce\xa3\xce\x91\xce\xa3", "\xcf\x83\xce\xb1\xcf\x83");
    /* İ (U+0130) -> i + U+0307; ﬁ (U+FB01) -> fi; ẞ (U+1E9E) -> ss */
    LOWER(WCS_SPLIT_WHITESPACE, "\xc4\xb0 \xef\xac\x81 \xe1\xba\x9e", "i\xcc\x87", "fi", "ss");
    /* ΐ (U+0390) grows from 2 to 6 bytes */
    LOWER(WCS_SPLIT_WHITESPACE, "\xce\x90", "\xce\xb9\xcc\x88\xcc\x81");
    /* Cyrillic МИР -> мир; CJK has no case */
    LOWER(WCS_SPLIT_WORDS, "\xd0\x9c\xd0\x98\xd0\xa0 \xe6\x97\xa5", "\xd0\xbc\xd0\xb8\xd1\x80",
          "\xe6\x97\xa5");
    /* words mode with U+2019 and an upper-case letter after it */
    LOWER(WCS_SPLIT_WORDS, "DON\xe2\x80\x99T", "don\xe2\x80\x99t");
}

Test(tokenize, lowercase_invalid_bytes_copied_as_is)
{
    LOWER(WCS_SPLIT_WHITESPACE,
          "\xff\xfe"
          "A",
          "\xff\xfe"
          "a");
    LOWER(WCS_SPLIT_WHITESPACE, "\xc3\x89\xc3", "\xc3\xa9\xc3");
    LOWER(WCS_SPLIT_WHITESPACE, "X\xed\xa0\x80Y", "x\xed\xa0\x80y");
    LOWER(WCS_SPLIT_SPARK, "\x80Q\xc3\x89 \xff", "\x80q\xc3\xa9", "\xff");

    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    tok_run(&o, &a, &copy, WCS_SPLIT_WHITESPACE, NULL, true, "A\0B \xc3\x89\0", 7);
    cr_assert_eq(o.n, 2);
    cr_expect(o.w[0].len == 3 && memcmp(o.w[0].ptr, "a\0b", 3) == 0);
    cr_expect(o.w[1].len == 3 && memcmp(o.w[1].ptr, "\xc3\xa9\0", 3) == 0);
    tok_done(&o, &a, copy);
}

/* A word looked up (the dashboard) is normalised as the words counted:
 * each of these, tokenized as a line of its own, is one word equal to its
 * normalised form; splitting is not applied to a looked-up word. */
Test(tokenize, normalise_agrees_with_the_words_counted)
{
    static const char *const words[] = {"The",
                                        "plain",
                                        "Stra\xc3\x9f"
                                        "e",
                                        "\xc3\x89\xff"
                                        "A",
                                        "\xce\x90",
                                        ""};
    char err[256] = "";

    for (int lower = 0; lower < 2; lower++) {
        struct wcs_tokenizer *tk =
            wcs_tokenizer_new(WCS_SPLIT_SPARK, NULL, lower, err, sizeof(err));
        cr_assert_not_null(tk, "%s", err);
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            struct tok_out o;
            struct wcs_arena a = {0}, b = {0};
            char *copy;
            size_t len = strlen(words[i]);
            char line[32];
            snprintf(line, sizeof(line), "%s\n", words[i]); /* "\n" is one empty word */
            tok_run(&o, &a, &copy, WCS_SPLIT_SPARK, NULL, lower, line, len + 1);
            cr_assert_eq(o.n, 1);
            const char *w = wcs_tokenizer_normalise(tk, words[i], &len, &b);
            cr_expect(len == o.w[0].len && memcmp(w, o.w[0].ptr, len) == 0,
                      "\"%s\" normalised to \"%.*s\", counted as \"%.*s\"", words[i], (int)len, w,
                      (int)o.w[0].len, o.w[0].ptr);
            if (!lower)
                cr_expect_eq(w, words[i], "without --lowercase a word is itself");
            tok_done(&o, &a, copy);
            wcs_arena_free(&b);
        }
        wcs_tokenizer_free(tk);
    }
    struct wcs_tokenizer *tk = wcs_tokenizer_new(WCS_SPLIT_WORDS, NULL, true, err, sizeof(err));
    struct wcs_arena a = {0};
    size_t len = 6;
    const char *w = wcs_tokenizer_normalise(tk, "Hello!", &len, &a);
    cr_expect(len == 6 && memcmp(w, "hello!", 6) == 0, "a looked-up word is not split");
    wcs_arena_free(&a);
    wcs_tokenizer_free(tk);
}

/* ---- chunking ---------------------------------------------------------- */

static void tok_chunks(enum wcs_split mode, bool lower, size_t nwords)
{
    struct wcs_buf in = {0};
    char w[32];

    for (size_t i = 0; i < nwords; i++) {
        int n = snprintf(w, sizeof(w), "W%zu%c", i, i % 7 == 6 ? '\n' : ' ');
        cr_assert_eq(wcs_buf_append(&in, w, (size_t)n), 0);
    }

    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    tok_run(&o, &a, &copy, mode, NULL, lower, in.data, in.len);
    cr_assert_eq(o.n, nwords, "got %zu words, want %zu", o.n, nwords);
    cr_expect_eq(o.maxchunk, WCS_TOKENIZE_CHUNK);
    cr_expect_eq(o.calls, (nwords + WCS_TOKENIZE_CHUNK - 1) / WCS_TOKENIZE_CHUNK);
    for (size_t i = 0; i < nwords; i++) {
        int n = snprintf(w, sizeof(w), "%c%zu", lower ? 'w' : 'W', i);
        cr_assert(o.w[i].len == (size_t)n && memcmp(o.w[i].ptr, w, (size_t)n) == 0,
                  "word %zu is \"%.*s\"", i, (int)o.w[i].len, o.w[i].ptr);
    }
    tok_done(&o, &a, copy);
    wcs_buf_free(&in);
}

Test(tokenize, chunks_arrive_complete_and_in_order)
{
    tok_chunks(WCS_SPLIT_WHITESPACE, false, 3 * WCS_TOKENIZE_CHUNK + 17);
    tok_chunks(WCS_SPLIT_WHITESPACE, false, 2 * WCS_TOKENIZE_CHUNK);
    tok_chunks(WCS_SPLIT_WHITESPACE, true, 10000);
    tok_chunks(WCS_SPLIT_WORDS, true, 9000);
}

Test(tokenize, chunks_spark_and_regex)
{
    struct wcs_buf in = {0};
    for (int i = 0; i < 5000; i++)
        cr_assert_eq(wcs_buf_append(&in, "a,b\n", 4), 0);

    struct tok_out o;
    struct wcs_arena a = {0};
    char *copy;
    tok_run(&o, &a, &copy, WCS_SPLIT_REGEX, ",", false, in.data, in.len);
    cr_assert_eq(o.n, 10000);
    cr_expect_eq(o.calls, 3);
    for (size_t i = 0; i < o.n; i++)
        cr_assert(o.w[i].len == 1 && o.w[i].ptr[0] == (i % 2 ? 'b' : 'a'));
    tok_done(&o, &a, copy);

    tok_run(&o, &a, &copy, WCS_SPLIT_SPARK, NULL, false, in.data, in.len);
    cr_assert_eq(o.n, 5000);
    cr_expect_eq(o.calls, 2);
    tok_done(&o, &a, copy);
    wcs_buf_free(&in);
}

Test(tokenize, tokenizer_is_reusable)
{
    struct wcs_tokenizer *tk = wcs_tokenizer_new(WCS_SPLIT_WHITESPACE, NULL, true, NULL, 0);
    cr_assert_not_null(tk);
    struct wcs_arena a = {0};
    struct tok_out o = {0};

    cr_assert_eq(wcs_tokenize(tk, "A B", 3, &a, tok_collect, &o), 0);
    cr_assert_eq(wcs_tokenize(tk, "C", 1, &a, tok_collect, &o), 0);
    cr_assert_eq(wcs_tokenize(tk, "", 0, &a, tok_collect, &o), 0);
    cr_assert_eq(o.n, 3);
    cr_expect_eq(o.calls, 2, "one flush per call, none for empty input");
    cr_expect(o.w[2].len == 1 && o.w[2].ptr[0] == 'c');
    free(o.w);
    wcs_arena_free(&a);
    wcs_tokenizer_free(tk);
    wcs_tokenizer_free(NULL);
}

/* ---- --split parsing --------------------------------------------------- */

Test(tokenize, split_parse_valid)
{
    enum wcs_split mode;
    const char *pat = "sentinel";
    char err[256];

    cr_expect_eq(wcs_split_parse("whitespace", &mode, &pat, err, sizeof(err)), 0);
    cr_expect_eq(mode, WCS_SPLIT_WHITESPACE);
    cr_expect_null(pat);
    cr_expect_eq(wcs_split_parse("spark", &mode, &pat, err, sizeof(err)), 0);
    cr_expect_eq(mode, WCS_SPLIT_SPARK);
    cr_expect_eq(wcs_split_parse("words", &mode, &pat, err, sizeof(err)), 0);
    cr_expect_eq(mode, WCS_SPLIT_WORDS);

    const char *spec = "regex:[,;\\s]+";
    cr_expect_eq(wcs_split_parse(spec, &mode, &pat, err, sizeof(err)), 0);
    cr_expect_eq(mode, WCS_SPLIT_REGEX);
    cr_expect_eq(pat, spec + 6, "the pattern points into spec");
    cr_expect_str_eq(pat, "[,;\\s]+");
    cr_expect_eq(wcs_split_parse("regex::", &mode, &pat, err, sizeof(err)), 0);
    cr_expect_str_eq(pat, ":");
}

Test(tokenize, split_parse_errors)
{
    static const char *const bad[] = {
        "", "Whitespace", "space", "regex:", "regex", "spark ", "words:x", "REGEX:a"};
    enum wcs_split mode;
    const char *pat;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        err[0] = '\0';
        cr_expect_eq(wcs_split_parse(bad[i], &mode, &pat, err, sizeof(err)), -1, "'%s'", bad[i]);
        cr_expect(strstr(err, "whitespace, spark, words or regex:PATTERN") != NULL,
                  "'%s': err lists the valid values: %s", bad[i], err);
    }
    cr_expect_eq(wcs_split_parse("nope", &mode, &pat, NULL, 0), -1);
}
