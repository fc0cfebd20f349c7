/*
 * test_framer.c - unit tests for the line framer (src/framer.c), which
 * turns the bytes of every stream source into whole lines.
 *
 * Covers: output independent of how the input is chunked (a property test
 * over random texts and random chunkings, with and without cuts), row
 * counting, the pending partial line and flush, CRLF and empty lines, and
 * the max_line cut: pieces within the limit, at whitespace when there
 * is some (taken for the line end), never inside a UTF-8 sequence, counted, and with the framer's
 * own memory bounded near max_line however long the line grows (its
 * capacity at most max_line + 2 bytes, whatever the chunks).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wcstream/buf.h"
#include "wcstream/framer.h"

/* xorshift64*: a small seeded PRNG, so failures reproduce. */
static uint64_t fr_rng_state;

static uint64_t fr_rand(void)
{
    uint64_t x = fr_rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    fr_rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t fr_below(size_t n)
{
    return (size_t)(fr_rand() % n);
}

/* A random text of about n bytes: words, spaces, tabs, CRLF and LF, empty
 * lines, multibyte UTF-8, long runs without whitespace or newline. */
static size_t fr_random_text(char *s, size_t n)
{
    static const char *const pieces[] = {
        "the", "quick",        "brown", " ",  " ", " ", "\t",           "\n",
        "\n",  "\r\n",         "\n\n",  "é",  "€", "😀", "naïve",        "fox",
        "a",   "zzzzzzzzzzzz", "\v",    "\f", "-", "'", "\xff\xfe\x80", "",
    };
    size_t len = 0;
    while (len < n) {
        const char *p;
        char run[200];
        if (fr_below(40) == 0) {
            /* a long run: letters or multibyte characters */
            size_t k = 20 + fr_below(150);
            const char *unit = fr_below(2) ? "x" : "€";
            size_t ul = strlen(unit), m = 0;
            while (m + ul < sizeof(run) && m < k)
                m += (memcpy(run + m, unit, ul), ul);
            run[m] = '\0';
            p = run;
        } else {
            p = pieces[fr_below(sizeof(pieces) / sizeof(pieces[0]))];
        }
        size_t pl = strlen(p);
        if (len + pl > n)
            break;
        memcpy(s + len, p, pl);
        len += pl;
    }
    return len;
}

/* Frame text in one feed plus a flush. */
static void fr_frame_whole(const char *text, size_t n, size_t max_line, struct wcs_buf *out,
                           uint64_t *rows, uint64_t *cuts)
{
    struct wcs_framer fr;
    wcs_framer_init(&fr, max_line);
    *rows = 0;
    cr_assert_eq(wcs_framer_feed(&fr, text, n, out, rows), 0);
    cr_assert_eq(wcs_framer_flush(&fr, out, rows), 0);
    *cuts = fr.cuts;
    wcs_framer_free(&fr);
}

/* Frame text in random chunks of 1 to maxchunk bytes plus a flush. */
static void fr_frame_chunked(const char *text, size_t n, size_t max_line, size_t maxchunk,
                             struct wcs_buf *out, uint64_t *rows, uint64_t *cuts)
{
    struct wcs_framer fr;
    wcs_framer_init(&fr, max_line);
    *rows = 0;
    size_t off = 0;
    while (off < n) {
        size_t k = 1 + fr_below(maxchunk);
        if (k > n - off)
            k = n - off;
        cr_assert_eq(wcs_framer_feed(&fr, text + off, k, out, rows), 0);
        off += k;
    }
    cr_assert_eq(wcs_framer_flush(&fr, out, rows), 0);
    *cuts = fr.cuts;
    wcs_framer_free(&fr);
}

static uint64_t fr_count_nl(const char *s, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

/* ---- chunking does not matter ------------------------------------------ */

Test(framer, chunking_invariance_without_cuts)
{
    static char text[20000];
    fr_rng_state = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 40; round++) {
        size_t n = fr_random_text(text, 500 + fr_below(sizeof(text) - 500));
        struct wcs_buf ref = {0}, got = {0};
        uint64_t rrows, rcuts, grows, gcuts;
        fr_frame_whole(text, n, 1 << 20, &ref, &rrows, &rcuts);

        /* Without cuts the output is the input, plus a '\n' for a last
         * unfinished line. */
        bool tail = n && text[n - 1] != '\n';
        cr_assert_eq(ref.len, n + tail, "round %d", round);
        cr_assert(memcmp(ref.data, text, n) == 0, "round %d", round);
        cr_assert_eq(rrows, fr_count_nl(text, n) + tail, "round %d", round);
        cr_assert_eq(rcuts, 0);

        size_t maxchunk = (size_t[]){1, 2, 3, 7, 64, 4096}[round % 6];
        fr_frame_chunked(text, n, 1 << 20, maxchunk, &got, &grows, &gcuts);
        cr_assert_eq(got.len, ref.len, "round %d, chunks <= %zu", round, maxchunk);
        cr_assert(memcmp(got.data, ref.data, ref.len) == 0, "round %d, chunks <= %zu", round,
                  maxchunk);
        cr_assert_eq(grows, rrows, "round %d", round);
        cr_assert_eq(gcuts, 0);
        wcs_buf_free(&ref);
        wcs_buf_free(&got);
    }
}

Test(framer, chunking_invariance_with_cuts)
{
    static char text[20000];
    uint64_t total_cuts = 0;
    fr_rng_state = 0xD1B54A32D192ED03ULL;
    for (int round = 0; round < 60; round++) {
        size_t n = fr_random_text(text, 200 + fr_below(sizeof(text) - 200));
        size_t max_line = 4 + fr_below(60);
        struct wcs_buf ref = {0}, got = {0};
        uint64_t rrows, rcuts, grows, gcuts;
        fr_frame_whole(text, n, max_line, &ref, &rrows, &rcuts);
        size_t maxchunk = (size_t[]){1, 2, 5, 13, 100, 3000}[round % 6];
        fr_frame_chunked(text, n, max_line, maxchunk, &got, &grows, &gcuts);
        cr_assert_eq(got.len, ref.len, "round %d, max_line %zu, chunks <= %zu", round, max_line,
                     maxchunk);
        cr_assert(memcmp(got.data, ref.data, ref.len) == 0, "round %d", round);
        cr_assert_eq(grows, rrows, "round %d", round);
        cr_assert_eq(gcuts, rcuts, "round %d", round);

        /* Every output line fits; the input is the output without the cuts'
         * line ends, each in the place of the space it took, if it took one:
         * one after a piece shorter than max_line not ending in '\r'. */
        cr_assert_eq(rrows, fr_count_nl(ref.data, ref.len));
        size_t start = 0, removed = 0, in = 0, piece = 0;
        for (size_t i = 0; i < ref.len; i++) {
            if (ref.data[i] != '\n')
                continue;
            size_t cr = i > start && ref.data[i - 1] == '\r'; /* a "\r\n" end takes no room */
            cr_assert_leq(i - start, max_line + cr, "round %d: a line of %zu bytes", round,
                          i - start);
            start = i + 1;
        }
        for (size_t i = 0; i < ref.len; i++, piece++) {
            if (in < n && ref.data[i] == text[in]) {
                in++;
            } else {
                cr_assert_eq(ref.data[i], '\n', "round %d: byte %zu", round, i);
                removed++;
                in += in < n && text[in] == ' ' && piece && piece < max_line &&
                      ref.data[i - 1] != '\r';
            }
            if (ref.data[i] == '\n')
                piece = (size_t)-1;
        }
        cr_assert_eq(in, n, "round %d: every input byte comes out, in order", round);
        bool tail = n && text[n - 1] != '\n';
        cr_assert_eq(removed, rcuts + tail, "round %d", round);
        total_cuts += rcuts;
        wcs_buf_free(&ref);
        wcs_buf_free(&got);
    }
    cr_expect_gt(total_cuts, 1000, "the texts exercise the cut (%" PRIu64 " cuts)", total_cuts);
}

/* ---- lines, rows and the pending tail ---------------------------------- */

Test(framer, partial_line_kept_until_flush)
{
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    wcs_framer_init(&fr, 100);

    cr_assert_eq(wcs_framer_feed(&fr, "abc", 3, &out, &rows), 0);
    cr_expect_eq(out.len, 0);
    cr_expect_eq(rows, 0);
    cr_expect_eq(fr.part.len, 3);
    cr_assert_eq(wcs_framer_feed(&fr, "def", 3, &out, &rows), 0);
    cr_expect_eq(out.len, 0);
    cr_assert_eq(wcs_framer_feed(&fr, "g\nhi", 4, &out, &rows), 0);
    cr_assert_eq(out.len, 8);
    cr_expect(memcmp(out.data, "abcdefg\n", 8) == 0);
    cr_expect_eq(rows, 1);
    cr_expect_eq(fr.part.len, 2);

    cr_assert_eq(wcs_framer_flush(&fr, &out, &rows), 0);
    cr_assert_eq(out.len, 11);
    cr_expect(memcmp(out.data, "abcdefg\nhi\n", 11) == 0);
    cr_expect_eq(rows, 2);
    cr_expect_eq(fr.part.len, 0);

    /* A second flush has nothing left. */
    cr_assert_eq(wcs_framer_flush(&fr, &out, &rows), 0);
    cr_expect_eq(out.len, 11);
    cr_expect_eq(rows, 2);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
    wcs_framer_free(NULL);
}

Test(framer, flush_of_empty_is_a_noop)
{
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 7;
    wcs_framer_init(&fr, 100);
    cr_expect_eq(wcs_framer_flush(&fr, &out, &rows), 0);
    cr_expect_eq(out.len, 0);
    cr_expect_eq(rows, 7);

    cr_assert_eq(wcs_framer_feed(&fr, "x\n", 2, &out, &rows), 0);
    cr_expect_eq(rows, 8);
    cr_expect_eq(wcs_framer_flush(&fr, &out, &rows), 0);
    cr_expect_eq(out.len, 2, "the line was whole: flush adds nothing");
    cr_expect_eq(rows, 8);

    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}

Test(framer, feed_of_nothing_with_a_pending_line)
{
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    wcs_framer_init(&fr, 100);
    cr_assert_eq(wcs_framer_feed(&fr, "ab", 2, &out, &rows), 0);
    cr_assert_eq(wcs_framer_feed(&fr, "", 0, &out, &rows), 0);
    cr_expect_eq(out.len, 0);
    cr_expect_eq(rows, 0);
    cr_expect_eq(fr.part.len, 2);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}

/* Feeding nothing to a framer that never kept a partial line is a no-op
 * (it once reached memmove(NULL, NULL, 0)). */
Test(framer, feed_of_nothing_on_a_fresh_framer)
{
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    wcs_framer_init(&fr, 100);
    cr_assert_eq(wcs_framer_feed(&fr, "", 0, &out, &rows), 0);
    cr_expect_eq(out.len, 0);
    cr_expect_eq(rows, 0);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}

Test(framer, rows_accumulate_in_caller_counter)
{
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 100;
    wcs_framer_init(&fr, 100);
    cr_assert_eq(wcs_framer_feed(&fr, "a\nb\nc\n\n\nd", 9, &out, &rows), 0);
    cr_expect_eq(rows, 105);
    cr_expect_eq(out.len, 8);
    cr_expect(memcmp(out.data, "a\nb\nc\n\n\n", 8) == 0);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}

Test(framer, crlf_and_odd_bytes_pass_through)
{
    static const char text[] = "one\r\ntwo\r\n\r\nnul\0byte\r\n\xff\xfe\n";
    size_t n = sizeof(text) - 1;
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    wcs_framer_init(&fr, 100);
    cr_assert_eq(wcs_framer_feed(&fr, text, n, &out, &rows), 0);
    cr_assert_eq(out.len, n);
    cr_expect(memcmp(out.data, text, n) == 0);
    cr_expect_eq(rows, 5);
    cr_expect_eq(fr.cuts, 0);

    /* Split between '\r' and '\n'. */
    struct wcs_buf out2 = {0};
    uint64_t rows2 = 0;
    cr_assert_eq(wcs_framer_feed(&fr, "a\r", 2, &out2, &rows2), 0);
    cr_expect_eq(out2.len, 0);
    cr_assert_eq(wcs_framer_feed(&fr, "\nb", 2, &out2, &rows2), 0);
    cr_assert_eq(out2.len, 3);
    cr_expect(memcmp(out2.data, "a\r\n", 3) == 0);
    cr_expect_eq(rows2, 1);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
    wcs_buf_free(&out2);
}

Test(framer, appends_after_existing_output)
{
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    cr_assert_eq(wcs_buf_append(&out, "old\n", 4), 0);
    wcs_framer_init(&fr, 100);
    cr_assert_eq(wcs_framer_feed(&fr, "new\n", 4, &out, &rows), 0);
    cr_assert_eq(out.len, 8);
    cr_expect(memcmp(out.data, "old\nnew\n", 8) == 0);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}

/* ---- max_line ---------------------------------------------------------- */

/* Check out's lines: each at most max bytes; returns the number of lines. */
static size_t fr_check_lines(const struct wcs_buf *out, size_t max)
{
    size_t start = 0, lines = 0;
    for (size_t i = 0; i < out->len; i++) {
        if (out->data[i] != '\n')
            continue;
        cr_assert_leq(i - start, max, "line %zu has %zu bytes", lines, i - start);
        start = i + 1;
        lines++;
    }
    cr_assert_eq(start, out->len, "output ends with a whole line");
    return lines;
}

Test(framer, exact_limit_is_not_cut)
{
    char line[1002];
    memset(line, 'x', 1000);
    line[1000] = '\n';
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    wcs_framer_init(&fr, 1000);
    cr_assert_eq(wcs_framer_feed(&fr, line, 1001, &out, &rows), 0);
    cr_expect_eq(out.len, 1001);
    cr_expect_eq(rows, 1);
    cr_expect_eq(fr.cuts, 0);

    /* One more byte and it is cut once. */
    line[1000] = 'x';
    line[1001] = '\n';
    out.len = 0;
    rows = 0;
    cr_assert_eq(wcs_framer_feed(&fr, line, 1002, &out, &rows), 0);
    cr_expect_eq(out.len, 1003);
    cr_expect_eq(rows, 2);
    cr_expect_eq(fr.cuts, 1);
    cr_expect_eq(out.data[1000], '\n');
    cr_expect_eq(out.data[1001], 'x');
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}

/* The '\r' of a "\r\n" end takes no room: a line of exactly the limit
 * written by a CRLF program is not cut (its cut left "\r" as a line of its
 * own, an empty word in Spark's split), whole or fed a byte at a time, and
 * at the end of the stream. A '\r' inside the line still counts. */
Test(framer, exact_limit_with_crlf_is_not_cut)
{
    char line[1003];
    memset(line, 'x', 1000);
    memcpy(line + 1000, "\r\n", 2);
    struct wcs_buf one = {0}, bytes = {0};
    uint64_t rows, cuts;
    fr_frame_whole(line, 1002, 1000, &one, &rows, &cuts);
    cr_expect_eq(one.len, 1002);
    cr_expect(memcmp(one.data, line, 1002) == 0);
    cr_expect_eq(rows, 1);
    cr_expect_eq(cuts, 0);
    fr_frame_chunked(line, 1002, 1000, 1, &bytes, &rows, &cuts);
    cr_expect_eq(bytes.len, 1002);
    cr_expect(memcmp(bytes.data, line, 1002) == 0);
    cr_expect_eq(cuts, 0);

    /* Its '\n' not there yet: the '\r' is held, the line not cut. */
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    rows = 0;
    wcs_framer_init(&fr, 1000);
    cr_assert_eq(wcs_framer_feed(&fr, line, 1001, &out, &rows), 0);
    cr_expect_eq(out.len, 0);
    cr_expect_eq(fr.part.len, 1001);
    cr_assert_eq(wcs_framer_flush(&fr, &out, &rows), 0);
    cr_expect_eq(out.len, 1002);
    cr_expect_eq(fr.cuts, 0);

    /* A '\r' that the line goes on after is a byte like another. */
    memcpy(line + 1000, "\ry\n", 3);
    out.len = 0;
    for (size_t i = 0; i < 1003; i++)
        cr_assert_eq(wcs_framer_feed(&fr, line + i, 1, &out, &rows), 0);
    cr_expect_eq(fr.cuts, 1);
    cr_expect_eq(out.len, 1004);
    cr_expect(memcmp(out.data + 1000, "\n\ry\n", 4) == 0);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
    wcs_buf_free(&one);
    wcs_buf_free(&bytes);
}

Test(framer, long_line_without_spaces)
{
    enum { N = 10 * 1024 };
    char *line = malloc(N + 1);
    cr_assert_not_null(line);
    for (size_t i = 0; i < N; i++)
        line[i] = (char)('a' + i % 26);
    line[N] = '\n';

    /* In one feed, in chunks, and without the newline (then flushed). */
    for (int how = 0; how < 3; how++) {
        struct wcs_framer fr;
        struct wcs_buf out = {0};
        uint64_t rows = 0;
        wcs_framer_init(&fr, 1000);
        if (how == 0) {
            cr_assert_eq(wcs_framer_feed(&fr, line, N + 1, &out, &rows), 0);
        } else if (how == 1) {
            for (size_t off = 0; off < N + 1; off += 333)
                cr_assert_eq(wcs_framer_feed(&fr, line + off, off + 333 > N + 1 ? N + 1 - off : 333,
                                             &out, &rows),
                             0);
        } else {
            cr_assert_eq(wcs_framer_feed(&fr, line, N, &out, &rows), 0);
            cr_expect_leq(fr.part.len, 1000, "the pending line is cut as it grows");
            cr_assert_eq(wcs_framer_flush(&fr, &out, &rows), 0);
        }
        size_t lines = fr_check_lines(&out, 1000);
        cr_expect_eq(lines, 11, "how %d", how); /* 10 x 1000 + 240 */
        cr_expect_eq(rows, 11, "how %d", how);
        cr_expect_eq(fr.cuts, 10, "how %d", how);
        cr_expect_eq(out.len, N + 11, "how %d", how);
        /* Nothing lost: the pieces joined give the line back. */
        size_t k = 0;
        for (size_t i = 0; i < out.len; i++)
            if (out.data[i] != '\n')
                cr_assert_eq(out.data[i], line[k++]);
        cr_expect_eq(k, N);
        wcs_framer_free(&fr);
        wcs_buf_free(&out);
    }
    free(line);
}

/* A line is cut at its last whitespace in the second half of max_line
 * bytes, so that no word is broken; a space there becomes the piece's line
 * end, so that Spark's split finds no empty word after it. */
Test(framer, cut_at_whitespace)
{
    /* Words of 9 letters and a space: the cut lands on a space. */
    enum { N = 10 * 1000 };
    char *line = malloc(N + 1);
    cr_assert_not_null(line);
    for (size_t i = 0; i < N; i++)
        line[i] = i % 10 == 9 ? ' ' : 'w';
    line[N] = '\n';
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    wcs_framer_init(&fr, 995);
    cr_assert_eq(wcs_framer_feed(&fr, line, N + 1, &out, &rows), 0);
    fr_check_lines(&out, 995);
    cr_expect_gt(fr.cuts, 0);
    size_t start = 0;
    for (size_t i = 0; i < out.len; i++) {
        if (out.data[i] != '\n')
            continue;
        bool last = i + 1 == out.len;
        if (!last) {
            cr_expect_eq(out.data[i - 1], 'w', "the space a piece was cut at is its line end");
            cr_expect_eq(i - start, 989, "the last space within 995 bytes");
        }
        if (i + 1 < out.len)
            cr_expect_eq(out.data[i + 1], 'w', "the next piece starts with a word");
        start = i + 1;
    }
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
    free(line);

    /* A tab counts as whitespace, but is kept (Spark's split keeps it in a
     * word); a space in the first half does not help. */
    char l2[64];
    memset(l2, 'z', sizeof(l2));
    l2[3] = ' ';
    l2[12] = '\t';
    l2[63] = '\n';
    out = (struct wcs_buf){0};
    rows = 0;
    wcs_framer_init(&fr, 16);
    cr_assert_eq(wcs_framer_feed(&fr, l2, 64, &out, &rows), 0);
    cr_assert_gt(out.len, 14);
    cr_expect_eq(out.data[12], '\t');
    cr_expect_eq(out.data[13], '\n', "cut right after the tab at 12");
    wcs_framer_free(&fr);
    wcs_buf_free(&out);

    /* Pieces of whole words, without the spaces cut at; a second space
     * stays, as Spark's split finds an empty word between two. */
    uint64_t cuts;
    out = (struct wcs_buf){0};
    fr_frame_whole("ab cd ef  gh\n", 13, 4, &out, &rows, &cuts);
    cr_expect_eq(out.len, 13);
    cr_expect(memcmp(out.data, "ab\ncd\nef \ngh\n", 13) == 0, "%.*s", (int)out.len, out.data);
    cr_expect_eq(cuts, 3);

    /* A piece that would end in '\r' keeps the space: the tokenizer would
     * take the '\r' for a CRLF's and drop it from the word. */
    out.len = 0;
    fr_frame_whole("ab\r cdef\n", 9, 4, &out, &rows, &cuts);
    cr_expect_eq(out.len, 10);
    cr_expect(memcmp(out.data, "ab\r \ncdef\n", 10) == 0, "%.*s", (int)out.len, out.data);
    wcs_buf_free(&out);
}

/* True when [s, s + n) starts and ends on UTF-8 character boundaries. */
static bool fr_utf8_whole(const unsigned char *s, size_t n)
{
    if (n == 0)
        return true;
    if ((s[0] & 0xC0) == 0x80)
        return false;
    /* find the last lead byte and check its sequence is complete */
    size_t i = n;
    while (i > 0 && (s[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return false;
    unsigned char lead = s[i - 1];
    size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return n - (i - 1) == want;
}

Test(framer, never_cut_inside_utf8)
{
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (size_t c = 0; c < 3; c++) {
        for (size_t max = 997; max <= 1004; max++) {
            size_t cl = strlen(chars[c]), n = 0;
            char *line = malloc(12000);
            cr_assert_not_null(line);
            /* one ASCII byte first, so sequences straddle every offset */
            line[n++] = 'q';
            while (n + cl < 11000)
                n += (memcpy(line + n, chars[c], cl), cl);
            line[n++] = '\n';
            for (int chunked = 0; chunked < 2; chunked++) {
                struct wcs_framer fr;
                struct wcs_buf out = {0};
                uint64_t rows = 0;
                wcs_framer_init(&fr, max);
                if (chunked) {
                    for (size_t off = 0; off < n; off += 7)
                        cr_assert_eq(wcs_framer_feed(&fr, line + off, off + 7 > n ? n - off : 7,
                                                     &out, &rows),
                                     0);
                } else {
                    cr_assert_eq(wcs_framer_feed(&fr, line, n, &out, &rows), 0);
                }
                fr_check_lines(&out, max);
                cr_expect_gt(fr.cuts, 9);
                size_t start = 0;
                for (size_t i = 0; i < out.len; i++) {
                    if (out.data[i] != '\n')
                        continue;
                    cr_assert(fr_utf8_whole((const unsigned char *)out.data + start, i - start),
                              "char %zu, max %zu: piece at %zu is cut inside a sequence", c, max,
                              start);
                    if (i + 1 < out.len)
                        cr_assert_gt(i - start + cl, max, "backs off by less than a character");
                    start = i + 1;
                }
                wcs_framer_free(&fr);
                wcs_buf_free(&out);
            }
            free(line);
        }
    }
}

Test(framer, memory_stays_bounded_for_a_huge_line)
{
    enum { MAX_LINE = 1000, CHUNK = 100, TOTAL = 8 * 1000 * 1000 };
    char chunk[CHUNK];
    memset(chunk, 'm', sizeof(chunk));
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0, bytes = 0;
    size_t maxcap = 0;
    wcs_framer_init(&fr, MAX_LINE);
    for (size_t off = 0; off < TOTAL; off += CHUNK) {
        cr_assert_eq(wcs_framer_feed(&fr, chunk, CHUNK, &out, &rows), 0);
        if (fr.part.cap > maxcap)
            maxcap = fr.part.cap;
        /* the consumer takes the lines away */
        bytes += out.len;
        out.len = 0;
    }
    cr_assert_eq(wcs_framer_flush(&fr, &out, &rows), 0);
    bytes += out.len;
    cr_expect_leq(maxcap, 2 * (MAX_LINE + CHUNK), "part grew to %zu bytes", maxcap);
    cr_expect_leq(fr.part.cap, 2 * (MAX_LINE + CHUNK));
    cr_expect_eq(bytes, (uint64_t)TOTAL + rows,
                 "every byte out, one newline per piece: %" PRIu64 " bytes, %" PRIu64 " rows",
                 bytes, rows);
    cr_expect_eq(fr.cuts, rows - 1);
    cr_expect_geq(rows, TOTAL / MAX_LINE);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}

/* The kept line's buffer, capacity included, never passes max_line + 2
 * bytes, however the text is chunked: listen:// bounds a client's memory
 * by it. A long line's buffer is freed once the line is out. */
Test(framer, kept_line_capacity_within_max_line)
{
    static char text[60000];
    fr_rng_state = 0x2545F4914F6CDD1DULL;
    for (int round = 0; round < 30; round++) {
        size_t n = fr_random_text(text, 1000 + fr_below(sizeof(text) - 1000));
        size_t max_line = (size_t[]){5, 100, 1000, 5000}[round % 4];
        struct wcs_framer fr;
        struct wcs_buf out = {0};
        uint64_t rows = 0;
        size_t off = 0, maxcap = 0;
        wcs_framer_init(&fr, max_line);
        while (off < n) {
            size_t k = 1 + fr_below((size_t[]){3, 700, 9000}[round % 3]);
            k = k > n - off ? n - off : k;
            cr_assert_eq(wcs_framer_feed(&fr, text + off, k, &out, &rows), 0);
            maxcap = fr.part.cap > maxcap ? fr.part.cap : maxcap;
            off += k;
        }
        cr_assert_leq(maxcap, max_line + 2, "round %d: capacity %zu, max_line %zu", round, maxcap,
                      max_line);
        wcs_framer_free(&fr);
        wcs_buf_free(&out);
    }

    enum { BIG = 200 * 1000 };
    char *line = malloc(BIG + 1);
    cr_assert_not_null(line);
    memset(line, 'q', BIG);
    line[BIG] = '\n';
    struct wcs_framer fr;
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    wcs_framer_init(&fr, 1 << 20);
    for (size_t off = 0; off < BIG; off += 4096)
        cr_assert_eq(
            wcs_framer_feed(&fr, line + off, off + 4096 > BIG ? BIG - off : 4096, &out, &rows), 0);
    cr_expect_geq(fr.part.cap, BIG, "the unfinished line is kept whole");
    cr_assert_eq(wcs_framer_feed(&fr, line + BIG, 1, &out, &rows), 0);
    cr_expect_eq(rows, 1);
    cr_expect_eq(fr.part.cap, 0, "a long line's buffer is freed once it is out");
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
    free(line);
}

Test(framer, long_line_between_short_ones)
{
    enum { LONG = 2500 };
    struct wcs_buf in = {0}, out = {0};
    cr_assert_eq(wcs_buf_append(&in, "short\n", 6), 0);
    for (int i = 0; i < LONG; i++)
        cr_assert_eq(wcs_buf_append(&in, "x", 1), 0);
    cr_assert_eq(wcs_buf_append(&in, "\nshort2\n", 8), 0);
    struct wcs_framer fr;
    uint64_t rows = 0;
    wcs_framer_init(&fr, 1000);
    cr_assert_eq(wcs_framer_feed(&fr, in.data, in.len, &out, &rows), 0);
    cr_expect_eq(rows, 5);
    cr_expect_eq(fr.cuts, 2);
    cr_assert_eq(out.len, in.len + 2);
    cr_expect(memcmp(out.data, "short\n", 6) == 0);
    cr_expect_eq(out.data[6 + 1000], '\n');
    cr_expect_eq(out.data[6 + 2001], '\n');
    cr_expect(memcmp(out.data + out.len - 8, "\nshort2\n", 8) == 0);
    wcs_framer_free(&fr);
    wcs_buf_free(&in);
    wcs_buf_free(&out);
}

Test(framer, tiny_max_line_is_clamped)
{
    struct wcs_framer fr;
    wcs_framer_init(&fr, 0);
    cr_expect_eq(fr.max_line, 2);
    cr_expect_eq(fr.cuts, 0);
    cr_expect_eq(fr.part.len, 0);
    struct wcs_buf out = {0};
    uint64_t rows = 0;
    cr_assert_eq(wcs_framer_feed(&fr, "abcde\n", 6, &out, &rows), 0);
    cr_assert_eq(out.len, 8);
    cr_expect(memcmp(out.data, "ab\ncd\ne\n", 8) == 0);
    cr_expect_eq(rows, 3);
    cr_expect_eq(fr.cuts, 2);
    wcs_framer_free(&fr);
    wcs_buf_free(&out);
}
