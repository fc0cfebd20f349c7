/*
 * registry.h - URI scheme -> plugin.
 *
 * The one place that names concrete sources and sinks. The engine asks the
 * registry by scheme and never mentions a plugin itself, so a new connector
 * is one file plus one line in src/registry.c.
 */
#ifndef WCSTREAM_REGISTRY_H
#define WCSTREAM_REGISTRY_H

#include <stdio.h>

#include "wcstream/sink.h"
#include "wcstream/source.h"

/* The plugin for a scheme, or NULL. */
const struct wcs_source_plugin *wcs_registry_source(const char *scheme);
const struct wcs_sink_plugin *wcs_registry_sink(const char *scheme);

/* One usage line per plugin, for --help. */
void wcs_registry_usage(FILE *out);

#endif
