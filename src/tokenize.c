/*
 * tokenize.c - split + explode + normalise, fused into one pass.
 *
 * The engine hands over the micro-batch's bytes (whole lines); this file
 * cuts them into words and passes them, in chunks of WCS_TOKENIZE_CHUNK, to
 * a callback that folds them into the group-by table. A word is a pointer
 * and a length into the batch; only --lowercase, when it changes a word,
 * writes the folded copy into the batch arena. Four ways to split:
 *
 *   whitespace  runs of non-whitespace bytes; the hot path: one pass over
 *               the whole batch with a 256-entry byte classifier.
 *   spark       Spark's explode(split(value, ' ')) per line, empty words
 *               kept.
 *   words       Unicode letters and digits (and marks inside a word), with
 *               inner apostrophes and hyphens; ASCII goes through the table,
 *               the rest through utf8proc.
 *   regex       PCRE2 matches separate the words of each line.
 *
 * Bytes that are not valid UTF-8 and NUL bytes are ordinary bytes
 * everywhere.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include "wcstream/log.h"
#include "wcstream/tokenize.h"

/* Byte classes for ASCII; every byte >= 0x80 is 0 here. */
#define C_SPACE 1 /* ASCII whitespace: the separators of whitespace mode */
#define C_UPPER 2 /* A-Z; C_UPPER << 4 is the distance to a-z */
#define C_WORD  4 /* ASCII letters and digits, for words mode */
#define C_JOIN  8 /* ' and -, kept between two word characters */

/* Designated initializers of cls[]: no parentheses possible. */
#define UPPER(c) [c] = C_UPPER | C_WORD /* NOLINT(bugprone-macro-parentheses) */
#define LOWER(c) [c] = C_WORD           /* NOLINT(bugprone-macro-parentheses) */

static const unsigned char cls[256] = {
    [' '] = C_SPACE,  ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\v'] = C_SPACE, ['\f'] = C_SPACE,
    ['\r'] = C_SPACE, ['\''] = C_JOIN,  ['-'] = C_JOIN,   ['0'] = C_WORD,   ['1'] = C_WORD,
    ['2'] = C_WORD,   ['3'] = C_WORD,   ['4'] = C_WORD,   ['5'] = C_WORD,   ['6'] = C_WORD,
    ['7'] = C_WORD,   ['8'] = C_WORD,   ['9'] = C_WORD,   UPPER('A'),       UPPER('B'),
    UPPER('C'),       UPPER('D'),       UPPER('E'),       UPPER('F'),       UPPER('G'),
    UPPER('H'),       UPPER('I'),       UPPER('J'),       UPPER('K'),       UPPER('L'),
    UPPER('M'),       UPPER('N'),       UPPER('O'),       UPPER('P'),       UPPER('Q'),
    UPPER('R'),       UPPER('S'),       UPPER('T'),       UPPER('U'),       UPPER('V'),
    UPPER('W'),       UPPER('X'),       UPPER('Y'),       UPPER('Z'),       LOWER('a'),
    LOWER('b'),       LOWER('c'),       LOWER('d'),       LOWER('e'),       LOWER('f'),
    LOWER('g'),       LOWER('h'),       LOWER('i'),       LOWER('j'),       LOWER('k'),
    LOWER('l'),       LOWER('m'),       LOWER('n'),       LOWER('o'),       LOWER('p'),
    LOWER('q'),       LOWER('r'),       LOWER('s'),       LOWER('t'),       LOWER('u'),
    LOWER('v'),       LOWER('w'),       LOWER('x'),       LOWER('y'),       LOWER('z'),
};

#define ASCII_LOWER(c) ((unsigned char)((c) + ((cls[(c)] & C_UPPER) << 4)))

/* The heap a match may use when PCRE2 interprets the pattern (in KiB, as
 * pcre2_set_heap_limit() takes it): when the JIT's stack is too small for a
 * match, or there is no JIT. PCRE2's own default is 20 GB; this bounds what
 * each tokenizer's match data keeps. */
#define REGEX_HEAP_KIB 16384

/* Case folding maps one code point to at most 3; leave room to spare. */
#define FOLD_MAX 8

struct wcs_tokenizer {
    enum wcs_split mode;
    bool lowercase;
    pcre2_code *re;          /* regex mode only: for lines of valid UTF-8, JIT-compiled */
    pcre2_code *re_any;      /* regex mode only: other lines, interpreted (compile_regex()) */
    pcre2_match_data *md;    /* regex mode only */
    pcre2_match_context *mc; /* regex mode only: the interpreter's heap limit */
    struct wcs_buf fold;     /* scratch for Unicode case folding */
    struct wcs_arena *arena; /* the current call's */
    wcs_word_fn fn;
    void *arg;
    size_t n; /* words waiting in words[] */
    struct wcs_word words[WCS_TOKENIZE_CHUNK];
};

int wcs_split_parse(const char *spec, enum wcs_split *mode, const char **pattern, char *err,
                    size_t errlen)
{
    static const char valid[] = "expected whitespace, spark, words or regex:PATTERN";

    if (pattern)
        *pattern = NULL;
    if (!spec) {
        wcs_err(err, errlen, "missing --split value: %s.", valid);
        return -1;
    }
    if (strcmp(spec, "whitespace") == 0) {
        *mode = WCS_SPLIT_WHITESPACE;
    } else if (strcmp(spec, "spark") == 0) {
        *mode = WCS_SPLIT_SPARK;
    } else if (strcmp(spec, "words") == 0) {
        *mode = WCS_SPLIT_WORDS;
    } else if (strncmp(spec, "regex:", 6) == 0) {
        if (spec[6] == '\0') {
            wcs_err(err, errlen, "--split regex: needs a pattern after 'regex:' (%s).", valid);
            return -1;
        }
        *mode = WCS_SPLIT_REGEX;
        if (pattern)
            *pattern = spec + 6;
    } else {
        wcs_err(err, errlen, "unknown --split value '%s': %s.", spec, valid);
        return -1;
    }
    return 0;
}

/*
 * Debian 12's PCRE2 (10.42) JIT-compiles a pattern with
 * PCRE2_MATCH_INVALID_UTF wrongly: \S, \W and \D never match a character
 * past ASCII (`\S+` finds "a" in "a\u00e9"), while the interpreter follows
 * the pattern. So lines of valid UTF-8 go to a JIT-compiled pattern
 * without that option, and the rare others to the interpreter with it,
 * where bytes that do not decode match nothing, not even `.`.
 */
static pcre2_code *compile_regex(const char *pattern, uint32_t options, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options, &code, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", code);
        wcs_err(err, errlen, "--split regex pattern '%s' does not compile: %s at offset %zu.",
                pattern, (const char *)msg, (size_t)off);
    }
    return re;
}

struct wcs_tokenizer *wcs_tokenizer_new(enum wcs_split mode, const char *pattern, bool lowercase,
                                        char *err, size_t errlen)
{
    if (mode != WCS_SPLIT_WHITESPACE && mode != WCS_SPLIT_SPARK && mode != WCS_SPLIT_WORDS &&
        mode != WCS_SPLIT_REGEX) {
        wcs_err(err, errlen, "unknown split mode %d.", (int)mode);
        return NULL;
    }
    struct wcs_tokenizer *tk = calloc(1, sizeof(*tk));
    if (!tk) {
        wcs_err(err, errlen, "out of memory creating the tokenizer.");
        return NULL;
    }
    tk->mode = mode;
    tk->lowercase = lowercase;

    if (mode == WCS_SPLIT_REGEX) {
        if (!pattern || !*pattern) {
            wcs_err(err, errlen, "--split regex: needs a non-empty pattern.");
            goto fail;
        }
        if (!(tk->re = compile_regex(pattern, PCRE2_UTF, err, errlen)) ||
            !(tk->re_any =
                  compile_regex(pattern, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, err, errlen)))
            goto fail;
        /* JIT is only a speed-up: without it pcre2_match interprets. */
        (void)pcre2_jit_compile(tk->re, PCRE2_JIT_COMPLETE);
        tk->md = pcre2_match_data_create_from_pattern(tk->re, NULL);
        tk->mc = pcre2_match_context_create(NULL);
        if (!tk->md || !tk->mc) {
            wcs_err(err, errlen, "out of memory creating the tokenizer.");
            goto fail;
        }
        pcre2_set_heap_limit(tk->mc, REGEX_HEAP_KIB);
    }
    return tk;
fail:
    wcs_tokenizer_free(tk);
    return NULL;
}

void wcs_tokenizer_free(struct wcs_tokenizer *tk)
{
    if (!tk)
        return;
    pcre2_match_data_free(tk->md);
    pcre2_match_context_free(tk->mc);
    pcre2_code_free(tk->re);
    pcre2_code_free(tk->re_any);
    wcs_buf_free(&tk->fold);
    free(tk);
}

/* ---- lower-casing ------------------------------------------------------ */

/* Full case folding of a word with non-ASCII bytes, through the scratch
 * buffer into the arena. Bytes that do not decode are copied as they are.
 * Returns the folded word (the original when folding changed nothing), or
 * NULL when out of memory. */
static const char *fold_unicode(struct wcs_tokenizer *tk, const char *word, size_t *len)
{
    const unsigned char *s = (const unsigned char *)word;
    size_t n = *len;
    struct wcs_buf *b = &tk->fold;

    b->len = 0;
    for (size_t k = 0; k < n;) {
        if (wcs_buf_reserve(b, 4 * FOLD_MAX) < 0)
            return NULL;
        unsigned char *out = (unsigned char *)b->data + b->len;
        if (s[k] < 0x80) {
            *out = ASCII_LOWER(s[k]);
            b->len++;
            k++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t r =
            utf8proc_iterate(s + k, n - k < 4 ? (utf8proc_ssize_t)(n - k) : 4, &cp);
        if (r <= 0) {
            *out = s[k];
            b->len++;
            k++;
            continue;
        }
        utf8proc_int32_t folded[FOLD_MAX];
        int boundclass = 0;
        utf8proc_ssize_t m =
            utf8proc_decompose_char(cp, folded, FOLD_MAX, UTF8PROC_CASEFOLD, &boundclass);
        if (m < 0 || m > FOLD_MAX) {
            memcpy(out, s + k, (size_t)r);
            b->len += (size_t)r;
        } else {
            unsigned char *o = out;
            for (utf8proc_ssize_t j = 0; j < m; j++)
                o += utf8proc_encode_char(folded[j], o);
            b->len += (size_t)(o - out);
        }
        k += (size_t)r;
    }
    if (b->len == n && memcmp(b->data, word, n) == 0)
        return word;
    char *q = wcs_arena_dup(tk->arena, b->data, b->len);
    if (q)
        *len = b->len;
    return q;
}

/* The word as --lowercase wants it: the original when it has nothing to
 * fold, else a folded copy in the arena. NULL when out of memory. */
static const char *fold(struct wcs_tokenizer *tk, const char *word, size_t *len)
{
    const unsigned char *s = (const unsigned char *)word;
    size_t n = *len;
    unsigned flags = 0, high = 0;

    for (size_t k = 0; k < n; k++) {
        flags |= cls[s[k]];
        high |= s[k];
    }
    if (high & 0x80)
        return fold_unicode(tk, word, len);
    if (!(flags & C_UPPER))
        return word;
    char *q = wcs_arena_alloc(tk->arena, n);
    if (!q)
        return NULL;
    for (size_t k = 0; k < n; k++)
        q[k] = (char)ASCII_LOWER(s[k]);
    return q;
}

const char *wcs_tokenizer_normalise(struct wcs_tokenizer *tk, const char *word, size_t *len,
                                    struct wcs_arena *arena)
{
    if (!tk->lowercase)
        return word;
    tk->arena = arena;
    return fold(tk, word, len);
}

/* ---- passing words on -------------------------------------------------- */

static void flush(struct wcs_tokenizer *tk)
{
    if (tk->n) {
        tk->fn(tk->arg, tk->words, tk->n);
        tk->n = 0;
    }
}

static inline int emit(struct wcs_tokenizer *tk, const char *word, size_t len)
{
    if (tk->lowercase) {
        word = fold(tk, word, &len);
        if (!word)
            return -ENOMEM;
    }
    tk->words[tk->n].ptr = word;
    tk->words[tk->n].len = len;
    if (++tk->n == WCS_TOKENIZE_CHUNK)
        flush(tk);
    return 0;
}

/* ---- whitespace -------------------------------------------------------- */

static int split_whitespace(struct wcs_tokenizer *tk, const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *)data;
    const unsigned char *end = s + len;

    /* Up to the last whitespace byte (the batch's final '\n', usually) a
     * word always ends at a whitespace byte, so the inner loop needs no
     * bounds check. What follows that byte is one word, or nothing. */
    const unsigned char *stop = end;
    while (stop > s && !(cls[stop[-1]] & C_SPACE))
        stop--;

    const unsigned char *p = s;
    while (p < stop) {
        if (cls[*p] & C_SPACE) {
            p++;
            continue;
        }
        const unsigned char *w = p;
        do
            p++;
        while (!(cls[*p] & C_SPACE));
        int rc = emit(tk, (const char *)w, (size_t)(p - w));
        if (rc < 0)
            return rc;
    }
    if (stop < end)
        return emit(tk, (const char *)stop, (size_t)(end - stop));
    return 0;
}

/* ---- spark ------------------------------------------------------------- */

/* The line starting at p ends at *le (its '\n', or a '\r' right before it,
 * or the end of data). Returns where the next line starts. */
static inline const char *next_line(const char *p, const char *end, const char **le)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    if (e > p && e[-1] == '\r')
        e--;
    *le = e;
    return nl ? nl + 1 : end;
}

static int split_spark(struct wcs_tokenizer *tk, const char *data, size_t len)
{
    const char *end = data + len;
    for (const char *p = data; p < end;) {
        const char *le;
        const char *next = next_line(p, end, &le);
        for (const char *q = p;;) {
            const char *sp = memchr(q, ' ', (size_t)(le - q));
            int rc = emit(tk, q, (size_t)((sp ? sp : le) - q));
            if (rc < 0)
                return rc;
            if (!sp)
                break;
            q = sp + 1;
        }
        p = next;
    }
    return 0;
}

/* ---- words ------------------------------------------------------------- */

enum kind { K_SEP, K_WORD, K_MARK, K_JOIN };

/* Kind of the non-ASCII character at s; *clen gets its length in bytes.
 * A byte that does not start a valid UTF-8 sequence is a word byte. */
static enum kind classify(const unsigned char *s, size_t rem, size_t *clen)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t r = utf8proc_iterate(s, rem < 4 ? (utf8proc_ssize_t)rem : 4, &cp);
    if (r <= 0) {
        *clen = 1;
        return K_WORD;
    }
    *clen = (size_t)r;
    if (cp == 0x2019 || cp == 0x2010)
        return K_JOIN;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return K_WORD;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return K_MARK;
    default:
        return K_SEP;
    }
}

/*
 * A word starts at a word character and grows over word characters and
 * marks. One joiner may sit inside it: it is kept when a word character
 * follows, otherwise the word ends before it. '\n' and '\r' separate, so
 * the whole batch is scanned at once.
 */
static int split_words(struct wcs_tokenizer *tk, const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t start = 0, wend = 0; /* the word so far: [start, wend) */
    bool in = false;            /* inside a word */
    bool joiner = false;        /* a joiner follows wend */

    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t clen = 1;
        enum kind k;
        if (c < 0x80) {
            unsigned f = cls[c];
            if (f & C_WORD) {
                if (!in) {
                    in = true;
                    start = i;
                }
                joiner = false;
                i++;
                while (i < len && (cls[s[i]] & C_WORD))
                    i++;
                wend = i;
                continue;
            }
            k = (f & C_JOIN) ? K_JOIN : K_SEP;
        } else {
            k = classify(s + i, len - i, &clen);
        }

        if (k == K_WORD) {
            if (!in) {
                in = true;
                start = i;
            }
            joiner = false;
            wend = i + clen;
        } else if (k == K_MARK && in && !joiner) {
            wend = i + clen;
        } else if (k == K_JOIN && in && !joiner) {
            joiner = true;
        } else if (in) {
            int rc = emit(tk, data + start, wend - start);
            if (rc < 0)
                return rc;
            in = false;
            joiner = false;
        }
        i += clen;
    }
    if (in)
        return emit(tk, data + start, wend - start);
    return 0;
}

/* ---- regex ------------------------------------------------------------- */

/* Length of the character at s: its UTF-8 length if valid, else 1. */
static size_t char_len(const unsigned char *s, size_t rem)
{
    if (*s < 0x80)
        return 1;
    utf8proc_int32_t cp;
    utf8proc_ssize_t r = utf8proc_iterate(s, rem < 4 ? (utf8proc_ssize_t)rem : 4, &cp);
    return r > 0 ? (size_t)r : 1;
}

static inline int emit_piece(struct wcs_tokenizer *tk, const char *line, size_t from, size_t to)
{
    return to > from ? emit(tk, line + from, to - from) : 0;
}

/*
 * Split one line at every match. After an empty match the search resumes
 * at the same place asking for a non-empty one, and then one character
 * further on, so an empty-matching pattern splits between characters and
 * always moves forward.
 */
static int regex_line(struct wcs_tokenizer *tk, const char *line, size_t n)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(tk->md);
    pcre2_code *re = tk->re;
    size_t piece = 0;     /* start of the current piece */
    size_t pos = 0;       /* where the next search starts */
    uint32_t opts = 0;    /* PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED after an empty match */
    uint32_t checked = 0; /* PCRE2_NO_UTF_CHECK once the first search found the line valid */
    int rc;

    while (pos <= n) {
        int m = pcre2_match(re, (PCRE2_SPTR)line, n, pos, opts | checked, tk->md, tk->mc);
        if (m <= PCRE2_ERROR_UTF8_ERR1 && m >= PCRE2_ERROR_UTF8_ERR21 && re == tk->re) {
            re = tk->re_any; /* the line is not UTF-8 */
            continue;
        }
        /* The JIT's stack (32 KiB) runs out after a few thousand repeats of
         * a group in one match (`(?:a|b)+,` over 2 KB): the interpreter,
         * which keeps its backtracking on the heap, takes that match over. */
        if (m == PCRE2_ERROR_JIT_STACKLIMIT)
            m = pcre2_match(re, (PCRE2_SPTR)line, n, pos, opts | checked | PCRE2_NO_JIT, tk->md,
                            tk->mc);
        checked = re == tk->re ? PCRE2_NO_UTF_CHECK : 0;
        if (m == PCRE2_ERROR_NOMATCH) {
            if (opts == 0)
                break;
            /* No non-empty match where the empty one was: step over a character. */
            if (pos == n)
                break;
            pos += char_len((const unsigned char *)line + pos, n - pos);
            opts = 0;
            continue;
        }
        if (m == PCRE2_ERROR_NOMEMORY)
            return -ENOMEM;
        if (m < 0)
            break; /* match or heap limit: the rest of the line is one piece */

        size_t ms = ov[0], me = ov[1];
        if (ms < piece)
            ms = piece;
        if (me < ms)
            me = ms;
        if ((rc = emit_piece(tk, line, piece, ms)) < 0)
            return rc;
        piece = me;
        if (me == ms) {
            opts = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
            pos = me;
        } else {
            opts = 0;
            pos = me;
        }
    }
    return emit_piece(tk, line, piece, n);
}

static int split_regex(struct wcs_tokenizer *tk, const char *data, size_t len)
{
    const char *end = data + len;
    for (const char *p = data; p < end;) {
        const char *le;
        const char *next = next_line(p, end, &le);
        int rc = regex_line(tk, p, (size_t)(le - p));
        if (rc < 0)
            return rc;
        p = next;
    }
    return 0;
}

/* ---- entry point ------------------------------------------------------- */

int wcs_tokenize(struct wcs_tokenizer *tk, const char *data, size_t len, struct wcs_arena *arena,
                 wcs_word_fn fn, void *arg)
{
    assert(arena || !tk->lowercase);
    if (len == 0)
        return 0;
    tk->arena = arena;
    tk->fn = fn;
    tk->arg = arg;
    tk->n = 0;

    int rc = 0;
    switch (tk->mode) {
    case WCS_SPLIT_WHITESPACE:
        rc = split_whitespace(tk, data, len);
        break;
    case WCS_SPLIT_SPARK:
        rc = split_spark(tk, data, len);
        break;
    case WCS_SPLIT_WORDS:
        rc = split_words(tk, data, len);
        break;
    case WCS_SPLIT_REGEX:
        rc = split_regex(tk, data, len);
        break;
    }
    /* On failure the words before the failing one still reach fn. */
    flush(tk);
    return rc;
}
