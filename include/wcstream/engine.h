/*
 * engine.h - the trigger loop: pull -> tokenize -> aggregate -> commit ->
 * emit -> acknowledge, one micro-batch per trigger.
 */
#ifndef WCSTREAM_ENGINE_H
#define WCSTREAM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "wcstream/config.h"

struct wcs_engine;

/* Build the query: open the state, create every source and sink, restore
 * replayable sources' offsets. Borrows cf for the engine's lifetime. NULL
 * with a sentence in err when anything fails (nothing is left running);
 * *usage then tells a bad URI or option (exit 2) from a runtime failure. */
struct wcs_engine *wcs_engine_new(const struct wcs_config *cf, bool *usage, char *err,
                                  size_t errlen);

/* Run batches until the sources are finished (available-now, or every
 * source at its end) or wcs_engine_stop() is called; the batch in hand is
 * always committed and emitted first. 0 on a normal end, -1 on a runtime
 * failure (logged with a sentence in err). */
int wcs_engine_run(struct wcs_engine *eng, char *err, size_t errlen);

/* Ask the loop to stop after the batch in hand. Async-signal-safe. */
void wcs_engine_stop(struct wcs_engine *eng);

/* Stop sources and sinks and free everything. Accepts NULL. */
void wcs_engine_free(struct wcs_engine *eng);

#endif
