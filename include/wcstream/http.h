/*
 * http.h - what the ws:// sink's HTTP server decides about a request, as
 * plain functions of strings.
 *
 * libwebsockets parses a request (method, percent-decoded path, the query's
 * name=value fragments, headers); sinks/websocket.c copies the strings out
 * and asks these functions whether to answer, what to answer and which file
 * to serve. Nothing here knows lws, so every check is unit-tested and
 * fuzzed on its own (tests/unit/test_http.c, tests/fuzz/fuzz_http.c).
 *
 * Header values follow one convention: "" when the header is absent, NULL
 * when it was too long to copy (a check must refuse it, not take it for
 * absent).
 */
#ifndef WCSTREAM_HTTP_H
#define WCSTREAM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* The cookie that carries the token for the dashboard's own requests. */
#define WCS_HTTP_COOKIE "wcstream_token"

/* What the server was started with. */
struct wcs_http_policy {
    const char *host;  /* the host name it listens on (as given, no brackets) */
    const char *token; /* NULL: no token needed; else non-empty */
};

/* The strings of one request that the checks look at. */
struct wcs_http_request {
    const char *path;          /* decoded, without the query; NULL when too long */
    const char *host;          /* Host header (header convention) */
    const char *origin;        /* Origin header (header convention) */
    const char *authorization; /* Authorization header (header convention) */
    const char *cookie;        /* Cookie header (header convention) */
    const char *token_arg;     /* the value of ?token=, NULL when absent */
};

/* How a request proved that it knows the token. */
enum wcs_http_auth {
    WCS_HTTP_AUTH_NONE,   /* it did not (or gave a wrong one) */
    WCS_HTTP_AUTH_QUERY,  /* ?token=: a page the dashboard gets a cookie with */
    WCS_HTTP_AUTH_BEARER, /* Authorization: Bearer TOKEN */
    WCS_HTTP_AUTH_COOKIE, /* the WCS_HTTP_COOKIE cookie */
};

/* What a GET asks for. */
enum wcs_http_route {
    WCS_HTTP_HEALTHZ,
    WCS_HTTP_METRICS,
    WCS_HTTP_API_TOP,
    WCS_HTTP_API_PROGRESS,
    WCS_HTTP_API_WORD,    /* the word follows /api/words/; or /api/words?word= (arg NULL) */
    WCS_HTTP_NO_ENDPOINT, /* another /api path, or /ws by plain GET: 404 */
    WCS_HTTP_FILE,        /* a dashboard file */
};

/* Whether two NUL-terminated secrets are equal, in time that depends on
 * their lengths only, not on where they differ. */
bool wcs_http_equal_secret(const char *a, const char *b);

/* Whether the request carries `token` (non-empty) in the query, an
 * Authorization: Bearer header or the cookie, checked in that order. */
enum wcs_http_auth wcs_http_auth(const char *token, const struct wcs_http_request *rq);

/* Whether the Host header names this server. With a token every name is
 * accepted; without one only a loopback name (127.0.0.1, localhost, [::1])
 * or the policy's host, so that a page of another site whose name was
 * rebound to 127.0.0.1 is refused. An absent Host (not a browser) passes;
 * one too long to copy (NULL) does not. */
bool wcs_http_host_allowed(const struct wcs_http_policy *pol, const char *host);

/* Whether a websocket's Origin is a page of this server: http:// or
 * https:// followed by exactly the Host header. Absent Origin (not a
 * browser) passes; NULL origin or host does not. */
bool wcs_http_origin_allowed(const char *origin, const char *host);

/* Whether a GET may be answered: 0, or the status to refuse it with (403
 * for a foreign Host, 401 for a missing or wrong token). *auth says how the
 * token came, WCS_HTTP_AUTH_NONE when none is needed or it was refused. */
unsigned wcs_http_check_get(const struct wcs_http_policy *pol, const struct wcs_http_request *rq,
                            enum wcs_http_auth *auth);

/* Whether a websocket upgrade may go ahead: 0, or the status to refuse it
 * with (404 off /ws, 403 foreign Host or Origin, 401 no token). */
unsigned wcs_http_check_upgrade(const struct wcs_http_policy *pol,
                                const struct wcs_http_request *rq);

/* Whether a websocket upgrade's Sec-WebSocket-Protocol header (header
 * convention: "" when absent) names `ours` among its comma-separated
 * subprotocols, or names none. A client that offers only others would be
 * dropped by libwebsockets without an answer: refuse it with a status. */
bool wcs_http_subprotocol_ok(const char *offered, const char *ours);

/* Route a GET's path. For WCS_HTTP_API_WORD *arg points at the word
 * (into path), for WCS_HTTP_FILE at the file's path ("/" is
 * "/index.html"); otherwise *arg is NULL. */
enum wcs_http_route wcs_http_route(const char *path, const char **arg);

/* The value of ?n=: a whole number from 1 up (more than max gives max),
 * dflt when absent (NULL), 0 when malformed. */
size_t wcs_http_count_arg(const char *value, size_t dflt, size_t max);

/* The Content-Type of a file, by its extension (a static string). */
const char *wcs_http_content_type(const char *path);

/* Resolve path (from the request, starting with '/') inside dir (a
 * realpath, not "/"). 0 with the resolved name in real (realpath, symlinks
 * followed) when it exists and stays inside dir; -1 when it does not exist,
 * escapes dir or is too long. Whether it is a regular file is the caller's
 * to check when opening it. */
int wcs_http_dir_file(const char *dir, const char *path, char *real, size_t reallen);

#endif
