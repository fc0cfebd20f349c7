/*
 * gen_corpus.c - deterministic natural-like text for `make bench`.
 *
 * Writes MIB mebibytes (MIB * 1,048,576 bytes, rounded up to the end of a
 * line) of English-looking prose to stdout. The vocabulary has 60,000 words:
 * the most frequent ranks are real English function words, the rest are
 * built from syllables, about 900 carry an accented letter (café-like) and
 * a handful are fixed UTF-8 words (naïve, 日本, Zürich...); about one in
 * twenty is a proper noun and always capitalised. Words are drawn by rank
 * from a Zipf distribution (s = 1) and grouped into sentences: the first
 * word is capitalised, some words get a comma, semicolon, colon, quotes or
 * parentheses attached, a sentence ends in '.', '?' or '!', and about one
 * token in seventy is a number (a year, a count, a decimal, 12,000). Lines
 * wrap at a random width of 45 to 120 bytes. The only separators are single
 * spaces and '\n', so every whitespace splitter (wcstream, mawk's NF,
 * tr | sort | uniq -c) sees the same words; with the capitalised and
 * punctuated variants and the numbers, a 40 MiB corpus has about 290,000
 * distinct whitespace-separated words.
 *
 * With --high-card it writes instead a corpus whose vocabulary does not
 * stop growing: exactly WORDS distinct words, new ones arriving at a
 * steady rate to the last line. A word is a fixed-length base-62 string
 * ([0-9A-Za-z], 4 characters up to 14,776,336 words) of a number drawn
 * without repetition (a keyed bijection, so the words arrive in no
 * particular key order, as real new keys would); one token in 16, at
 * random, repeats a word seen earlier, picked uniformly, so that counts are
 * not all 1. Lines wrap as above. Short tokens keep the corpus small: 10
 * million distinct words take about 53 MB.
 *
 * Randomness comes from xoshiro256** seeded with splitmix64 and only exact
 * IEEE arithmetic is used (no libm), so the same arguments give the same
 * bytes on every machine.
 *
 * usage: gen_corpus MIB [SEED] > corpus.txt
 *        gen_corpus --high-card WORDS [SEED] > corpus.txt
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB        60000
#define MAX_WORD     64
#define DEFAULT_SEED 0x5eedc0de2024ULL

/* ---- PRNG: splitmix64 seeds xoshiro256** ------------------------------- */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n); the modulo bias is far below anything a word count sees. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)((rng_next(r) >> 32) % n);
}

/* Uniform double in [0, 1) with 53 random bits. */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* True with probability per_mille / 1000. */
static int chance(struct rng *r, uint32_t per_mille)
{
    return rng_below(r, 1000) < per_mille;
}

/* ---- vocabulary -------------------------------------------------------- */

/* The top ranks, in roughly their English order. */
static const char *const common[] = {
    "the",   "of",    "and",   "to",   "a",     "in",     "is",    "that",  "it",    "was",
    "for",   "on",    "are",   "as",   "with",  "his",    "they",  "I",     "at",    "be",
    "this",  "have",  "from",  "or",   "one",   "had",    "by",    "word",  "but",   "not",
    "what",  "all",   "were",  "we",   "when",  "your",   "can",   "said",  "there", "use",
    "an",    "each",  "which", "she",  "do",    "how",    "their", "if",    "will",  "up",
    "other", "about", "out",   "many", "then",  "them",   "these", "so",    "some",  "her",
    "would", "make",  "like",  "him",  "into",  "time",   "has",   "look",  "two",   "more",
    "write", "go",    "see",   "way",  "could", "people", "my",    "than",  "first", "water",
    "been",  "call",  "who",   "its",  "now",   "find",   "long",  "down",  "day",   "did",
    "get",   "come",  "made",  "may",  "part",  "over",   "new",   "sound", "take",  "only",
};

/* Fixed UTF-8 words, placed at spread-out ranks. */
static const char *const utf8_words[] = {
    "café", "naïve",     "日本",    "résumé",   "Zürich",      "façade", "東京",
    "über", "coöperate", "señor",   "jalapeño", "smörgåsbord", "Ελλάδα", "мир",
    "言葉", "piñata",    "déjà",    "vu",       "crème",       "brûlée", "Ångström",
    "São",  "Paulo",     "fiancée", "rôle",     "niño",        "Kraków",
};

static const char *const onsets[] = {
    "b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",   "l",   "m",  "n",  "p",  "r",
    "s",  "t",  "v",  "w",  "y",  "z",  "br", "cr",  "dr",  "fr", "gr", "pr", "tr",
    "bl", "cl", "fl", "gl", "pl", "sl", "sh", "ch",  "th",  "wh", "st", "sp", "sc",
    "sk", "sm", "sn", "qu", "",   "",   "",   "str", "spr", "",   "",   "",
};
static const char *const vowels[] = {
    "a", "e", "i", "o", "u", "a", "e", "i", "o", "ea", "ee", "ai", "ou", "oo", "ie", "y", "au",
};
static const char *const codas[] = {
    "",   "",   "",   "",   "n",  "r",  "s",  "t",  "l",  "m",   "d",    "ng",   "st",   "nd",
    "rt", "ck", "ll", "ss", "nt", "rn", "sh", "ch", "th", "ble", "tion", "ment", "ness", "ing",
};
/* UTF-8 replacements for a vowel in the rare accented word. */
static const char *const accented[] = {"é", "è", "ï", "ü", "ö", "à", "â", "ô", "å", "ø"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct vocab {
    const char *text[VOCAB];
    unsigned char len[VOCAB];
    unsigned char ascii_lead[VOCAB]; /* first byte is a-z: can be capitalised */
    double cdf[VOCAB];               /* Zipf: cdf[k] = sum of 1/(i+1), i <= k */
};

/* A small string set so that every vocabulary entry is distinct. */
struct strset {
    const char **slot;
    size_t mask;
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        perror("gen_corpus");
        exit(1);
    }
    return p;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: plenty for 60,000 keys */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Returns 1 if s was added, 0 if it was already there. Borrows s. */
static int strset_add(struct strset *set, const char *s)
{
    size_t i = hash_str(s) & set->mask;
    while (set->slot[i]) {
        if (strcmp(set->slot[i], s) == 0)
            return 0;
        i = (i + 1) & set->mask;
    }
    set->slot[i] = s;
    return 1;
}

static void append(char *buf, size_t *n, const char *s)
{
    size_t len = strlen(s);
    if (*n + len < MAX_WORD) {
        memcpy(buf + *n, s, len);
        *n += len;
    }
    buf[*n] = '\0';
}

/* Builds one made-up word into buf; rarer ranks get more syllables. */
static void make_word(struct rng *r, uint32_t rank, char *buf)
{
    uint32_t nsyl = rank < 1000 ? 1 + chance(r, 300) : rank < 10000 ? 2 : 2 + chance(r, 200);
    int accent = chance(r, 15);
    size_t n = 0;

    buf[0] = '\0';
    for (uint32_t i = 0; i < nsyl; i++) {
        append(buf, &n, onsets[rng_below(r, NELEM(onsets))]);
        if (accent && i == nsyl - 1)
            append(buf, &n, accented[rng_below(r, NELEM(accented))]);
        else
            append(buf, &n, vowels[rng_below(r, NELEM(vowels))]);
        if (i == nsyl - 1 || chance(r, 150))
            append(buf, &n, codas[rng_below(r, NELEM(codas))]);
    }
    if (chance(r, 50) && buf[0] >= 'a' && buf[0] <= 'z')
        buf[0] = (char)(buf[0] - 'a' + 'A'); /* a proper noun */
}

/* Fills v: distinct words by rank and the Zipf table. The made-up words
 * are leaked on purpose: they live as long as the process. */
static void build_vocab(struct vocab *v, struct rng *r)
{
    struct strset set = {.mask = (1u << 17) - 1};
    size_t next_utf8 = 0;
    double sum = 0;

    set.slot = xcalloc(set.mask + 1, sizeof(*set.slot));
    for (size_t i = 0; i < NELEM(common); i++)
        strset_add(&set, common[i]);
    for (size_t i = 0; i < NELEM(utf8_words); i++)
        strset_add(&set, utf8_words[i]);

    for (uint32_t rank = 0; rank < VOCAB; rank++) {
        const char *w;
        if (rank < NELEM(common)) {
            w = common[rank];
        } else if (rank % 211 == 150 && next_utf8 < NELEM(utf8_words)) {
            w = utf8_words[next_utf8++];
        } else {
            char buf[MAX_WORD];
            char *copy;
            for (;;) {
                make_word(r, rank, buf);
                if (buf[0] == '\0')
                    continue;
                copy = xcalloc(strlen(buf) + 1, 1);
                memcpy(copy, buf, strlen(buf));
                if (strset_add(&set, copy))
                    break;
                free(copy);
            }
            w = copy;
        }
        v->text[rank] = w;
        v->len[rank] = (unsigned char)strlen(w);
        v->ascii_lead[rank] = w[0] >= 'a' && w[0] <= 'z';
        sum += 1.0 / (double)(rank + 1);
        v->cdf[rank] = sum;
    }
    free(set.slot);
}

/* A rank drawn from Zipf(s = 1) over the vocabulary. */
static uint32_t zipf_rank(const struct vocab *v, struct rng *r)
{
    double x = rng_unit(r) * v->cdf[VOCAB - 1];
    uint32_t lo = 0, hi = VOCAB - 1;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->cdf[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- output ------------------------------------------------------------ */

struct out {
    char line[256];
    size_t len;    /* bytes in line */
    size_t width;  /* wrap width of the current line */
    uint64_t done; /* bytes written so far */
    char buf[1 << 20];
    size_t n; /* bytes in buf */
};

static void flush(struct out *o)
{
    if (o->n && fwrite(o->buf, 1, o->n, stdout) != o->n) {
        perror("gen_corpus: write");
        exit(1);
    }
    o->n = 0;
}

static void end_line(struct out *o, struct rng *r)
{
    if (o->n + o->len + 1 > sizeof(o->buf))
        flush(o);
    memcpy(o->buf + o->n, o->line, o->len);
    o->n += o->len;
    o->buf[o->n++] = '\n';
    o->done += o->len + 1;
    o->len = 0;
    o->width = 45 + rng_below(r, 76);
}

/* Appends one token, separated by a space, wrapping the line first when
 * the token would not fit. */
static void put_token(struct out *o, struct rng *r, const char *tok, size_t len)
{
    if (o->len > 0 && o->len + 1 + len > o->width)
        end_line(o, r);
    if (o->len > 0)
        o->line[o->len++] = ' ';
    memcpy(o->line + o->len, tok, len);
    o->len += len;
}

/* ---- sentences --------------------------------------------------------- */

static size_t make_number(struct rng *r, char *tok, size_t size)
{
    uint32_t kind = rng_below(r, 10);
    int n;

    if (kind < 4)
        n = snprintf(tok, size, "%u", 1700 + rng_below(r, 330)); /* a year */
    else if (kind < 7)
        n = snprintf(tok, size, "%u", rng_below(r, 100));
    else if (kind < 8)
        n = snprintf(tok, size, "%u,%03u", 1 + rng_below(r, 99), rng_below(r, 1000));
    else if (kind < 9)
        n = snprintf(tok, size, "%u.%u", rng_below(r, 20), rng_below(r, 100));
    else
        n = snprintf(tok, size, "%u%%", 1 + rng_below(r, 100));
    return (size_t)n;
}

/* Writes one sentence of 4 to 25 tokens. */
static void sentence(struct out *o, const struct vocab *v, struct rng *r)
{
    uint32_t nwords = 4 + rng_below(r, 22);
    char closer = 0;    /* '"' or ')' while a quote or parenthesis is open */
    uint32_t until = 0; /* the token that closes it */

    for (uint32_t i = 0; i < nwords; i++) {
        char tok[MAX_WORD + 16];
        size_t n = 0;
        int last = i == nwords - 1;

        if (!closer && !last && chance(r, 12)) {
            closer = chance(r, 600) ? '"' : ')';
            until = i + rng_below(r, 5);
            tok[n++] = closer == '"' ? '"' : '(';
        }
        if (chance(r, 14)) {
            n += make_number(r, tok + n, sizeof(tok) - n);
        } else {
            uint32_t rank = zipf_rank(v, r);
            memcpy(tok + n, v->text[rank], v->len[rank]);
            if (i == 0 && v->ascii_lead[rank])
                tok[n] = (char)(tok[n] - 'a' + 'A');
            n += v->len[rank];
        }
        if (closer && (i >= until || last)) {
            tok[n++] = closer;
            closer = 0;
        }
        if (last) {
            uint32_t p = rng_below(r, 100);
            tok[n++] = p < 92 ? '.' : p < 97 ? '?' : '!';
        } else {
            uint32_t p = rng_below(r, 1000);
            if (p < 70)
                tok[n++] = ',';
            else if (p < 75)
                tok[n++] = ';';
            else if (p < 79)
                tok[n++] = ':';
        }
        put_token(o, r, tok, n);
    }
}

/* ---- high-cardinality mode -------------------------------------------- */

static const char hc_digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
#define HC_BASE      62
#define HC_REPEAT_IN 16 /* one token in 16 repeats an earlier word */

/* A keyed bijection of [0, limit): an invertible mix of k-bit numbers
 * (2^k >= limit) applied until the result falls below limit ("cycle
 * walking", which keeps it a bijection of the smaller range). */
struct perm {
    uint64_t limit, mask, key;
    int shift;
};

static void perm_init(struct perm *p, uint64_t limit, struct rng *r)
{
    int k = 1;

    while (k < 63 && (1ULL << k) < limit)
        k++;
    p->limit = limit;
    p->mask = (1ULL << k) - 1;
    p->shift = (k + 1) / 2;
    p->key = rng_next(r);
}

/* Each step is invertible modulo 2^k: adding a constant, multiplying by an
 * odd one, and x ^= x >> shift. */
static uint64_t perm_mix(const struct perm *p, uint64_t x)
{
    x = (x + p->key) & p->mask;
    x = (x * 0x9e3779b97f4a7c15ULL) & p->mask;
    x ^= x >> p->shift;
    x = (x * 0xd6e8feb86659fd93ULL) & p->mask;
    x ^= x >> p->shift;
    return x;
}

static uint64_t perm_apply(const struct perm *p, uint64_t i)
{
    uint64_t x = i;

    do
        x = perm_mix(p, x);
    while (x >= p->limit);
    return x;
}

/* Writes `words` distinct base-62 words of the same length, new ones in a
 * keyed order, with a repeat of an earlier one every HC_REPEAT_IN tokens
 * on average. */
static void high_card(struct out *o, struct rng *r, uint64_t words)
{
    struct perm p;
    uint64_t space = HC_BASE, emitted = 0;
    size_t len = 1;

    while (space < words) {
        space *= HC_BASE;
        len++;
    }
    perm_init(&p, space, r);
    while (emitted < words) {
        uint64_t id;
        char tok[16];

        if (emitted > 0 && rng_below(r, HC_REPEAT_IN) == 0)
            id = perm_apply(&p, rng_next(r) % emitted);
        else
            id = perm_apply(&p, emitted++);
        for (size_t i = len; i-- > 0; id /= HC_BASE)
            tok[i] = hc_digits[id % HC_BASE];
        put_token(o, r, tok, len);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: gen_corpus MIB [SEED] > corpus.txt\n"
                    "       gen_corpus --high-card WORDS [SEED] > corpus.txt\n");
    exit(2);
}

/* A whole number in [1, max], or exit 2 naming what it is. */
static uint64_t parse_count(const char *arg, uint64_t max, const char *what)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno || *end || end == arg || arg[0] == '-' || v == 0 || v > max) {
        fprintf(stderr, "gen_corpus: %s must be a whole number, 1 to %" PRIu64 "\n", what, max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static struct vocab v;
    static struct out o;
    struct rng r;
    uint64_t seed = DEFAULT_SEED, n;
    int hc = argc > 1 && strcmp(argv[1], "--high-card") == 0;
    char *end;

    if (argc < 2 + hc || argc > 3 + hc)
        usage();
    if (hc)
        n = parse_count(argv[2], 10000000000ULL, "WORDS");
    else
        n = parse_count(argv[1], 1000000, "size in MiB");
    if (argc == 3 + hc) {
        seed = strtoull(argv[2 + hc], &end, 0);
        if (*end || end == argv[2 + hc]) {
            fprintf(stderr, "gen_corpus: seed must be a number\n");
            return 2;
        }
    }

    rng_seed(&r, seed);
    if (hc) {
        o.width = 45 + rng_below(&r, 76);
        high_card(&o, &r, n);
    } else {
        build_vocab(&v, &r);
        o.width = 45 + rng_below(&r, 76);
        while (o.done < n << 20)
            sentence(&o, &v, &r);
    }
    /* The last line may still hold words; it ends with '\n' like the rest. */
    if (o.len)
        end_line(&o, &r);
    flush(&o);
    if (fflush(stdout) != 0) {
        perror("gen_corpus: write");
        return 1;
    }
    return 0;
}
