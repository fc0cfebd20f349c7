/*
 * tokenize.h - split + explode + normalise, fused into one pass.
 *
 * The engine hands the tokenizer the micro-batch's bytes: whole lines, each
 * ending in '\n' (the last one may lack it). Words come out as pointer and
 * length (zero-copy into the batch, or into the batch arena when
 * --lowercase changed them), in chunks of up to WCS_TOKENIZE_CHUNK words,
 * to a callback that folds them into the group-by table.
 */
#ifndef WCSTREAM_TOKENIZE_H
#define WCSTREAM_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wcstream/buf.h"

#define WCS_TOKENIZE_CHUNK 4096

enum wcs_split {
    WCS_SPLIT_WHITESPACE, /* maximal runs of non-whitespace bytes */
    WCS_SPLIT_SPARK,      /* explode(split(value, ' ')): empty words kept */
    WCS_SPLIT_WORDS,      /* Unicode letters/digits, inner ' and - */
    WCS_SPLIT_REGEX,      /* PCRE2 pattern separates words; empties dropped */
};

struct wcs_word {
    const char *ptr;
    size_t len;
};

typedef void (*wcs_word_fn)(void *arg, const struct wcs_word *words, size_t n);

struct wcs_tokenizer;

/* Parse a --split value: "whitespace", "spark", "words" or "regex:PATTERN".
 * On success sets *mode and, for regex, *pattern to point into `spec`.
 * 0 on success, -1 with a sentence in err otherwise. */
int wcs_split_parse(const char *spec, enum wcs_split *mode, const char **pattern, char *err,
                    size_t errlen);

/* Create a tokenizer. `pattern` is used only with WCS_SPLIT_REGEX (PCRE2
 * syntax, UTF mode, invalid UTF-8 in the subject allowed). NULL with a
 * sentence in err when the pattern does not compile or memory runs out. */
struct wcs_tokenizer *wcs_tokenizer_new(enum wcs_split mode, const char *pattern, bool lowercase,
                                        char *err, size_t errlen);

/* Free a tokenizer. Accepts NULL. */
void wcs_tokenizer_free(struct wcs_tokenizer *tk);

/*
 * Tokenize [data, data + len). Lines end at '\n'; a '\r' right before the
 * '\n' belongs to the line end, not to a word. Invalid UTF-8 and NUL bytes
 * are ordinary bytes: never an error, kept as they are. Words are passed to
 * fn in order; their bytes stay valid until `arena` is reset and `data`
 * is freed. Returns 0, or -ENOMEM (words already passed stay passed).
 * Not thread-safe per tokenizer; use one per thread.
 */
int wcs_tokenize(struct wcs_tokenizer *tk, const char *data, size_t len, struct wcs_arena *arena,
                 wcs_word_fn fn, void *arg);

/* One word [word, word + *len) as wcs_tokenize() would pass it on once
 * split: case-folded with --lowercase, else itself. Splitting is not
 * applied (the word is taken whole). The result is word itself or a copy
 * in arena, with *len updated; NULL when out of memory. For looking a
 * word up as the query counts it. Not thread-safe per tokenizer. */
const char *wcs_tokenizer_normalise(struct wcs_tokenizer *tk, const char *word, size_t *len,
                                    struct wcs_arena *arena);

#endif
