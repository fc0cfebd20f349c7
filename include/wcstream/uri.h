/*
 * uri.h - the URIs that name sources and sinks.
 *
 *   socket://127.0.0.1:9999          scheme "socket", target "127.0.0.1:9999"
 *   console?numRows=5&truncate=false scheme "console", two parameters
 *   file:///var/text                 scheme "file", target "/var/text"
 *   stdin, -                         scheme "stdin"
 *
 * Parameter values are percent-decoded. Parsing is validation at the
 * boundary: everything after it may trust the struct.
 */
#ifndef WCSTREAM_URI_H
#define WCSTREAM_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a plugin's init() returns for a bad URI or option value: the
 * command exits 2 (bad usage) rather than 1 (runtime failure). */
#define WCS_EUSAGE (-2)

struct wcs_uri_param {
    char *key;
    char *value;
    bool used; /* set by the lookups below, to report unknown keys */
};

struct wcs_uri {
    char *text;   /* the URI as given, for messages and descriptions, with the
                     values of secret options (keys holding password, secret,
                     token, jaas or key.pem) shown as *** */
    char *scheme; /* lower case */
    char *target; /* between "://" and "?"; "" when absent */
    struct wcs_uri_param *params;
    size_t nparams;
};

/* Parse `text`. NULL with a sentence in err when it is malformed. */
struct wcs_uri *wcs_uri_parse(const char *text, char *err, size_t errlen);

/* Free a URI. Accepts NULL. */
void wcs_uri_free(struct wcs_uri *uri);

/* Value of parameter `key` (borrowed), or NULL when absent. */
const char *wcs_uri_get(struct wcs_uri *uri, const char *key);

/* Typed lookups: 0 when absent (*out keeps its default) or valid,
 * WCS_EUSAGE with a sentence in err when present but not of the type or
 * range. */
int wcs_uri_get_bool(struct wcs_uri *uri, const char *key, bool *out, char *err, size_t errlen);
int wcs_uri_get_size(struct wcs_uri *uri, const char *key, size_t min, size_t max, size_t *out,
                     char *err, size_t errlen);
/* As wcs_uri_get_size(), for a number of bytes: the sentence says so. */
int wcs_uri_get_bytes(struct wcs_uri *uri, const char *key, size_t min, size_t max, size_t *out,
                      char *err, size_t errlen);

/* After a plugin looked up what it knows: WCS_EUSAGE with a sentence
 * naming the first parameter nobody asked for, 0 when all were used. */
int wcs_uri_check_unused(const struct wcs_uri *uri, char *err, size_t errlen);

/* Split "HOST:PORT" (or "[v6]:PORT") into host and port. host is written
 * to hostbuf. 0, or WCS_EUSAGE with a sentence in err. */
int wcs_uri_host_port(const char *target, char *hostbuf, size_t hostlen, uint16_t *port, char *err,
                      size_t errlen);

/* Parse a size such as "8388608", "64k", "8MiB", "1m". 0 or -1. */
int wcs_parse_size(const char *text, size_t *out);

/* The longest duration: a year, so that it counts in int64 nanoseconds
 * from any clock reading. */
#define WCS_DURATION_MAX_MS (8760LL * 3600 * 1000)

/* Parse a duration such as "0", "500ms", "1s", "2m", "1h", at most
 * WCS_DURATION_MAX_MS (8760h), into ms. 0 or -1. */
int wcs_parse_duration_ms(const char *text, int64_t *out);

#endif
