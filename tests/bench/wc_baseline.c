/*
 * wc_baseline.c - the classic single-threaded batch word counter.
 *
 * The yardstick `make bench` holds wcstream against: no streaming, no
 * state, no batches, just the fastest plain C program a careful person
 * would write in an afternoon. It reads stdin in 64 KiB chunks, splits on
 * ASCII whitespace (space, \t, \n, \v, \f, \r: the separators of wcstream's
 * default --split whitespace), lowercases ASCII letters only when given -l,
 * and counts each word in an open-addressing hash table (linear probing,
 * load at most 3/4, 16-byte slots; each word's bytes and count in one
 * growing arena). At end of input it prints one "count word" line per
 * distinct word, in table order.
 *
 * usage: wc_baseline [-l] < text > counts
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static const unsigned char is_space[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

/* A slot is 16 bytes so that the table stays small in cache; the count
 * lives in the text arena next to the word's bytes, where the comparison
 * has just been. */
struct entry {
    uint32_t hash; /* low half of the word's hash: picks the slot, then filters */
    uint32_t len;  /* 0 marks an empty slot: words are never empty */
    size_t off;    /* of the word's record in table.text */
};

/* A record in the text arena: the count, then the word's bytes. */
struct record {
    uint64_t count;
    char word[];
};

struct table {
    struct entry *slot;
    size_t mask; /* slot count - 1; the count is a power of two */
    size_t used;
    char *text; /* the distinct words' records, back to back, 8-byte aligned */
    size_t text_len, text_cap;
};

static void die(const char *what)
{
    fprintf(stderr, "wc_baseline: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t mix(uint64_t h, uint64_t k)
{
    k *= 0x87c37b91114253d5ULL;
    k = rotl(k, 31);
    k *= 0x4cf5ad432745937fULL;
    return rotl(h ^ k, 27) * 5 + 0x52dce729;
}

/* MurmurHash3-style: eight bytes at a time, then a final avalanche. */
static uint64_t hash_word(const unsigned char *p, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
    uint64_t k;

    for (; len >= 8; p += 8, len -= 8) {
        memcpy(&k, p, 8);
        h = mix(h, k);
    }
    k = 0;
    memcpy(&k, p, len);
    h = mix(h, k);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static void table_init(struct table *t)
{
    memset(t, 0, sizeof(*t));
    t->mask = (1u << 16) - 1;
    t->slot = calloc(t->mask + 1, sizeof(*t->slot));
    if (!t->slot)
        die("calloc");
}

static void table_grow(struct table *t)
{
    size_t mask = t->mask * 2 + 1;
    struct entry *slot = calloc(mask + 1, sizeof(*slot));

    if (!slot)
        die("calloc");
    for (size_t i = 0; i <= t->mask; i++) {
        const struct entry *e = &t->slot[i];
        if (e->len == 0)
            continue;
        size_t j = e->hash & mask;
        while (slot[j].len)
            j = (j + 1) & mask;
        slot[j] = *e;
    }
    free(t->slot);
    t->slot = slot;
    t->mask = mask;
}

static struct record *record_at(const struct table *t, size_t off)
{
    return (struct record *)(void *)(t->text + off);
}

/* Appends a record for a new word, counted once; returns its offset. */
static size_t record_add(struct table *t, const unsigned char *w, size_t len)
{
    size_t size = (sizeof(struct record) + len + 7) & ~(size_t)7;

    if (t->text_len + size > t->text_cap) {
        size_t cap = t->text_cap ? t->text_cap * 2 : 1 << 20;
        while (cap < t->text_len + size)
            cap *= 2;
        char *text = realloc(t->text, cap);
        if (!text)
            die("realloc");
        t->text = text;
        t->text_cap = cap;
    }
    struct record *rec = record_at(t, t->text_len);
    rec->count = 1;
    memcpy(rec->word, w, len);
    t->text_len += size;
    return t->text_len - size;
}

static void count_word(struct table *t, const unsigned char *w, size_t len)
{
    uint32_t h = (uint32_t)hash_word(w, len);
    size_t i = h & t->mask;

    if (len > UINT32_MAX) {
        fprintf(stderr, "wc_baseline: a word of %zu bytes is too long\n", len);
        exit(1);
    }
    for (;;) {
        struct entry *e = &t->slot[i];
        if (e->len == 0)
            break;
        if (e->hash == h && e->len == len) {
            struct record *rec = record_at(t, e->off);
            if (memcmp(rec->word, w, len) == 0) {
                rec->count++;
                return;
            }
        }
        i = (i + 1) & t->mask;
    }
    t->slot[i] = (struct entry){.hash = h, .len = (uint32_t)len, .off = record_add(t, w, len)};
    if (++t->used * 4 > (t->mask + 1) * 3)
        table_grow(t);
}

static void print_counts(const struct table *t)
{
    static char obuf[1 << 16];

    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    for (size_t i = 0; i <= t->mask; i++) {
        const struct entry *e = &t->slot[i];
        if (e->len) {
            const struct record *rec = record_at(t, e->off);
            printf("%" PRIu64 " %.*s\n", rec->count, (int)e->len, rec->word);
        }
    }
    if (fflush(stdout) != 0)
        die("write");
}

int main(int argc, char **argv)
{
    struct table t;
    unsigned char *buf;
    size_t cap = CHUNK, keep = 0; /* keep: a word cut by the chunk's end */
    int lower = 0;

    if (argc == 2 && strcmp(argv[1], "-l") == 0) {
        lower = 1;
    } else if (argc != 1) {
        fprintf(stderr, "usage: wc_baseline [-l] < text > counts\n");
        return 2;
    }
    buf = malloc(cap);
    if (!buf)
        die("malloc");
    table_init(&t);

    for (;;) {
        if (cap - keep < CHUNK) { /* a word longer than a chunk */
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                die("realloc");
        }
        ssize_t n = read(STDIN_FILENO, buf + keep, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("read");
        if (n == 0)
            break;
        if (lower) {
            for (unsigned char *p = buf + keep; p < buf + keep + n; p++)
                *p = (*p >= 'A' && *p <= 'Z') ? *p + ('a' - 'A') : *p;
        }

        size_t len = keep + (size_t)n, i = 0;
        keep = 0;
        for (;;) {
            while (i < len && is_space[buf[i]])
                i++;
            size_t start = i;
            while (i < len && !is_space[buf[i]])
                i++;
            if (i == len) { /* the word may go on in the next chunk */
                keep = len - start;
                memmove(buf, buf + start, keep);
                break;
            }
            count_word(&t, buf + start, i - start);
        }
    }
    if (keep)
        count_word(&t, buf, keep);

    print_counts(&t);
    free(buf);
    free(t.slot);
    free(t.text);
    return 0;
}
