/*
 * framer.c - bytes of a stream in, whole lines out.
 *
 * Sits between every byte-stream connector and the micro-batch. Complete
 * lines are appended in runs (one memcpy per run of lines, not per line);
 * only the unfinished tail is kept. A line that grows past max_line is cut
 * so a 100 MB line without a newline costs max_line bytes of memory, not
 * 100 MB: the kept tail never holds more than max_line + 2 bytes (its
 * capacity included), which is what bounds a listen:// client's memory.
 */
#include "wcstream/framer.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A kept line's buffer bigger than this is freed once the line is out, so
 * an idle stream that once sent a long line holds nothing. */
#define PART_KEEP ((size_t)64 * 1024)

void wcs_framer_init(struct wcs_framer *fr, size_t max_line)
{
    memset(fr, 0, sizeof(*fr));
    fr->max_line = max_line < 2 ? 2 : max_line;
}

void wcs_framer_free(struct wcs_framer *fr)
{
    if (fr)
        wcs_buf_free(&fr->part);
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Whether a cut after k bytes takes the byte there for the piece's line
 * end: a space, which Spark's split would find an empty word after,
 * unless the piece is max bytes already or would end in a '\r' (which the
 * tokenizer would take for a CRLF's). */
static bool takes(const char *s, size_t k, size_t max)
{
    return k < max && s[k] == ' ' && s[k - 1] != '\r';
}

/* Where to cut a line of len > max bytes: the length of the piece before
 * the cut. After the last whitespace in the second half of the first max
 * bytes, or at it when the cut takes it (*gap = 1, takes()), so that no
 * word is broken; else at max backed off to a UTF-8 boundary. */
static size_t cut_point(const char *s, size_t max, size_t *gap)
{
    size_t k = max;
    while (k > max / 2 && !is_space((unsigned char)s[k - 1]))
        k--;
    if (k > max / 2) {
        k -= takes(s, k - 1, max);
    } else {
        k = max;
        for (int n = 0; n < 3 && k > 1 && ((unsigned char)s[k] & 0xC0) == 0x80; n++)
            k--;
        if (((unsigned char)s[k] & 0xC0) == 0x80)
            k = max;
    }
    *gap = takes(s, k, max);
    return k;
}

/* Cut max_line-sized lines off the front of [s, s + n) while more than
 * max_line bytes remain; each gets a '\n'. When s[n - 1] may be the last
 * byte of its line (at_end: its '\n' follows, or is not known yet), a '\r'
 * there is the line end's and takes no room: a line of max_line bytes
 * written with "\r\n" is not cut. Returns the bytes consumed, or
 * (size_t)-1 when out of memory. */
static size_t cut_pieces(struct wcs_framer *fr, const char *s, size_t n, bool at_end,
                         struct wcs_buf *out, uint64_t *rows)
{
    size_t done = 0, room = fr->max_line + (at_end && n && s[n - 1] == '\r');
    while (n - done > room) {
        size_t gap, k = cut_point(s + done, fr->max_line, &gap);
        if (wcs_buf_reserve(out, k + 1) < 0)
            return (size_t)-1;
        memcpy(out->data + out->len, s + done, k);
        out->data[out->len + k] = '\n';
        out->len += k + 1;
        (*rows)++;
        fr->cuts++;
        done += k + gap;
    }
    return done;
}

/* Append the lines of [s, s + n), which ends in '\n': runs of short lines
 * with one memcpy, long ones cut into pieces. */
static int emit_lines(struct wcs_framer *fr, const char *s, size_t n, struct wcs_buf *out,
                      uint64_t *rows)
{
    const char *run = s, *p = s, *end = s + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if ((size_t)(nl - p) > fr->max_line) {
            if (p > run && wcs_buf_append(out, run, (size_t)(p - run)) < 0)
                return -ENOMEM;
            size_t done = cut_pieces(fr, p, (size_t)(nl - p), true, out, rows);
            if (done == (size_t)-1)
                return -ENOMEM;
            run = p + done; /* the last piece goes out with the next run */
        }
        (*rows)++;
        p = nl + 1;
    }
    if (p > run && wcs_buf_append(out, run, (size_t)(p - run)) < 0)
        return -ENOMEM;
    return 0;
}

/* Room for extra more bytes in the kept line. Its capacity grows by
 * doubling but never past max_line + 2 (a line of max_line + 1 bytes is
 * cut at once; a whole one adds its '\n'). 0 or -ENOMEM. */
static int part_reserve(struct wcs_framer *fr, size_t extra)
{
    struct wcs_buf *b = &fr->part;
    size_t need = b->len + extra, most = fr->max_line + 2;
    assert(need <= most);
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 256;
    cap = cap < need ? need : cap > most ? most : cap;
    char *data = realloc(b->data, cap);
    if (!data)
        return -ENOMEM;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int part_append(struct wcs_framer *fr, const char *data, size_t n)
{
    if (n == 0 || part_reserve(fr, n) < 0)
        return n ? -ENOMEM : 0;
    memcpy(fr->part.data + fr->part.len, data, n);
    fr->part.len += n;
    return 0;
}

/* The kept line is out: forget it, and its buffer if that grew big. */
static void part_clear(struct wcs_framer *fr)
{
    fr->part.len = 0;
    if (fr->part.cap > PART_KEEP)
        wcs_buf_free(&fr->part);
}

/* Continue the kept line with data, up to and including its '\n' if data
 * has one, cutting it as it passes max_line. Returns the bytes consumed
 * (all of n when no '\n' comes), or (size_t)-1 when out of memory. The cut
 * points depend only on the line's bytes, never on how they were chunked:
 * a piece is cut only once max_line + 1 bytes of the line are known. */
static size_t continue_part(struct wcs_framer *fr, const char *data, size_t n, struct wcs_buf *out,
                            uint64_t *rows)
{
    size_t used = 0;
    while (used < n) {
        const char *nl = memchr(data + used, '\n', n - used), *end = nl ? nl : data + n;
        size_t seg = (size_t)(end - (data + used));
        /* The line's last byte known yet: a '\r' there takes no room, as
         * in cut_pieces(). */
        char last = end > data + used ? end[-1]
                    : fr->part.len    ? fr->part.data[fr->part.len - 1]
                                      : 0;
        size_t room = fr->max_line + (last == '\r');
        if (fr->part.len + seg > room) {
            /* Too long: hold max_line + 1 bytes, more of the line to come,
             * and cut pieces off the front. */
            size_t take = fr->max_line + 1 - fr->part.len;
            if (part_append(fr, data + used, take) < 0)
                return (size_t)-1;
            used += take;
            size_t done = cut_pieces(fr, fr->part.data, fr->part.len, false, out, rows);
            if (done == (size_t)-1)
                return (size_t)-1;
            memmove(fr->part.data, fr->part.data + done, fr->part.len - done);
            fr->part.len -= done;
            continue;
        }
        size_t take = seg + (nl != NULL);
        if (part_append(fr, data + used, take) < 0)
            return (size_t)-1;
        used += take;
        if (nl) {
            if (emit_lines(fr, fr->part.data, fr->part.len, out, rows) < 0)
                return (size_t)-1;
            part_clear(fr);
            break;
        }
    }
    return used;
}

int wcs_framer_feed(struct wcs_framer *fr, const char *data, size_t n, struct wcs_buf *out,
                    uint64_t *rows)
{
    if (n == 0)
        return 0;
    size_t out_len = out->len;
    uint64_t rows0 = *rows, cuts0 = fr->cuts;
    /* First the line kept from the last feed, if there is one. */
    if (fr->part.len) {
        size_t used = continue_part(fr, data, n, out, rows);
        if (used == (size_t)-1)
            goto fail;
        data += used;
        n -= used;
        if (n == 0)
            return 0;
    }
    /* Every whole line straight from data, then cut the tail down to at
     * most max_line bytes and keep it. */
    const char *last = memrchr(data, '\n', n);
    size_t whole = last ? (size_t)(last + 1 - data) : 0;
    if (whole && emit_lines(fr, data, whole, out, rows) < 0)
        goto fail;
    size_t done = cut_pieces(fr, data + whole, n - whole, true, out, rows);
    if (done == (size_t)-1 || part_append(fr, data + whole + done, n - whole - done) < 0)
        goto fail;
    return 0;
fail:
    out->len = out_len;
    *rows = rows0;
    fr->cuts = cuts0;
    fr->part.len = 0;
    return -ENOMEM;
}

int wcs_framer_flush(struct wcs_framer *fr, struct wcs_buf *out, uint64_t *rows)
{
    if (!fr->part.len)
        return 0;
    if (part_append(fr, "\n", 1) < 0)
        return -ENOMEM;
    int r = emit_lines(fr, fr->part.data, fr->part.len, out, rows);
    part_clear(fr);
    return r;
}
