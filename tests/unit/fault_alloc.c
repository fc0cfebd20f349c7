/*
 * fault_alloc.c - out-of-memory injection for the unit tests.
 *
 * The unit-test binary is linked with -Wl,--wrap for malloc, calloc,
 * realloc, strdup and strndup, so every allocation made by the project's
 * own objects (src/, connectors/, sinks/) comes through here; libraries
 * (SQLite, cJSON, librdkafka, Criterion) call the C library directly and
 * are not affected. Unarmed, the wrappers only pass through. Armed with
 * fault_alloc_arm(n), the n-th allocation from then on returns NULL (with
 * errno ENOMEM), once; the count is shared by all threads.
 */
#include "fault_alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_long seen;    /* allocations since fault_alloc_arm() */
static atomic_long fail_at; /* 0: unarmed */
static atomic_int failed;

void fault_alloc_arm(long n)
{
    atomic_store(&seen, 0);
    atomic_store(&failed, 0);
    atomic_store(&fail_at, n);
}

long fault_alloc_disarm(void)
{
    atomic_store(&fail_at, 0);
    return atomic_load(&seen);
}

bool fault_alloc_failed(void)
{
    return atomic_load(&failed) != 0;
}

/* Count one allocation; true when it is the one to fail. */
static bool fail_now(void)
{
    long at = atomic_load(&fail_at);
    if (at == 0)
        return false;
    if (atomic_fetch_add(&seen, 1) + 1 != at)
        return false;
    atomic_store(&failed, 1);
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    return fail_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    return fail_now() ? NULL : __real_strndup(s, n);
}
