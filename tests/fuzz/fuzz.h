/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * The entry points libFuzzer calls (declared here, since libFuzzer has no
 * header), a check that reports a broken property and aborts so that the
 * input is kept as a crash, and a small seeded PRNG for targets that derive
 * choices (chunk sizes, budgets) from their input.
 */
#ifndef WCSTREAM_FUZZ_H
#define WCSTREAM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property that must hold: report which and abort (libFuzzer then saves
 * the input). Unlike assert() it is never compiled out. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* xorshift64*: the same input always makes the same choices. */
struct fuzz_rng {
    uint64_t s;
};

static inline void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ULL + 1;
}

static inline uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* A number in [0, n), n > 0. */
static inline size_t fuzz_rng_below(struct fuzz_rng *r, size_t n)
{
    return (size_t)(fuzz_rng_next(r) % n);
}

#endif
