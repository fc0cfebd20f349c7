/*
 * count_sum.c - a fingerprint of a word-count table, for `make bench`.
 *
 * Every program the benchmark runs ends with a table of (word, count)
 * pairs: wcstream's in its SQLite state, the baselines' on stdout, each in
 * its own order. Sorting tens of millions of lines to compare them would
 * cost more than the runs themselves, so each table is reduced to one line
 * instead:
 *
 *     TOTAL DISTINCT CHECKSUM
 *
 * TOTAL is the sum of the counts, DISTINCT the number of pairs, CHECKSUM
 * the sum modulo 2^64 (as 16 hex digits) of a 64-bit hash of each pair.
 * A sum does not depend on the order of the lines, and two tables with the
 * same fingerprint hold the same pairs except with a probability of about
 * 2^-64 per difference. A word counted twice (two lines for one word) or a
 * count off by one both change it.
 *
 * Input lines are "COUNT WORD": optional leading blanks (as `uniq -c`
 * writes them), a decimal count, one space, then the word: every byte up
 * to the '\n', spaces included. With -m K every count is multiplied by K
 * first (the expected table of K copies of a corpus).
 *
 * usage: count_sum [-m K] < counts
 * exit:  0, or 1 on a malformed line (reported with its number), 2 on bad
 *        usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the word, then the count folded in and the result mixed
 * (splitmix64's finalizer) so that similar pairs get unrelated hashes. */
static uint64_t pair_hash(const char *w, size_t len, uint64_t count)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)w[i]) * 0x100000001b3ULL;
    h ^= count * 0x9e3779b97f4a7c15ULL;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

int main(int argc, char **argv)
{
    uint64_t mult = 1, total = 0, distinct = 0, sum = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (argc == 3 && strcmp(argv[1], "-m") == 0) {
        char *end;
        errno = 0;
        mult = strtoull(argv[2], &end, 10);
        if (errno || *end || end == argv[2] || mult == 0) {
            fprintf(stderr, "count_sum: -m needs a positive whole number\n");
            return 2;
        }
    } else if (argc != 1) {
        fprintf(stderr, "usage: count_sum [-m K] < counts\n");
        return 2;
    }

    while ((n = getline(&line, &cap, stdin)) > 0) {
        char *p = line, *end;
        uint64_t count;

        lineno++;
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        errno = 0;
        count = strtoull(p, &end, 10);
        if (errno || end == p || *end != ' ') {
            fprintf(stderr, "count_sum: line %" PRIu64 " is not \"COUNT WORD\"\n", lineno);
            return 1;
        }
        end++; /* the word: the rest of the line */
        count *= mult;
        total += count;
        distinct++;
        sum += pair_hash(end, (size_t)(line + n - end), count);
    }
    if (ferror(stdin)) {
        perror("count_sum: read");
        return 1;
    }
    free(line);
    printf("%" PRIu64 " %" PRIu64 " %016" PRIx64 "\n", total, distinct, sum);
    return 0;
}
