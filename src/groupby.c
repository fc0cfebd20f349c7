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
    uint32_t *index;          /* icap slots: group + 1, or 0 when empty */
    size_t icap;              /* power of two */
    struct wcs_arena words;   /* the groups' words */
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
    return add(gb, word, len, XXH3_64bits(word, len), delta);
}

/*
 * The table is bigger than the cache once a batch has many distinct words,
 * and each lookup is a chain of three loads: index slot, group, the group's
 * word. The words of a chunk are known in advance, so those loads are
 * prefetched in a pipeline: word k + AHEAD is hashed and its slot
 * prefetched, word k + AHEAD / 2 has its group prefetched, word
 * k + AHEAD / 4 its group's word bytes, and word k is added. The
 * prefetches are only hints: add() does the real lookup.
 */
#define AHEAD 16

int wcs_groupby_add_words(struct wcs_groupby *gb, const struct wcs_word *words, size_t n)
{
    uint64_t ring[AHEAD];

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
