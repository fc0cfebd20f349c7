/*
 * fault_alloc.h - fail the n-th allocation of the project's own code (see
 * fault_alloc.c for how the wrapping works and what it covers).
 */
#ifndef WCSTREAM_TEST_FAULT_ALLOC_H
#define WCSTREAM_TEST_FAULT_ALLOC_H

#include <stdbool.h>

/* Count allocations from now on; the n-th (n >= 1) returns NULL, once. */
void fault_alloc_arm(long n);

/* Stop failing; returns how many allocations were made since the arm. */
long fault_alloc_disarm(void);

/* Whether the armed allocation has been reached (and failed). */
bool fault_alloc_failed(void);

#endif
