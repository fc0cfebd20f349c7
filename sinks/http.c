/*
 * http.c - the ws:// sink's decisions about an HTTP request (see http.h).
 *
 * Sits between libwebsockets, which parses the request, and the handlers
 * in sinks/websocket.c: which requests are let in (Host, Origin, token),
 * which endpoint or file a path names, what ?n= asks for. Everything here
 * is a function of strings; only wcs_http_dir_file() asks the file system
 * (to resolve symlinks).
 */
#include "wcstream/http.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool wcs_http_equal_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;

    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Whether the Cookie header holds WCS_HTTP_COOKIE=token: the name at the
 * start or after a space or ';', its value up to the next ';' or space. */
static bool cookie_has(const char *cookie, const char *token)
{
    static const char name[] = WCS_HTTP_COOKIE "=";
    const size_t nlen = sizeof(name) - 1;
    size_t tlen = strlen(token);

    for (const char *c = strstr(cookie, name); c; c = strstr(c + 1, name)) {
        if (c != cookie && c[-1] != ' ' && c[-1] != ';')
            continue;
        const char *v = c + nlen;
        size_t n = strcspn(v, "; ");
        /* Compare as equal_secret would, without copying the value. */
        unsigned char d = n != tlen;
        for (size_t i = 0; i < n && i < tlen; i++)
            d |= (unsigned char)(v[i] ^ token[i]);
        if (d == 0)
            return true;
    }
    return false;
}

enum wcs_http_auth wcs_http_auth(const char *token, const struct wcs_http_request *rq)
{
    const char *a = rq->authorization;

    if (rq->token_arg && wcs_http_equal_secret(rq->token_arg, token))
        return WCS_HTTP_AUTH_QUERY;
    if (a && strncasecmp(a, "Bearer ", 7) == 0 && wcs_http_equal_secret(a + 7, token))
        return WCS_HTTP_AUTH_BEARER;
    if (rq->cookie && cookie_has(rq->cookie, token))
        return WCS_HTTP_AUTH_COOKIE;
    return WCS_HTTP_AUTH_NONE;
}

static bool all_digits(const char *s)
{
    return strspn(s, "0123456789") == strlen(s);
}

bool wcs_http_host_allowed(const struct wcs_http_policy *pol, const char *host)
{
    static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};

    if (!host)
        return false; /* too long to be one of ours */
    if (!host[0] || pol->token)
        return true;
    /* The name without the port; a bracketed IPv6 address keeps its
     * brackets. After it, nothing or ":" and the port's digits (RFC 7230's
     * uri-host [ ":" port ]), so that "[::1]evil" is not taken for [::1]. */
    size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
    if (n > strlen(host) || (host[n] && (host[n] != ':' || !all_digits(host + n + 1))))
        return false;
    if (n == strlen(pol->host) && strncasecmp(host, pol->host, n) == 0)
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (n == strlen(names[i]) && strncasecmp(host, names[i], n) == 0)
            return true;
    return false;
}

bool wcs_http_origin_allowed(const char *origin, const char *host)
{
    if (!origin || !host)
        return false; /* too long to be this server */
    if (!origin[0])
        return true; /* not a browser */
    const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
                                                                 : NULL;
    return rest && host[0] && strcasecmp(rest, host) == 0;
}

unsigned wcs_http_check_get(const struct wcs_http_policy *pol, const struct wcs_http_request *rq,
                            enum wcs_http_auth *auth)
{
    *auth = WCS_HTTP_AUTH_NONE;
    if (!wcs_http_host_allowed(pol, rq->host))
        return 403;
    if (pol->token && (*auth = wcs_http_auth(pol->token, rq)) == WCS_HTTP_AUTH_NONE)
        return 401;
    return 0;
}

unsigned wcs_http_check_upgrade(const struct wcs_http_policy *pol,
                                const struct wcs_http_request *rq)
{
    if (!rq->path || strcmp(rq->path, "/ws") != 0)
        return 404;
    if (!wcs_http_host_allowed(pol, rq->host) || !wcs_http_origin_allowed(rq->origin, rq->host))
        return 403;
    if (pol->token && wcs_http_auth(pol->token, rq) == WCS_HTTP_AUTH_NONE)
        return 401;
    return 0;
}

bool wcs_http_subprotocol_ok(const char *offered, const char *ours)
{
    size_t olen = strlen(ours);
    bool named = false;

    if (!offered)
        return false; /* too long to check */
    for (const char *p = offered; *p;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == olen && strncmp(p, ours, olen) == 0)
            return true;
        named |= t > 0;
        p += n + (p[n] == ',');
    }
    return !named;
}

enum wcs_http_route wcs_http_route(const char *path, const char **arg)
{
    *arg = NULL;
    if (strcmp(path, "/healthz") == 0)
        return WCS_HTTP_HEALTHZ;
    if (strcmp(path, "/metrics") == 0)
        return WCS_HTTP_METRICS;
    if (strcmp(path, "/api/top") == 0)
        return WCS_HTTP_API_TOP;
    if (strcmp(path, "/api/progress") == 0)
        return WCS_HTTP_API_PROGRESS;
    if (strncmp(path, "/api/words/", 11) == 0 && path[11]) {
        *arg = path + 11;
        return WCS_HTTP_API_WORD;
    }
    if (strcmp(path, "/api/words") == 0)
        return WCS_HTTP_API_WORD; /* the word is ?word= */
    if (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 || strcmp(path, "/ws") == 0)
        return WCS_HTTP_NO_ENDPOINT;
    *arg = strcmp(path, "/") == 0 ? "/index.html" : path;
    return WCS_HTTP_FILE;
}

size_t wcs_http_count_arg(const char *value, size_t dflt, size_t max)
{
    size_t n = 0;

    if (!value)
        return dflt;
    /* Digits only (strtoull would also take " 5", "+5" and " -5"), as many
     * as are given: past max the number only has to stay past it. */
    for (const char *c = value; *c; c++) {
        if (!isdigit((unsigned char)*c))
            return 0;
        if (n <= max)
            n = n * 10 + (size_t)(*c - '0');
    }
    return n > max ? max : n;
}

const char *wcs_http_content_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".json", "application/json"},         {".png", "image/png"},
        {".txt", "text/plain; charset=utf-8"}, {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

int wcs_http_dir_file(const char *dir, const char *path, char *real, size_t reallen)
{
    char full[PATH_MAX];
    size_t dlen = strlen(dir);

    if (snprintf(full, sizeof(full), "%s%s", dir, path) >= (int)sizeof(full))
        return -1;
    char *r = realpath(full, NULL);
    if (!r)
        return -1;
    size_t rlen = strlen(r);
    int ok = rlen < reallen && strncmp(r, dir, dlen) == 0 && r[dlen] == '/';
    if (ok)
        memcpy(real, r, rlen + 1);
    free(r);
    return ok ? 0 : -1;
}
