/*
 * framer.h - bytes of a stream in, whole lines out.
 *
 * Every byte-stream source (socket, listen, stdin, files) feeds what it
 * reads through a framer, which appends whole lines, each ending in '\n',
 * to a buffer and keeps the unfinished tail. A line longer than max_line
 * is cut (after the last whitespace in the second half of the limit if
 * there is one, at it when it is a space, which becomes the piece's line
 * end; never inside a UTF-8 sequence) so memory stays bounded whatever
 * arrives; the cuts are counted.
 */
#ifndef WCSTREAM_FRAMER_H
#define WCSTREAM_FRAMER_H

#include <stddef.h>
#include <stdint.h>

#include "wcstream/buf.h"

struct wcs_framer {
    struct wcs_buf part; /* the unfinished line */
    size_t max_line;     /* >= 2 */
    uint64_t cuts;       /* lines cut at max_line so far */
};

/* A zeroed framer with max_line set. */
void wcs_framer_init(struct wcs_framer *fr, size_t max_line);

/* Free the pending bytes. Accepts NULL. */
void wcs_framer_free(struct wcs_framer *fr);

/* Feed n bytes. Whole lines are appended to out and counted in *rows.
 * 0, or -ENOMEM (then nothing was appended and nothing kept). */
int wcs_framer_feed(struct wcs_framer *fr, const char *data, size_t n, struct wcs_buf *out,
                    uint64_t *rows);

/* End of stream: a pending unfinished line becomes a line of its own.
 * 0 or -ENOMEM. */
int wcs_framer_flush(struct wcs_framer *fr, struct wcs_buf *out, uint64_t *rows);

#endif
