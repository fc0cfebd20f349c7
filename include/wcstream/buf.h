/*
 * buf.h - growable byte buffer and per-batch arena.
 *
 * struct wcs_buf carries bytes between a source and the micro-batch (whole
 * lines, each ending in '\n'). struct wcs_arena hands out memory that lives
 * until the end of the batch (lower-cased words, top-N rows): one reset
 * frees it all, and no word ever costs a malloc of its own.
 */
#ifndef WCSTREAM_BUF_H
#define WCSTREAM_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct wcs_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t faulted; /* bytes at data already faulted in (wcs_prefault()) */
};

/* Make room for at least `extra` more bytes. 0 or -ENOMEM. */
int wcs_buf_reserve(struct wcs_buf *b, size_t extra);

/* Append n bytes. 0 or -ENOMEM (the buffer is unchanged then). */
int wcs_buf_append(struct wcs_buf *b, const void *data, size_t n);

/* Append formatted text (no NUL is kept). 0 or -ENOMEM. */
int wcs_buf_printf(struct wcs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Free the bytes; the struct may be reused afterwards. Accepts NULL. */
void wcs_buf_free(struct wcs_buf *b);

/* Open path to append records to (wcs_buf_write_record()), made if
 * missing (then *made is true, if made is not NULL), without blocking on a
 * FIFO that has no reader. Writes nothing: see wcs_record_file_end_line().
 * An fd or -errno. */
int wcs_record_file_open(const char *path, bool *made);
/* A start that fails takes back the file its wcs_record_file_open() made:
 * path is removed if it still names fd's file and that is empty. Closes
 * fd. */
void wcs_record_file_unmake(int fd, const char *path);
/* Before the first record: a regular file that ends inside a line (a
 * crash while writing it: kill -9 during a big write, a power loss) gets
 * its '\n', with a warning, or the next record would follow on the half
 * line and be spoilt too. The half line is kept, not cut off: the file may
 * hold lines that are not ours. Call it only once this process owns the
 * state: until then the file may be another process's, in the middle of
 * a write. fd is from wcs_record_file_open(path). */
void wcs_record_file_end_line(int fd, const char *path);
/* Before each record: when path no longer names fd's regular file (a log
 * rotation renamed or deleted it), open path anew (wcs_record_file_open)
 * and close fd, so that the records go where the name says and the old
 * file's space can be given back. Returns the fd to write to: fd itself
 * when path still names it, when it is not a regular file (a FIFO,
 * /dev/stdout), or when path cannot be opened now (tried again next time). */
int wcs_record_file_follow(int fd, const char *path);
/* Why wcs_record_file_open(path) returned the -errno r, for a sentence. */
const char *wcs_record_file_strerror(const char *path, int r);

/* Append b's bytes to fd (opened with O_APPEND) as one record: whole, or,
 * when a write fails (a full disk), not at all: the file is cut back to
 * where it was, so that no half record is left for the next one to follow
 * on. 0 or -errno of the write. */
int wcs_buf_write_record(int fd, const struct wcs_buf *b);

/*
 * Fault in the pages of [p, p + len), new memory about to be written, in
 * one call (MADV_POPULATE_WRITE) instead of a trap on the first touch of
 * each 4 KiB page: such a trap costs about 10 us on this project's virtual
 * machines. Below WCS_PREFAULT_MIN bytes, or on a kernel older than 5.14,
 * it does nothing; memory is then faulted in as it is touched. Only ever
 * a hint: nothing depends on it but speed.
 */
#define WCS_PREFAULT_MIN ((size_t)256 * 1024)
void wcs_prefault(void *p, size_t len);

/*
 * For memory filled from its start: base has *faulted bytes faulted in;
 * make that at least `want`, a step of WCS_PREFAULT_STEP ahead, at most
 * cap, so that a buffer filled bit by bit costs a call per step.
 */
#define WCS_PREFAULT_STEP ((size_t)1024 * 1024)
void wcs_prefault_upto(void *base, size_t *faulted, size_t want, size_t cap);

struct wcs_arena_block;

struct wcs_arena {
    struct wcs_arena_block *head; /* block being filled; older ones follow */
    size_t used;                  /* bytes used in head */
};

/* Return n bytes aligned to 8, valid until the next reset or free.
 * NULL when out of memory. A zeroed struct is an empty arena. */
void *wcs_arena_alloc(struct wcs_arena *a, size_t n);

/* Copy n bytes into the arena. NULL when out of memory. */
char *wcs_arena_dup(struct wcs_arena *a, const void *p, size_t n);

/* Forget every allocation; keeps one block for reuse. */
void wcs_arena_reset(struct wcs_arena *a);

/* Free every block. Accepts NULL. */
void wcs_arena_free(struct wcs_arena *a);

#endif
