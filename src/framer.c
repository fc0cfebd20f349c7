/*
 * framer.c - bytes of a stream in, whole lines out.
 *
 * Sits between every byte-stream connector and the micro-batch. Complete
 * lines are appended in runs (one memcpy per run of lines, not per line);
 * only the unfinished tail is kept. A line that grows past max_line is cut
 * so a 100 MB line without a newline costs max_line bytes of memory, not
 * 100 MB.
 */
#include "wcstream/framer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Where to cut a line of len > max bytes: after the last whitespace within
 * the first max bytes, else at max backed off to a UTF-8 boundary. */
static size_t cut_point(const char *s, size_t max)
{
    for (size_t i = max; i > max / 2; i--)
        if (is_space((unsigned char)s[i - 1]))
            return i;
    size_t i = max;
    for (int k = 0; k < 3 && i > 1 && ((unsigned char)s[i] & 0xC0) == 0x80; k++)
        i--;
    return ((unsigned char)s[i] & 0xC0) == 0x80 ? max : i;
}

/* Cut max_line-sized lines off the front of [s, s + n) while more than
 * max_line bytes remain; each gets a '\n'. Returns the bytes consumed, or
 * (size_t)-1 when out of memory. */
static size_t cut_pieces(struct wcs_framer *fr, const char *s, size_t n, struct wcs_buf *out,
                         uint64_t *rows)
{
    size_t done = 0;
    while (n - done > fr->max_line) {
        size_t k = cut_point(s + done, fr->max_line);
        if (wcs_buf_reserve(out, k + 1) < 0)
            return (size_t)-1;
        memcpy(out->data + out->len, s + done, k);
        out->data[out->len + k] = '\n';
        out->len += k + 1;
        (*rows)++;
        fr->cuts++;
        done += k;
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
            size_t done = cut_pieces(fr, p, (size_t)(nl - p), out, rows);
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

int wcs_framer_feed(struct wcs_framer *fr, const char *data, size_t n, struct wcs_buf *out,
                    uint64_t *rows)
{
    if (n == 0)
        return 0;
    size_t out_len = out->len;
    uint64_t rows0 = *rows, cuts0 = fr->cuts;
    const char *nl = memchr(data, '\n', n);
    if (!nl) {
        /* No line ends here: keep it, cutting pieces off if it grew too long. */
        if (wcs_buf_append(&fr->part, data, n) < 0)
            goto fail;
        size_t done = cut_pieces(fr, fr->part.data, fr->part.len, out, rows);
        if (done == (size_t)-1)
            goto fail;
        memmove(fr->part.data, fr->part.data + done, fr->part.len - done);
        fr->part.len -= done;
        return 0;
    }
    /* First line: the kept tail plus data up to the first newline. */
    if (fr->part.len) {
        size_t head = (size_t)(nl + 1 - data);
        if (wcs_buf_append(&fr->part, data, head) < 0)
            goto fail;
        if (emit_lines(fr, fr->part.data, fr->part.len, out, rows) < 0)
            goto fail;
        fr->part.len = 0;
        data += head;
        n -= head;
    }
    /* Every further whole line, then keep the tail. */
    const char *last = memrchr(data, '\n', n);
    size_t whole = last ? (size_t)(last + 1 - data) : 0;
    if (whole && emit_lines(fr, data, whole, out, rows) < 0)
        goto fail;
    if (n > whole && wcs_buf_append(&fr->part, data + whole, n - whole) < 0)
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
    if (wcs_buf_append(&fr->part, "\n", 1) < 0)
        return -ENOMEM;
    int r = emit_lines(fr, fr->part.data, fr->part.len, out, rows);
    fr->part.len = 0;
    return r;
}
