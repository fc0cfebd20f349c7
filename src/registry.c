/*
 * registry.c - the static table of source and sink plugins.
 *
 * Like Fluent Bit's plugin lists: each connector exports one struct of
 * function pointers, and this file is the only one that names them.
 */
#include "wcstream/registry.h"

#include <string.h>

static const struct wcs_source_plugin *const sources[] = {
    &wcs_source_socket, &wcs_source_listen, &wcs_source_file, &wcs_source_stdin, &wcs_source_kafka,
};

static const struct wcs_sink_plugin *const sinks[] = {
    &wcs_sink_console,
    &wcs_sink_jsonl,
    &wcs_sink_kafka,
    &wcs_sink_websocket,
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const struct wcs_source_plugin *wcs_registry_source(const char *scheme)
{
    for (size_t i = 0; i < COUNT(sources); i++)
        if (strcmp(sources[i]->scheme, scheme) == 0)
            return sources[i];
    return NULL;
}

const struct wcs_sink_plugin *wcs_registry_sink(const char *scheme)
{
    for (size_t i = 0; i < COUNT(sinks); i++)
        if (strcmp(sinks[i]->scheme, scheme) == 0)
            return sinks[i];
    return NULL;
}

void wcs_registry_usage(FILE *out)
{
    for (size_t i = 0; i < COUNT(sources); i++)
        fprintf(out, "  %s\n", sources[i]->usage);
    fprintf(out, "\nsinks:\n");
    for (size_t i = 0; i < COUNT(sinks); i++)
        fprintf(out, "  %s\n", sinks[i]->usage);
}
