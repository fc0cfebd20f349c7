/*
 * test_groupby.c - unit tests for the batch-local group-by table
 * (src/groupby.c): word -> delta, between the tokenizer and the state.
 *
 * Counts are compared with a naive linear-scan reference over random words
 * (NUL bytes and empty words included), the table is pushed through many
 * resizes, and reset must forget everything while staying usable. Sorting
 * must give the state's key order (checked against a byte-by-byte
 * comparison of the test's own) and keep every delta.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <xxhash.h>

#include "wcstream/groupby.h"

struct gb_ref {
    const char *word;
    size_t len;
    int64_t count;
};

/* Deterministic pseudo-random numbers (xorshift64). */
static uint64_t gb_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The group for word, or NULL; a linear scan over the dense array. */
static const struct wcs_group *gb_find(const struct wcs_groupby *gb, const char *word, size_t len)
{
    const struct wcs_group *g = wcs_groupby_groups(gb);
    for (size_t i = 0; i < wcs_groupby_size(gb); i++)
        if (g[i].len == len && (len == 0 || memcmp(g[i].word, word, len) == 0))
            return &g[i];
    return NULL;
}

Test(groupby, matches_naive_reference_on_random_words)
{
    enum { VOCAB = 700, N = 6000 };
    static char text[VOCAB * 16];
    struct gb_ref vocab[VOCAB];
    struct wcs_word words[N];
    uint64_t seed = 0x9e3779b97f4a7c15u;
    size_t off = 0;

    /* A vocabulary of random byte strings, 0..12 bytes, from a small alphabet
     * (with NUL and 0xff) so that many share prefixes and lengths. */
    for (size_t v = 0; v < VOCAB; v++) {
        size_t len = gb_rand(&seed) % 13;
        vocab[v].word = text + off;
        vocab[v].len = len;
        for (size_t k = 0; k < len; k++)
            text[off++] = "ab\0\xff"[gb_rand(&seed) % 4];
    }

    /* Words are picked from the vocabulary; the reference counts them by
     * linear scan, keeping first-seen order. Equal strings in the
     * vocabulary at different addresses must still land in one group. */
    struct gb_ref ref[VOCAB];
    size_t nref = 0;
    for (size_t i = 0; i < N; i++) {
        const struct gb_ref *w = &vocab[gb_rand(&seed) % VOCAB];
        words[i].ptr = w->word;
        words[i].len = w->len;
        size_t r = 0;
        while (r < nref && !(ref[r].len == w->len && memcmp(ref[r].word, w->word, w->len) == 0))
            r++;
        if (r == nref)
            ref[nref++] = (struct gb_ref){w->word, w->len, 0};
        ref[r].count++;
    }

    struct wcs_groupby *gb = wcs_groupby_new();
    cr_assert_not_null(gb);
    /* half word by word, half in one call */
    for (size_t i = 0; i < N / 2; i++)
        cr_assert_eq(wcs_groupby_add(gb, words[i].ptr, words[i].len, 1), 0);
    cr_assert_eq(wcs_groupby_add_words(gb, words + N / 2, N - N / 2), 0);

    cr_assert_eq(wcs_groupby_size(gb), nref);
    const struct wcs_group *g = wcs_groupby_groups(gb);
    int64_t total = 0;
    for (size_t r = 0; r < nref; r++) {
        cr_assert_eq(g[r].len, ref[r].len, "group %zu: insertion order", r);
        cr_assert(memcmp(g[r].word, ref[r].word, ref[r].len) == 0, "group %zu: word", r);
        cr_assert_eq(g[r].delta, ref[r].count, "group %zu: count", r);
        cr_assert_eq(g[r].hash, XXH3_64bits(g[r].word, g[r].len), "group %zu: stored hash", r);
        total += g[r].delta;
    }
    cr_expect_eq(total, N);
    wcs_groupby_free(gb);
}

Test(groupby, growth_past_many_resizes)
{
    enum { N = 300000 };
    char *keys = malloc((size_t)N * 8);
    cr_assert_not_null(keys);
    for (size_t i = 0; i < N; i++) {
        /* fixed 8-byte keys, not NUL-terminated, all distinct */
        uint64_t x = i * 0x9e3779b97f4a7c15u;
        memcpy(keys + i * 8, &x, 8);
    }

    struct wcs_word *w = malloc((size_t)N * sizeof(*w));
    cr_assert_not_null(w);
    for (size_t i = 0; i < N; i++)
        w[i] = (struct wcs_word){keys + i * 8, 8};

    /* first round through add_words in slices of odd sizes, so the table
     * grows in the middle of a call */
    struct wcs_groupby *gb = wcs_groupby_new();
    cr_assert_not_null(gb);
    static const size_t slices[] = {1, 7, 16, 17, 4096, 100000};
    size_t done = 0;
    for (size_t s = 0; done < N; s++) {
        size_t m = s < sizeof(slices) / sizeof(*slices) ? slices[s] : N - done;
        if (m > N - done)
            m = N - done;
        cr_assert_eq(wcs_groupby_add_words(gb, w + done, m), 0);
        done += m;
        cr_assert_eq(wcs_groupby_size(gb), done);
    }
    /* every key again, one by one: no new groups, deltas add up */
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(wcs_groupby_add(gb, keys + i * 8, 8, (int64_t)i), 0);
    cr_assert_eq(wcs_groupby_size(gb), N);
    const struct wcs_group *g = wcs_groupby_groups(gb);
    for (size_t i = 0; i < N; i++) {
        cr_assert(g[i].word != keys + i * 8 && memcmp(g[i].word, keys + i * 8, 8) == 0,
                  "keys are copied into the table");
        cr_assert_eq(g[i].len, 8);
        cr_assert_eq(g[i].delta, (int64_t)i + 1, "group %zu", i);
    }
    wcs_groupby_free(gb);
    free(w);
    free(keys);
}

Test(groupby, reset_forgets_and_stays_usable)
{
    struct wcs_groupby *gb = wcs_groupby_new();
    cr_assert_not_null(gb);
    char keys[5000][8];

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            memcpy(keys[i], &(uint64_t){(uint64_t)(i + round * 5000)}, 8);
            cr_assert_eq(wcs_groupby_add(gb, keys[i], 8, 2), 0);
        }
        cr_assert_eq(wcs_groupby_size(gb), 5000);
        for (int i = 0; i < 5000; i++)
            cr_assert_eq(wcs_groupby_groups(gb)[i].delta, 2);
        wcs_groupby_reset(gb);
        cr_assert_eq(wcs_groupby_size(gb), 0);
    }
    /* after a reset a word seen before starts from zero again */
    cr_assert_eq(wcs_groupby_add(gb, "x", 1, 5), 0);
    cr_assert_eq(wcs_groupby_add(gb, "x", 1, -2), 0);
    cr_assert_eq(wcs_groupby_size(gb), 1);
    cr_expect_eq(wcs_groupby_groups(gb)[0].delta, 3);
    wcs_groupby_reset(gb);
    wcs_groupby_reset(gb);
    cr_expect_eq(wcs_groupby_size(gb), 0);
    wcs_groupby_free(gb);
    wcs_groupby_free(NULL);
}

Test(groupby, empty_and_nul_words)
{
    struct wcs_groupby *gb = wcs_groupby_new();
    cr_assert_not_null(gb);
    static const char buf[] = "a\0b a\0c \0\0";

    cr_assert_eq(wcs_groupby_add(gb, "", 0, 1), 0);
    cr_assert_eq(wcs_groupby_add(gb, buf + 4, 0, 1), 0); /* empty word, other pointer */
    cr_assert_eq(wcs_groupby_add(gb, NULL, 0, 1), 0);    /* and even NULL */
    cr_assert_eq(wcs_groupby_add(gb, buf, 3, 1), 0);     /* "a\0b" */
    cr_assert_eq(wcs_groupby_add(gb, buf + 4, 3, 1), 0); /* "a\0c" */
    cr_assert_eq(wcs_groupby_add(gb, buf + 8, 1, 1), 0); /* "\0" */
    cr_assert_eq(wcs_groupby_add(gb, buf + 8, 2, 1), 0); /* "\0\0" */
    cr_assert_eq(wcs_groupby_add(gb, buf + 9, 1, 1), 0); /* "\0" again */
    cr_assert_eq(wcs_groupby_add(gb, "a", 1, 1), 0);     /* "a", prefix of "a\0b" */

    cr_assert_eq(wcs_groupby_size(gb), 6);
    cr_expect_eq(gb_find(gb, "", 0)->delta, 3);
    cr_expect_eq(gb_find(gb, "a\0b", 3)->delta, 1);
    cr_expect_eq(gb_find(gb, "a\0c", 3)->delta, 1);
    cr_expect_eq(gb_find(gb, "\0", 1)->delta, 2);
    cr_expect_eq(gb_find(gb, "\0\0", 2)->delta, 1);
    cr_expect_eq(gb_find(gb, "a", 1)->delta, 1);
    cr_expect_eq(wcs_groupby_groups(gb)[0].len, 0, "first group is the empty word");
    wcs_groupby_free(gb);
}

Test(groupby, add_words_counts_one_each)
{
    struct wcs_groupby *gb = wcs_groupby_new();
    cr_assert_not_null(gb);
    struct wcs_word w[] = {{"to", 2}, {"be", 2}, {"or", 2}, {"not", 3},
                           {"to", 2}, {"be", 2}, {"", 0},   {"tobe", 2}};

    cr_assert_eq(wcs_groupby_add_words(gb, w, sizeof(w) / sizeof(*w)), 0);
    cr_assert_eq(wcs_groupby_add_words(gb, w, 0), 0);
    cr_assert_eq(wcs_groupby_size(gb), 5);
    const struct wcs_group *g = wcs_groupby_groups(gb);
    cr_expect(g[0].len == 2 && memcmp(g[0].word, "to", 2) == 0 && g[0].delta == 3);
    cr_expect(g[1].len == 2 && memcmp(g[1].word, "be", 2) == 0 && g[1].delta == 2);
    cr_expect(g[2].len == 2 && memcmp(g[2].word, "or", 2) == 0 && g[2].delta == 1);
    cr_expect(g[3].len == 3 && memcmp(g[3].word, "not", 3) == 0 && g[3].delta == 1);
    cr_expect(g[4].len == 0 && g[4].delta == 1);
    wcs_groupby_free(gb);
}

Test(groupby, new_table_is_empty)
{
    struct wcs_groupby *gb = wcs_groupby_new();
    cr_assert_not_null(gb);
    cr_expect_eq(wcs_groupby_size(gb), 0);
    cr_expect_null(gb_find(gb, "x", 1));
    wcs_groupby_free(gb);
}

/* Key order spelled out: bytes as unsigned, then the shorter first. */
static int gb_key_cmp(const struct wcs_group *a, const struct wcs_group *b)
{
    for (size_t i = 0; i < a->len && i < b->len; i++)
        if (a->word[i] != b->word[i])
            return (unsigned char)a->word[i] < (unsigned char)b->word[i] ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

Test(groupby, sort_gives_key_order_and_keeps_deltas)
{
    enum { N = 20000 };
    struct wcs_groupby *gb = wcs_groupby_new();
    cr_assert_not_null(gb);
    struct wcs_buf scratch = {0};
    char(*w)[24] = calloc(N, sizeof(*w));
    size_t *len = calloc(N, sizeof(*len));
    cr_assert(w && len);
    uint64_t seed = 7;
    for (int round = 0; round < 2; round++) { /* the second reuses the scratch, grown */
        size_t n = round ? N : N / 10;
        for (size_t i = 0; i < n; i++) {
            uint64_t r = gb_rand(&seed);
            switch (r % 4) {
            case 0: /* runs of one long prefix: the whole words decide */
                len[i] = (size_t)snprintf(w[i], sizeof(w[i]), "internationally%u",
                                          (unsigned)(r >> 8) % 500);
                break;
            case 1: /* short, bytes above 0x7f and NULs: unsigned, and length */
                len[i] = (size_t)(r >> 8) % 4;
                for (size_t k = 0; k < len[i]; k++)
                    w[i][k] = "a\0\xe9z"[(r >> (16 + 2 * k)) % 4];
                break;
            default:
                len[i] = 1 + (size_t)(r >> 8) % 20;
                for (size_t k = 0; k < len[i]; k++)
                    w[i][k] = (char)('a' + (r >> (12 + k)) % 3);
            }
            cr_assert_eq(wcs_groupby_add(gb, w[i], len[i], (int64_t)(i % 7)), 0);
        }
        size_t size = wcs_groupby_size(gb);
        int64_t *want = calloc(n, sizeof(*want));
        cr_assert_not_null(want);
        for (size_t i = 0; i < n; i++)
            want[i] = gb_find(gb, w[i], len[i])->delta;
        cr_assert_eq(wcs_groupby_sort(gb, &scratch), 0);
        cr_assert_eq(wcs_groupby_size(gb), size);
        const struct wcs_group *g = wcs_groupby_groups(gb);
        for (size_t i = 1; i < size; i++) {
            cr_assert_lt(gb_key_cmp(&g[i - 1], &g[i]), 0, "groups %zu and %zu out of order", i - 1,
                         i);
            cr_assert_lt(wcs_group_cmp(&g[i - 1], &g[i]), 0);
        }
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(gb_find(gb, w[i], len[i])->delta, want[i], "word %zu", i);
        free(want);
        cr_expect_eq(wcs_groupby_add(gb, "new", 3, 1), -EINVAL, "a sorted table takes no words");
        struct wcs_word one = {"new", 3};
        cr_expect_eq(wcs_groupby_add_words(gb, &one, 1), -EINVAL);
        cr_expect_eq(wcs_groupby_size(gb), size);
        wcs_groupby_reset(gb);
        cr_expect_eq(wcs_groupby_add(gb, "new", 3, 1), 0, "a reset table does");
        wcs_groupby_reset(gb);
    }
    /* Nothing, or one group, is sorted too. */
    cr_expect_eq(wcs_groupby_sort(gb, &scratch), 0);
    wcs_groupby_reset(gb);
    cr_assert_eq(wcs_groupby_add(gb, "", 0, 1), 0);
    cr_expect_eq(wcs_groupby_sort(gb, &scratch), 0);
    cr_expect_eq(wcs_groupby_groups(gb)[0].delta, 1);
    wcs_buf_free(&scratch);
    wcs_groupby_free(gb);
    free(w);
    free(len);
}
