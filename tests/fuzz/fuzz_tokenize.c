/*
 * fuzz_tokenize.c - libFuzzer target for the tokenizer (src/tokenize.c),
 * the first step of every micro-batch.
 *
 * The first input byte picks the split mode: whitespace, spark, words, or
 * regex with one of a few fixed patterns (one that splits like whitespace,
 * a character class, and patterns that match the empty string); the rest is
 * the batch. Every input is tokenized twice, without and with --lowercase.
 * Beyond "no crash" it checks: chunks of 1..WCS_TOKENIZE_CHUNK words; every
 * word without --lowercase lies inside the batch, after the one before it,
 * and never spans a line end; whitespace, spark, regex:\s+ and regex:[,;]+
 * give exactly the words of a plain reference splitter, words mode on ASCII
 * too (otherwise its words start with a word character and hold no ASCII
 * separator); regex:x* gives every character but x alone in valid UTF-8
 * (PCRE2 matches nothing inside invalid UTF-8); and the i-th word
 * with --lowercase is the i-th without it, case-folded (ASCII lower case, or
 * utf8proc's full case folding when it is valid UTF-8), and the very same
 * bytes of the batch (no copy) when folding changes nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "fuzz.h"
#include "wcstream/buf.h"
#include "wcstream/tokenize.h"

enum check {
    CHECK_WHITESPACE, /* the reference whitespace splitter */
    CHECK_SPARK,      /* the reference split(' ') per line */
    CHECK_WORDS,      /* the ASCII reference, structure otherwise */
    CHECK_PUNCT,      /* split per line at runs of , and ; */
    CHECK_CHARS,      /* every character but 'x' alone */
    CHECK_NONE,       /* only the checks every mode gets */
};

static const struct mode {
    const char *spec;
    enum check check;
} modes[] = {
    {"whitespace", CHECK_WHITESPACE}, {"spark", CHECK_SPARK},
    {"words", CHECK_WORDS},           {"regex:\\s+", CHECK_WHITESPACE},
    {"regex:[,;]+", CHECK_PUNCT},     {"regex:x*", CHECK_CHARS},
    {"regex:\\b", CHECK_NONE},        {"regex:(?<=a)|b|\\p{Lu}", CHECK_NONE},
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static struct wcs_tokenizer *plain[NMODES], *lower[NMODES];

/* The words of one tokenize call, in order. */
struct words {
    struct wcs_word *v;
    size_t n, cap;
};

static void collect(void *arg, const struct wcs_word *w, size_t n)
{
    struct words *ws = arg;
    FUZZ_CHECK(n >= 1 && n <= WCS_TOKENIZE_CHUNK, "a chunk of %zu words", n);
    if (ws->n + n > ws->cap) {
        ws->cap = (ws->n + n) * 2;
        ws->v = realloc(ws->v, ws->cap * sizeof(*ws->v));
        FUZZ_CHECK(ws->v != NULL, "out of memory");
    }
    memcpy(ws->v + ws->n, w, n * sizeof(*w));
    ws->n += n;
}

static void push(struct words *ws, const char *p, size_t len)
{
    struct wcs_word w = {p, len};
    collect(ws, &w, 1);
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Maximal runs of bytes that are not ASCII whitespace. */
static void ref_whitespace(const char *s, size_t n, struct words *out)
{
    size_t i = 0;
    while (i < n) {
        if (is_space((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_space((unsigned char)s[j]))
            j++;
        push(out, s + i, j - i);
        i = j;
    }
}

/* Call fn for each line: up to '\n' (a '\r' before it, or before the end
 * of the batch, is not part of it); no line after a final '\n'. */
static void each_line(const char *s, size_t n, void (*fn)(const char *, size_t, struct words *),
                      struct words *out)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\n')
            j++;
        size_t e = j > i && s[j - 1] == '\r' ? j - 1 : j;
        fn(s + i, e - i, out);
        i = j + 1;
    }
}

static void spark_line(const char *s, size_t n, struct words *out)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ' ') {
            push(out, s + start, i - start);
            start = i + 1;
        }
    }
}

static void punct_line(const char *s, size_t n, struct words *out)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',' || s[i] == ';') {
            if (i > start)
                push(out, s + start, i - start);
            start = i + 1;
        }
    }
}

/* ASCII words mode: alnum runs joined by single ' or - between them. */
static void ref_words_ascii(const char *s, size_t n, struct words *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (!is_alnum(u[i])) {
            i++;
            continue;
        }
        size_t j = i;
        for (;;) {
            while (j < n && is_alnum(u[j]))
                j++;
            if (j + 1 < n && (u[j] == '\'' || u[j] == '-') && is_alnum(u[j + 1]))
                j++;
            else
                break;
        }
        push(out, s + i, j - i);
        i = j;
    }
}

/* Length of the character at s as the tokenizer steps: its UTF-8 length
 * when valid, else 1. */
static size_t char_len(const char *s, size_t rem)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t r =
        utf8proc_iterate((const utf8proc_uint8_t *)s, rem < 4 ? (utf8proc_ssize_t)rem : 4, &cp);
    return r > 0 ? (size_t)r : 1;
}

/* Whether every character decodes (utf8proc's idea of valid UTF-8). */
static bool valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              n - i < 4 ? (utf8proc_ssize_t)(n - i) : 4, &cp);
        if (r <= 0)
            return false;
        i += (size_t)r;
    }
    return true;
}

static void chars_line(const char *s, size_t n, struct words *out)
{
    for (size_t i = 0; i < n;) {
        size_t k = char_len(s + i, n - i);
        if (s[i] != 'x')
            push(out, s + i, k);
        i += k;
    }
}

static void same_words(const struct words *got, const struct words *want, const char *spec)
{
    FUZZ_CHECK(got->n == want->n, "%s: %zu words, the reference has %zu", spec, got->n, want->n);
    for (size_t i = 0; i < got->n; i++)
        FUZZ_CHECK(got->v[i].ptr == want->v[i].ptr && got->v[i].len == want->v[i].len,
                   "%s: word %zu differs from the reference ('%.*s' vs '%.*s')", spec, i,
                   (int)got->v[i].len, got->v[i].ptr, (int)want->v[i].len, want->v[i].ptr);
}

/* Words mode on any bytes: a word starts with a word character (ASCII
 * alnum or a non-ASCII byte) and holds no ASCII byte but alnum, ' and -. */
static void words_shape(const struct words *ws)
{
    for (size_t i = 0; i < ws->n; i++) {
        const unsigned char *w = (const unsigned char *)ws->v[i].ptr;
        size_t len = ws->v[i].len;
        FUZZ_CHECK(len > 0, "words: an empty word");
        FUZZ_CHECK(is_alnum(w[0]) || w[0] >= 0x80, "words: word %zu starts with 0x%02x", i, w[0]);
        for (size_t k = 0; k < len; k++)
            FUZZ_CHECK(w[k] >= 0x80 || is_alnum(w[k]) || w[k] == '\'' || w[k] == '-',
                       "words: word %zu holds 0x%02x", i, w[k]);
        FUZZ_CHECK(w[len - 1] != '\'' && w[len - 1] != '-', "words: word %zu ends in a joiner", i);
    }
}

/* Every word inside the batch, in order, on one line. */
static void inside(const struct words *ws, const char *data, size_t len, bool empties)
{
    const char *prev_end = data;
    for (size_t i = 0; i < ws->n; i++) {
        const char *p = ws->v[i].ptr;
        size_t n = ws->v[i].len;
        FUZZ_CHECK(p >= prev_end && p <= data + len && n <= (size_t)(data + len - p),
                   "word %zu (%zu bytes) is not inside the batch after the word before it", i, n);
        FUZZ_CHECK(empties || n > 0, "word %zu is empty", i);
        FUZZ_CHECK(n == 0 || !memchr(p, '\n', n), "word %zu spans a line end", i);
        prev_end = p + n;
    }
}

/* The i-th --lowercase word is the i-th plain word, case-folded. */
static void folded(const struct words *pl, const struct words *lw, const char *spec)
{
    FUZZ_CHECK(pl->n == lw->n, "%s: %zu words, %zu with --lowercase", spec, pl->n, lw->n);
    for (size_t i = 0; i < pl->n; i++) {
        const char *p = pl->v[i].ptr, *q = lw->v[i].ptr;
        size_t n = pl->v[i].len, m = lw->v[i].len;
        bool ascii = true;
        for (size_t k = 0; k < n; k++)
            ascii &= (unsigned char)p[k] < 0x80;
        if (ascii) {
            FUZZ_CHECK(m == n, "%s: word %zu changed length when lower-cased", spec, i);
            for (size_t k = 0; k < n; k++) {
                unsigned char c = (unsigned char)p[k];
                FUZZ_CHECK((unsigned char)q[k] == (c >= 'A' && c <= 'Z' ? c + 32 : c),
                           "%s: word %zu byte %zu lower-cased wrongly", spec, i, k);
            }
        } else {
            utf8proc_uint8_t *f = NULL;
            utf8proc_ssize_t fl = n ? utf8proc_map((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)n,
                                                   &f, UTF8PROC_CASEFOLD)
                                    : 0;
            if (fl >= 0 && f)
                FUZZ_CHECK((size_t)fl == m && memcmp(f, q, m) == 0,
                           "%s: word %zu is not utf8proc's case folding", spec, i);
            free(f);
        }
        if (m == n && memcmp(p, q, n) == 0)
            FUZZ_CHECK(p == q, "%s: word %zu copied though folding changed nothing", spec, i);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    for (size_t i = 0; i < NMODES; i++) {
        enum wcs_split mode;
        const char *pattern;
        if (wcs_split_parse(modes[i].spec, &mode, &pattern, err, sizeof(err)) < 0 ||
            !(plain[i] = wcs_tokenizer_new(mode, pattern, false, err, sizeof(err))) ||
            !(lower[i] = wcs_tokenizer_new(mode, pattern, true, err, sizeof(err)))) {
            fprintf(stderr, "fuzz_tokenize: %s: %s\n", modes[i].spec, err);
            exit(1);
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1)
        return 0;
    size_t m = in[0] % NMODES;
    const struct mode *md = &modes[m];
    const char *data = (const char *)in + 1;
    size_t len = size - 1;
    struct words pl = {0}, lw = {0}, ref = {0};
    struct wcs_arena arena = {0};

    FUZZ_CHECK(wcs_tokenize(plain[m], data, len, NULL, collect, &pl) == 0, "tokenize failed");
    FUZZ_CHECK(wcs_tokenize(lower[m], data, len, &arena, collect, &lw) == 0, "tokenize failed");
    inside(&pl, data, len, md->check == CHECK_SPARK);

    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char)data[i] < 0x80;
    switch (md->check) {
    case CHECK_WHITESPACE:
        ref_whitespace(data, len, &ref);
        same_words(&pl, &ref, md->spec);
        break;
    case CHECK_SPARK:
        each_line(data, len, spark_line, &ref);
        same_words(&pl, &ref, md->spec);
        break;
    case CHECK_WORDS:
        words_shape(&pl);
        if (ascii) {
            ref_words_ascii(data, len, &ref);
            same_words(&pl, &ref, md->spec);
        }
        break;
    case CHECK_PUNCT:
        each_line(data, len, punct_line, &ref);
        same_words(&pl, &ref, md->spec);
        break;
    case CHECK_CHARS:
        /* PCRE2 matches nothing, not even "", inside invalid UTF-8. */
        if (valid_utf8(data, len)) {
            each_line(data, len, chars_line, &ref);
            same_words(&pl, &ref, md->spec);
        }
        break;
    case CHECK_NONE:
        break;
    }
    folded(&pl, &lw, md->spec);

    free(pl.v);
    free(lw.v);
    free(ref.v);
    wcs_arena_free(&arena);
    return 0;
}
