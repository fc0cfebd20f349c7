/*
 * config.h - the query's settings, from flags and a JSON config file.
 *
 * Every flag has a key of the same name in the config file ("source",
 * "sink", "trigger", "max-bytes-per-trigger"...). The file is read first;
 * flags override it (a --source or --sink flag replaces the file's list).
 * This is the CLI boundary: values are validated here, once.
 */
#ifndef WCSTREAM_CONFIG_H
#define WCSTREAM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wcstream/log.h"
#include "wcstream/result.h"
#include "wcstream/tokenize.h"

struct wcs_strv {
    char **v;
    size_t n;
};

struct wcs_config {
    struct wcs_strv sources;
    struct wcs_strv sinks; /* default: console */
    enum wcs_output_mode mode;
    int64_t trigger_ms; /* 0: next batch as soon as data is there */
    bool available_now;
    size_t max_bytes; /* per trigger */
    size_t max_line;
    int threads; /* tokenizing threads; 0: one per core */
    char *state_path;
    char *synchronous;
    char *split_spec; /* as given; parsed by wcs_split_parse */
    enum wcs_split split;
    const char *split_pattern; /* into split_spec, for regex */
    bool lowercase;
    enum wcs_log_level log_level;
    char *progress_log;  /* NULL: none */
    char *dashboard_dir; /* NULL: the dashboard built into the binary */
};

enum wcs_config_status {
    WCS_CONFIG_OK = 0,     /* run the query */
    WCS_CONFIG_EXIT = 1,   /* --help or --version printed; exit 0 */
    WCS_CONFIG_USAGE = -1, /* bad usage; err says why; exit 2 */
};

/* Fill cf from argv (and the --config file it names). cf is initialised
 * here; free it with wcs_config_free() whatever the result. */
enum wcs_config_status wcs_config_from_args(struct wcs_config *cf, int argc, char **argv, char *err,
                                            size_t errlen);

/* Apply one setting by its flag name without dashes ("trigger", "1s"):
 * what both the flag parser and the config file use. Boolean settings take
 * "true" or "false". 0, or -1 with a sentence in err. */
int wcs_config_set(struct wcs_config *cf, const char *name, const char *value, char *err,
                   size_t errlen);

/* Read a JSON config file into cf. 0, or -1 with a sentence in err. */
int wcs_config_load_file(struct wcs_config *cf, const char *path, char *err, size_t errlen);

/* Apply the JSON config text [text, text + len) (borrowed; one object,
 * whitespace around it allowed) to cf; `name` says where it came from in
 * err's sentences. 0, or -1 with a sentence in err: then the settings
 * before the bad one are applied, as with a file. */
int wcs_config_load_json(struct wcs_config *cf, const char *text, size_t len, const char *name,
                         char *err, size_t errlen);

/* Initialise to the defaults. */
void wcs_config_init(struct wcs_config *cf);

/* Free what cf owns. Accepts NULL. */
void wcs_config_free(struct wcs_config *cf);

/* The --help text. */
void wcs_config_usage(FILE *out);

#endif
