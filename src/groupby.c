/*
 * groupby.c - batch-local hash aggregation: word -> delta.
 *
 * The tokenizer's callback folds each chunk of words into this table; at
 * commit the engine walks the dense group array and upserts every delta
 * into SQLite. Groups live in one array in insertion order (word pointer,
 * length, XXH3 hash, delta); an open-addressing index of uint32 slots
 * (entry + 1, 0 = empty) with linear probing finds them. The index stays at
 * most 70% full and is rebuilt from the stored hashes when it grows.
 * A word is copied into the table's arena once, when it is first seen, so
 * the engine can reuse its read buffer while a batch keeps growing.
 * When the batch is complete, its thread sorts the groups into the key
 * order the state merges and writes them in (wcs_groupby_sort()), so that
 * the sorting is spread over the cores instead of done by the committer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL /* header-only: short keys hash without a call */
#include <xxhash.h>

#include "wcstream/groupby.h"

#define INDEX_MIN_CAP  1024
#define GROUPS_MIN_CAP 256
#define MAX_GROUPS     ((size_t)UINT32_MAX - 1)

struct wcs_groupby {
    struct wcs_group *groups; /* dense, insertion order */
    size_t n;                 /* groups in use */
    size_t gcap;              /* groups allocated */
    size_t gfaulted;          /* bytes of groups faulted in (wcs_prefault_upto()) */
    uint32_t *index;          /* icap slots: group + 1, or 0 when empty */
    size_t icap;              /* power of two */
    struct wcs_arena words;   /* the groups' words */
    bool sorted;              /* the groups are in key order; the index is stale */
};

struct wcs_groupby *wcs_groupby_new(void)
{
    struct wcs_groupby *gb = calloc(1, sizeof(*gb));
    if (!gb)
        return NULL;
    gb->index = calloc(INDEX_MIN_CAP, sizeof(*gb->index));
    gb->groups = malloc(GROUPS_MIN_CAP * sizeof(*gb->groups));
    if (!gb->index || !gb->groups)
        goto fail;
    gb->icap = INDEX_MIN_CAP;
    gb->gcap = GROUPS_MIN_CAP;
    return gb;
fail:
    free(gb->index);
    free(gb->groups);
    free(gb);
    return NULL;
}

void wcs_groupby_free(struct wcs_groupby *gb)
{
    if (!gb)
        return;
    free(gb->groups);
    free(gb->index);
    wcs_arena_free(&gb->words);
    free(gb);
}

void wcs_groupby_reset(struct wcs_groupby *gb)
{
    if (gb->n)
        memset(gb->index, 0, gb->icap * sizeof(*gb->index));
    gb->n = 0;
    gb->sorted = false;
    wcs_arena_reset(&gb->words);
}

/* Double the index and re-insert every group from its stored hash. */
static int grow_index(struct wcs_groupby *gb)
{
    if (gb->icap > SIZE_MAX / 2 / sizeof(*gb->index))
        return -ENOMEM;
    size_t icap = gb->icap * 2;
    uint32_t *index = calloc(icap, sizeof(*index));
    if (!index)
        return -ENOMEM;
    wcs_prefault(index, icap * sizeof(*index));
    size_t mask = icap - 1;
    for (size_t g = 0; g < gb->n; g++) {
        size_t i = (size_t)gb->groups[g].hash & mask;
        while (index[i])
            i = (i + 1) & mask;
        index[i] = (uint32_t)(g + 1);
    }
    free(gb->index);
    gb->index = index;
    gb->icap = icap;
    return 0;
}

static int grow_groups(struct wcs_groupby *gb)
{
    if (gb->gcap > SIZE_MAX / 2 / sizeof(*gb->groups))
        return -ENOMEM;
    size_t gcap = gb->gcap * 2;
    struct wcs_group *groups = realloc(gb->groups, gcap * sizeof(*groups));
    if (!groups)
        return -ENOMEM;
    gb->groups = groups;
    gb->gfaulted = gb->n * sizeof(*groups); /* the copy touched that much, if it moved */
    gb->gcap = gcap;
    return 0;
}

/* Append a new group for a word known to be absent. Room is made first, so
 * that failure leaves the table as it was. */
static int insert(struct wcs_groupby *gb, const char *word, size_t len, uint64_t h, int64_t delta)
{
    if (gb->n >= MAX_GROUPS)
        return -ENOMEM;
    if (gb->n == gb->gcap && grow_groups(gb) < 0)
        return -ENOMEM;
    if ((gb->n + 1) * 10 > gb->icap * 7 && grow_index(gb) < 0)
        return -ENOMEM;
    wcs_prefault_upto(gb->groups, &gb->gfaulted, (gb->n + 1) * sizeof(*gb->groups),
                      gb->gcap * sizeof(*gb->groups));
    char *copy = wcs_arena_dup(&gb->words, word, len);
    if (!copy)
        return -ENOMEM;
    size_t mask = gb->icap - 1;
    size_t i = (size_t)h & mask;
    while (gb->index[i])
        i = (i + 1) & mask;
    gb->groups[gb->n] = (struct wcs_group){.word = copy, .len = len, .hash = h, .delta = delta};
    gb->index[i] = (uint32_t)(gb->n + 1);
    gb->n++;
    return 0;
}

/* a[0, n) == b[0, n) for the short words most words are, without a call:
 * two overlapping loads cover any length from 4 to 16. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x, y, u, v;
    uint32_t p, q, r, t;
    if (n >= 8 && n <= 16) {
        memcpy(&x, a, 8), memcpy(&y, b, 8);
        memcpy(&u, a + n - 8, 8), memcpy(&v, b + n - 8, 8);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    if (n >= 4 && n < 8) {
        memcpy(&p, a, 4), memcpy(&q, b, 4);
        memcpy(&r, a + n - 4, 4), memcpy(&t, b + n - 4, 4);
        return ((p ^ q) | (r ^ t)) == 0;
    }
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return false;
        return true;
    }
    return memcmp(a, b, n) == 0;
}

static inline int add(struct wcs_groupby *gb, const char *word, size_t len, uint64_t h,
                      int64_t delta)
{
    size_t mask = gb->icap - 1;
    size_t i = (size_t)h & mask;
    uint32_t slot;

    while ((slot = gb->index[i]) != 0) {
        struct wcs_group *g = &gb->groups[slot - 1];
        if (g->hash == h && g->len == len && same_bytes(g->word, word, len)) {
            g->delta += delta;
            return 0;
        }
        i = (i + 1) & mask;
    }
    return insert(gb, word, len, h, delta);
}

int wcs_groupby_add(struct wcs_groupby *gb, const char *word, size_t len, int64_t delta)
{
    if (gb->sorted)
        return -EINVAL;
    return add(gb, word, len, XXH3_64bits(word, len), delta);
}

/*
 * The table is bigger than the cache once a batch has many distinct words,
 * and each lookup is a chain of three loads: index slot, group, the group's
 * word. The words of a chunk are known in advance, so those loads are
 * prefetched in a pipeline: word k + AHEAD is hashed and its slot
 * prefetched, word k + AHEAD / 2 has its group prefetched, word
 * k + AHEAD / 4 its group's word bytes, and word k is added. The
 * prefetches are only hints: add() does the real lookup. Each stage
 * must lead by more than a memory latency: natural, stdin, median of seven
 * runs in turn: AHEAD 16 425 ms, 32 375, 64 376, 128 374 (the word
 * prefetch 4 words ahead stalled on the group's load).
 */
#define AHEAD 64

int wcs_groupby_add_words(struct wcs_groupby *gb, const struct wcs_word *words, size_t n)
{
    uint64_t ring[AHEAD];

    if (gb->sorted)
        return -EINVAL;
    for (size_t k = 0; k < n && k < AHEAD; k++) {
        ring[k] = XXH3_64bits(words[k].ptr, words[k].len);
        __builtin_prefetch(&gb->index[ring[k] & (gb->icap - 1)]);
    }
    for (size_t k = 0; k < n; k++) {
        uint64_t h = ring[k % AHEAD];
        if (k + AHEAD < n) {
            uint64_t ah = XXH3_64bits(words[k + AHEAD].ptr, words[k + AHEAD].len);
            ring[k % AHEAD] = ah;
            __builtin_prefetch(&gb->index[ah & (gb->icap - 1)]);
        }
        if (k + AHEAD / 2 < n) {
            uint32_t slot = gb->index[ring[(k + AHEAD / 2) % AHEAD] & (gb->icap - 1)];
            if (slot)
                __builtin_prefetch(&gb->groups[slot - 1]);
        }
        if (k + AHEAD / 4 < n) {
            uint32_t slot = gb->index[ring[(k + AHEAD / 4) % AHEAD] & (gb->icap - 1)];
            if (slot)
                __builtin_prefetch(gb->groups[slot - 1].word);
        }
        int rc = add(gb, words[k].ptr, words[k].len, h, 1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

size_t wcs_groupby_size(const struct wcs_groupby *gb)
{
    return gb->n;
}

const struct wcs_group *wcs_groupby_groups(const struct wcs_groupby *gb)
{
    return gb->groups;
}

int wcs_group_cmp(const void *pa, const void *pb)
{
    const struct wcs_group *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->word, b->word, n) : 0; /* an empty word may have no bytes */
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* A group's place in key order: its first 8 bytes as a big-endian number
 * decide most comparisons without touching the word. */
struct key_order {
    uint64_t prefix;
    const struct wcs_group *g;
};

static uint64_t prefix8(const char *w, size_t len)
{
    uint64_t p = 0;
    if (len >= 8) {
        memcpy(&p, w, 8);
        return __builtin_bswap64(p); /* little-endian: the first byte on top */
    }
    for (size_t i = 0; i < 8; i++)
        p = p << 8 | (i < len ? (unsigned char)w[i] : 0);
    return p;
}

static int cmp_key_order(const void *a, const void *b)
{
    return wcs_group_cmp(((const struct key_order *)a)->g, ((const struct key_order *)b)->g);
}

/* For the short runs of equal prefixes the radix sort leaves: in cache, a
 * few compares of the whole words. */
#define INSERTION_MAX 32

static void insertion_sort(struct key_order *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct key_order x = v[i];
        size_t j = i;
        for (; j > 0 && cmp_key_order(&x, &v[j - 1]) < 0; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/*
 * An LSD radix sort on the prefixes, one byte a pass, with tmp as room for
 * n entries; a pass is skipped where every prefix has the same byte. Then
 * each run of equal prefixes (words alike in their first 8 bytes; most
 * runs are a few words) is sorted on the whole words. An MSD radix sort
 * measured no faster on natural text; qsort() takes ten times as long.
 */
static void radix_sort(struct key_order *v, struct key_order *tmp, size_t n)
{
    size_t count[8][256] = {{0}};
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            count[b][(v[i].prefix >> (8 * b)) & 0xff]++;
    struct key_order *src = v, *dst = tmp;
    for (int b = 0; b < 8; b++) {
        size_t *c = count[b];
        if (c[(src[0].prefix >> (8 * b)) & 0xff] == n)
            continue;
        for (size_t d = 0, sum = 0; d < 256; d++) {
            size_t k = c[d];
            c[d] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++)
            dst[c[(src[i].prefix >> (8 * b)) & 0xff]++] = src[i];
        struct key_order *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j].prefix == v[i].prefix; j++)
            ;
        if (j - i <= INSERTION_MAX)
            insertion_sort(v + i, j - i);
        else
            qsort(v + i, j - i, sizeof(*v), cmp_key_order);
    }
}

/*
 * Sort the groups' prefixes (radix_sort()), then move the groups into that
 * order: gathered into the scratch (independent loads, fetched ahead, where
 * permuting in place would chase one cache miss after another) and copied
 * back. The scratch holds the n prefixes, then room for n groups, which
 * the radix sort uses for its n temporary prefixes first. Kept from batch
 * to batch, it costs no allocation once it has grown.
 */
int wcs_groupby_sort(struct wcs_groupby *gb, struct wcs_buf *scratch)
{
    size_t n = gb->n;
    if (n < 2) {
        gb->sorted = true;
        return 0;
    }
    _Static_assert(sizeof(struct wcs_group) >= sizeof(struct key_order), "the radix sort's room");
    if (n > SIZE_MAX / (sizeof(struct key_order) + sizeof(struct wcs_group)) ||
        wcs_buf_reserve(scratch, n * (sizeof(struct key_order) + sizeof(struct wcs_group))) < 0)
        return -ENOMEM;
    struct key_order *order = (struct key_order *)(void *)scratch->data;
    struct wcs_group *out = (struct wcs_group *)(void *)(order + n);
    for (size_t i = 0; i < n; i++)
        order[i] =
            (struct key_order){prefix8(gb->groups[i].word, gb->groups[i].len), &gb->groups[i]};
    radix_sort(order, (struct key_order *)(void *)out, n);
    for (size_t i = 0; i < n; i++) {
        if (i + 16 < n)
            __builtin_prefetch(order[i + 16].g);
        out[i] = *order[i].g;
    }
    memcpy(gb->groups, out, n * sizeof(*out));
    gb->sorted = true;
    return 0;
}
