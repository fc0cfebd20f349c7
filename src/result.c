/*
 * result.c - the order of result rows.
 *
 * Every list of rows a sink sees (the words updated by a batch, the top-N
 * of the state) is in one order: count descending, then word ascending by
 * bytes, the order of the state's top-k and of Spark's
 * orderBy(desc("count"), "word"). The engine sorts with this comparator and
 * tests check sink output against it.
 */
#include "wcstream/result.h"

#include <string.h>

int wcs_row_word_cmp(const void *a, const void *b)
{
    const struct wcs_row *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->word, y->word, n) : 0;

    if (c != 0)
        return c < 0 ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return 0;
}

int wcs_row_cmp(const void *a, const void *b)
{
    const struct wcs_row *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return wcs_row_word_cmp(a, b);
}
