/*
 * fuzz_framer.c - libFuzzer target for line framing (src/framer.c) and the
 * inbox it feeds (connectors/inbox.c): the path of every socket, listen and
 * stdin byte into a micro-batch.
 *
 * Input: byte 0 sets max_line (small, so long lines get cut; or 1 MiB, so
 * none are), byte 1 how big the chunks are and whether they go through an
 * inbox, bytes 2..3 seed the chunk sizes and take budgets; the rest is the
 * stream. The property that matters: however the stream is cut into reads,
 * the lines out are byte for byte those of one read, with the same row and
 * cut counts, so the counts are the same. Through an inbox, lines are taken
 * out between reads with random budgets; every take holds whole lines and
 * counts them right, and all takes together are again the one-read lines.
 * Also: no line over max_line (but for the '\r' of a "\r\n"), no byte lost
 * or added but the '\n's of cuts (each in the place of the space it was
 * cut at, if it took it) and of the final flush, the kept tail within
 * max_line (its buffer within max_line + 2), and lines of valid UTF-8 stay
 * valid when max_line >= 4. A broken property aborts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fuzz.h"
#include "wcstream/buf.h"
#include "wcstream/framer.h"
#include "wcstream/inbox.h"
#include "wcstream/notify.h"
#include "wcstream/source.h"

static struct wcs_notify engine = {.fd = -1};

struct framed {
    struct wcs_buf out;
    uint64_t rows, cuts;
};

static size_t count(const char *s, size_t n, char c)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == c;
    return k;
}

/* The tail a framer keeps is bounded whatever it was fed. */
static void check_kept(const struct wcs_framer *fr)
{
    size_t cr = fr->part.len && fr->part.data[fr->part.len - 1] == '\r'; /* may end the line */
    FUZZ_CHECK(fr->part.len <= fr->max_line + cr, "%zu bytes kept, max_line %zu", fr->part.len,
               fr->max_line);
    FUZZ_CHECK(fr->part.cap <= fr->max_line + 2, "a kept buffer of %zu, max_line %zu", fr->part.cap,
               fr->max_line);
}

/* The whole stream in one read, then the end of stream. */
static void one_read(const char *s, size_t n, size_t max_line, struct framed *f)
{
    struct wcs_framer fr;
    wcs_framer_init(&fr, max_line);
    FUZZ_CHECK(wcs_framer_feed(&fr, s, n, &f->out, &f->rows) == 0, "feed failed");
    check_kept(&fr);
    FUZZ_CHECK(wcs_framer_flush(&fr, &f->out, &f->rows) == 0, "flush failed");
    f->cuts = fr.cuts;
    wcs_framer_free(&fr);
}

/* Reads of rng-chosen sizes (some empty) of at most most bytes. */
static void reads(const char *s, size_t n, size_t max_line, size_t most, struct fuzz_rng *rng,
                  struct framed *f)
{
    struct wcs_framer fr;
    wcs_framer_init(&fr, max_line);
    for (size_t i = 0; i < n;) {
        size_t k = fuzz_rng_below(rng, most + 1);
        k = k < n - i ? k : n - i;
        FUZZ_CHECK(wcs_framer_feed(&fr, s + i, k, &f->out, &f->rows) == 0, "feed failed");
        check_kept(&fr);
        i += k;
    }
    FUZZ_CHECK(wcs_framer_flush(&fr, &f->out, &f->rows) == 0, "flush failed");
    f->cuts = fr.cuts;
    wcs_framer_free(&fr);
}

/* Take what the inbox holds with a random budget, as the engine would at a
 * trigger; append it to f. Returns how many rows it took. */
static uint64_t take(struct wcs_inbox *ib, struct fuzz_rng *rng, struct framed *f)
{
    struct wcs_buf text = {0};
    struct wcs_pull p = {.text = &text, .budget = fuzz_rng_below(rng, 64), .source = "fuzz"};
    char err[128];

    FUZZ_CHECK(wcs_inbox_take(ib, &p, err, sizeof(err)) == 0, "take failed: %s", err);
    FUZZ_CHECK(p.bytes == text.len, "a take says %llu bytes, holds %zu",
               (unsigned long long)p.bytes, text.len);
    FUZZ_CHECK(text.len == 0 || text.data[text.len - 1] == '\n', "a take ends inside a line");
    FUZZ_CHECK(p.rows == count(text.data, text.len, '\n'), "a take says %llu rows, holds %zu",
               (unsigned long long)p.rows, count(text.data, text.len, '\n'));
    FUZZ_CHECK(wcs_buf_append(&f->out, text.data, text.len) == 0, "out of memory");
    f->rows += p.rows;
    cJSON_Delete(p.start);
    cJSON_Delete(p.end);
    wcs_buf_free(&text);
    return p.rows;
}

/* Reads framed into an inbox, taken out in between and at the end. */
static void through_inbox(const char *s, size_t n, size_t max_line, size_t most,
                          struct fuzz_rng *rng, struct framed *f)
{
    struct wcs_inbox ib;
    struct wcs_framer fr;

    FUZZ_CHECK(wcs_inbox_init(&ib, 1 << 20, &engine) == 0, "inbox init failed");
    wcs_framer_init(&fr, max_line);
    for (size_t i = 0; i < n;) {
        size_t k = 1 + fuzz_rng_below(rng, most);
        k = k < n - i ? k : n - i;
        FUZZ_CHECK(wcs_inbox_feed(&ib, &fr, s + i, k) == 0, "inbox feed failed");
        check_kept(&fr);
        i += k;
        if (fuzz_rng_below(rng, 3) == 0)
            take(&ib, rng, f);
    }
    FUZZ_CHECK(wcs_inbox_feed(&ib, &fr, NULL, 0) == 0, "inbox flush failed");
    wcs_inbox_close(&ib, 0);
    FUZZ_CHECK(wcs_inbox_finished(&ib), "closed without error but not finished");
    while (take(&ib, rng, f) > 0) /* a take holds a line at least while any wait */
        ;
    FUZZ_CHECK(ib.rows_in == ib.rows_out, "%llu rows in, %llu out", (unsigned long long)ib.rows_in,
               (unsigned long long)ib.rows_out);
    f->cuts = ib.cuts;
    FUZZ_CHECK(ib.cuts == fr.cuts, "the inbox counted %llu cuts, the framer %llu",
               (unsigned long long)ib.cuts, (unsigned long long)fr.cuts);
    wcs_framer_free(&fr);
    wcs_inbox_destroy(&ib);
}

/* Structurally valid UTF-8: lead bytes followed by their continuations. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (k == 0 || k > n - i)
            return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k;
    }
    return true;
}

/* What every framing of [s, s + n) must look like. */
static void check_lines(const char *s, size_t n, size_t max_line, const struct framed *f)
{
    const char *o = f->out.data;
    size_t len = f->out.len;
    bool utf8 = max_line >= 4 && utf8_ok((const unsigned char *)s, n);

    FUZZ_CHECK(f->rows == count(o, len, '\n'), "%llu rows but %zu line ends",
               (unsigned long long)f->rows, count(o, len, '\n'));
    FUZZ_CHECK(len == 0 || o[len - 1] == '\n', "the output ends inside a line");
    size_t added = n && s[n - 1] != '\n';
    FUZZ_CHECK(count(o, len, '\n') == count(s, n, '\n') + f->cuts + added,
               "%zu line ends out, %zu in, %llu cuts", count(o, len, '\n'), count(s, n, '\n'),
               (unsigned long long)f->cuts);
    /* The output is the input with a line end at each cut, in the place of
     * the space the cut was at if it took it: a space after a piece
     * shorter than max_line that does not end in '\r'. */
    size_t i = 0;
    for (size_t j = 0, piece = 0; j < len; j++, piece++) {
        if (o[j] == '\n') {
            if (i < n && s[i] == '\n')
                i++;
            else if (i < n && s[i] == ' ' && piece && piece < max_line && o[j - 1] != '\r')
                i++;
            piece = (size_t)-1;
            continue;
        }
        FUZZ_CHECK(i < n && s[i] == o[j], "output byte %zu is not the input's byte %zu", j, i);
        i++;
    }
    FUZZ_CHECK(i == n, "input bytes from %zu on were lost", i);
    for (size_t start = 0; start < len;) {
        const char *nl = memchr(o + start, '\n', len - start);
        size_t line = (size_t)(nl - (o + start));
        size_t cr = line && nl[-1] == '\r'; /* a "\r\n" end takes no room */
        FUZZ_CHECK(line <= max_line + cr, "a line of %zu bytes, max_line %zu", line, max_line);
        FUZZ_CHECK(!utf8 || utf8_ok((const unsigned char *)o + start, line),
                   "a line cut inside a UTF-8 sequence");
        start += line + 1;
    }
}

static void same(const struct framed *a, const struct framed *b, const char *how)
{
    FUZZ_CHECK(a->out.len == b->out.len &&
                   (a->out.len == 0 || memcmp(a->out.data, b->out.data, a->out.len) == 0),
               "%s: the lines differ from one read's (%zu vs %zu bytes)", how, b->out.len,
               a->out.len);
    FUZZ_CHECK(a->rows == b->rows, "%s: %llu rows, one read %llu", how, (unsigned long long)b->rows,
               (unsigned long long)a->rows);
    FUZZ_CHECK(a->cuts == b->cuts, "%s: %llu cuts, one read %llu", how, (unsigned long long)b->cuts,
               (unsigned long long)a->cuts);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    FUZZ_CHECK(wcs_notify_init(&engine) == 0, "eventfd");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 4)
        return 0;
    size_t max_line = in[0] == 0xFF ? (size_t)1 << 20 : 2 + in[0] % 64;
    size_t most = 1 + (in[1] & 0x3F) * (in[1] & 0x40 ? 16 : 1);
    bool inbox = in[1] & 0x80;
    struct fuzz_rng rng;
    fuzz_rng_seed(&rng, (uint64_t)in[2] << 8 | in[3]);
    const char *s = (const char *)in + 4;
    size_t n = size - 4;
    struct framed whole = {0}, parts = {0};

    one_read(s, n, max_line, &whole);
    check_lines(s, n, max_line, &whole);
    if (inbox)
        through_inbox(s, n, max_line, most, &rng, &parts);
    else
        reads(s, n, max_line, most, &rng, &parts);
    same(&whole, &parts, inbox ? "through an inbox" : "in reads");

    wcs_buf_free(&whole.out);
    wcs_buf_free(&parts.out);
    return 0;
}
