/*
 * buf.c - growable byte buffer and per-batch arena.
 *
 * Sources append whole lines to a struct wcs_buf, which becomes the
 * micro-batch the tokenizer scans. The struct wcs_arena holds what a batch
 * makes on the way (lower-cased words, top-N rows): allocation is a pointer
 * bump inside a block, and one reset at the end of the batch forgets it
 * all while keeping the largest block, so a steady stream of batches stops
 * calling malloc at all.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wcstream/buf.h"
#include "wcstream/log.h"

#define BUF_MIN_CAP      256
#define ARENA_ALIGN      8
#define ARENA_MIN_BLOCK  ((size_t)64 * 1024)
#define ARENA_MAX_GROWTH ((size_t)16 * 1024 * 1024)

void wcs_prefault(void *p, size_t len)
{
    if (len < WCS_PREFAULT_MIN)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* Every page holding a byte of the range: each is mapped, being ours. */
    uintptr_t start = (uintptr_t)p & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)p + len + page - 1) & ~(uintptr_t)(page - 1);
    (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

void wcs_prefault_upto(void *base, size_t *faulted, size_t want, size_t cap)
{
    if (want <= *faulted)
        return;
    size_t to = cap - want > WCS_PREFAULT_STEP ? want + WCS_PREFAULT_STEP : cap;
    wcs_prefault((char *)base + *faulted, to - *faulted); /* to >= want > *faulted */
    *faulted = to;
}

int wcs_buf_reserve(struct wcs_buf *b, size_t extra)
{
    if (extra > b->cap - b->len) {
        if (extra > SIZE_MAX - b->len)
            return -ENOMEM;
        size_t need = b->len + extra;
        size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *data = realloc(b->data, cap);
        if (!data)
            return -ENOMEM;
        b->data = data;
        b->cap = cap;
        b->faulted = b->len; /* the copy touched that much, if it moved */
    }
    wcs_prefault_upto(b->data, &b->faulted, b->len + extra, b->cap);
    return 0;
}

int wcs_buf_append(struct wcs_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    int rc = wcs_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

int wcs_buf_printf(struct wcs_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[128];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -ENOMEM;
    if ((size_t)n < sizeof(small))
        return wcs_buf_append(b, small, (size_t)n);
    if (wcs_buf_reserve(b, (size_t)n + 1) < 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void wcs_buf_free(struct wcs_buf *b)
{
    if (!b)
        return;
    free(b->data);
    *b = (struct wcs_buf){0};
}

/*
 * One arena block: a header and `size` usable bytes. The blocks form a
 * singly linked list from the head (the one being filled) to the oldest.
 */
struct wcs_arena_block {
    struct wcs_arena_block *next;
    size_t size;
    alignas(ARENA_ALIGN) unsigned char data[];
};

static struct wcs_arena_block *block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct wcs_arena_block))
        return NULL;
    struct wcs_arena_block *blk = malloc(sizeof(*blk) + size);
    if (!blk)
        return NULL;
    wcs_prefault(blk->data, size);
    blk->next = NULL;
    blk->size = size;
    return blk;
}

void *wcs_arena_alloc(struct wcs_arena *a, size_t n)
{
    if (n > SIZE_MAX - (ARENA_ALIGN - 1))
        return NULL;
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

    struct wcs_arena_block *head = a->head;
    if (head && n <= head->size - a->used) {
        void *p = head->data + a->used;
        a->used += n;
        return p;
    }

    /* The next block doubles the head, up to ARENA_MAX_GROWTH. A request
     * bigger than a quarter of that gets a block of its own, linked behind
     * the head so the head's free tail stays in use. */
    size_t usual = ARENA_MIN_BLOCK;
    if (head)
        usual = head->size < ARENA_MAX_GROWTH / 2 ? head->size * 2 : ARENA_MAX_GROWTH;
    if (usual < ARENA_MIN_BLOCK)
        usual = ARENA_MIN_BLOCK;
    if (head && n > usual / 4) {
        struct wcs_arena_block *big = block_new(n);
        if (!big)
            return NULL;
        big->next = head->next;
        head->next = big;
        return big->data;
    }

    struct wcs_arena_block *blk = block_new(n > usual ? n : usual);
    if (!blk)
        return NULL;
    blk->next = head;
    a->head = blk;
    a->used = n;
    return blk->data;
}

char *wcs_arena_dup(struct wcs_arena *a, const void *p, size_t n)
{
    char *q = wcs_arena_alloc(a, n);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

void wcs_arena_reset(struct wcs_arena *a)
{
    struct wcs_arena_block *keep = a->head;
    if (!keep)
        return;
    for (struct wcs_arena_block *blk = keep->next; blk; blk = blk->next)
        if (blk->size > keep->size)
            keep = blk;
    struct wcs_arena_block *blk = a->head;
    while (blk) {
        struct wcs_arena_block *next = blk->next;
        if (blk != keep)
            free(blk);
        blk = next;
    }
    keep->next = NULL;
    a->head = keep;
    a->used = 0;
}

void wcs_arena_free(struct wcs_arena *a)
{
    if (!a)
        return;
    struct wcs_arena_block *blk = a->head;
    while (blk) {
        struct wcs_arena_block *next = blk->next;
        free(blk);
        blk = next;
    }
    a->head = NULL;
    a->used = 0;
}

/* fd is the append-only descriptor; the last byte is read through one of
 * its own. */
void wcs_record_file_end_line(int fd, const char *path)
{
    struct stat sb, rb;
    char last = '\n';

    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
        return;
    int rd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (rd < 0)
        return;
    if (fstat(rd, &rb) == 0 && rb.st_dev == sb.st_dev && rb.st_ino == sb.st_ino &&
        pread(rd, &last, 1, sb.st_size - 1) == 1 && last != '\n' && write(fd, "\n", 1) == 1)
        wcs_warn("%s ended in a line cut short (a crash while writing it?): the next record "
                 "starts a line of its own",
                 path);
    close(rd);
}

int wcs_record_file_open(const char *path, bool *made)
{
    int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK;
    int fd = open(path, flags | O_EXCL, 0644);
    if (made)
        *made = fd >= 0;
    if (fd < 0 && errno == EEXIST)
        fd = open(path, flags, 0644);
    if (fd < 0)
        return -errno;
    fcntl(fd, F_SETFL, O_WRONLY | O_APPEND); /* writes wait for a FIFO's reader after all */
    return fd;
}

int wcs_record_file_follow(int fd, const char *path)
{
    struct stat sb, pb;

    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
        (stat(path, &pb) == 0 && pb.st_dev == sb.st_dev && pb.st_ino == sb.st_ino))
        return fd;
    int nfd = wcs_record_file_open(path, NULL);
    if (nfd < 0)
        return fd;
    wcs_info("%s was renamed or deleted: writing to a new %s", path, path);
    wcs_record_file_end_line(nfd, path);
    close(fd);
    return nfd;
}

void wcs_record_file_unmake(int fd, const char *path)
{
    struct stat sb, pb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0 && stat(path, &pb) == 0 &&
        pb.st_dev == sb.st_dev && pb.st_ino == sb.st_ino)
        unlink(path);
    close(fd);
}

const char *wcs_record_file_strerror(const char *path, int r)
{
    struct stat sb; /* ENXIO is also a socket's or a missing device's */
    if (r == -ENXIO && stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode))
        return "a FIFO that no process reads (start its reader first)";
    return strerror(-r);
}

int wcs_buf_write_record(int fd, const struct wcs_buf *b)
{
    off_t start = lseek(fd, 0, SEEK_END); /* a file we may not seek: -1, nothing to cut */
    const char *p = b->data;
    size_t n = b->len;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            if (start >= 0 && n < b->len) {
                /* Cutting back frees space; should even that fail, the
                 * next record follows on the half one: nothing more to do. */
                int cut = ftruncate(fd, start);
                (void)cut;
            }
            return -e;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
