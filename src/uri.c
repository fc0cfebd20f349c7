/*
 * uri.c - parse the URIs that name sources and sinks.
 *
 * "scheme://target?k=v&k=v", or a bare name with optional parameters
 * ("console?numRows=5", "stdin", "-"). This is the CLI boundary: every
 * malformed URI, unknown option or out-of-range value ends here with one
 * clear sentence, so plugins can trust what they read.
 */
#include "wcstream/uri.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wcstream/log.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode [s, s + n) into a new string; NULL with errno EINVAL on a
 * bad escape, ENOMEM when out of memory. */
static char *decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi | lo) == 0) { /* %00 would cut the string short */
                free(out);
                errno = EINVAL;
                return NULL;
            }
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int parse_params(struct wcs_uri *uri, const char *q, char *err, size_t errlen)
{
    size_t count = 1;
    for (const char *p = q; *p; p++)
        count += *p == '&';
    uri->params = calloc(count, sizeof(*uri->params));
    if (!uri->params) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    while (*q) {
        const char *amp = strchrnul(q, '&');
        const char *eq = memchr(q, '=', (size_t)(amp - q));
        if (amp == q) {
            q = *amp ? amp + 1 : amp;
            continue;
        }
        if (!eq || eq == q) {
            wcs_err(err, errlen, "%s: option '%.*s' needs the form key=value", uri->text,
                    (int)(amp - q), q);
            return -1;
        }
        struct wcs_uri_param *pm = &uri->params[uri->nparams];
        pm->key = decode(q, (size_t)(eq - q));
        pm->value = decode(eq + 1, (size_t)(amp - eq - 1));
        if (!pm->key || !pm->value) {
            free(pm->key);
            free(pm->value);
            wcs_err(err, errlen, "%s: bad percent-escape in option '%.*s'", uri->text,
                    (int)(eq - q), q); /* the key only: the value may be a secret */
            return -1;
        }
        for (size_t i = 0; i < uri->nparams; i++) {
            if (strcasecmp(uri->params[i].key, pm->key) == 0) {
                wcs_err(err, errlen, "%s: option '%s' is given twice", uri->text, pm->key);
                free(pm->key);
                free(pm->value);
                return -1;
            }
        }
        uri->nparams++;
        q = *amp ? amp + 1 : amp;
    }
    return 0;
}

/* Whether a parameter key names a secret: its value never reaches a
 * message, a log line, a progress record or the state. */
static bool secret_key(const char *k, size_t n)
{
    static const char *const words[] = {"password", "secret", "token", "jaas", "key.pem"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t wl = strlen(words[i]);
        for (size_t j = 0; j + wl <= n; j++)
            if (strncasecmp(k + j, words[i], wl) == 0)
                return true;
    }
    return false;
}

/* text with the values of secret parameters replaced by "***". */
static char *redact(const char *text)
{
    const char *q = strchr(text, '?');
    size_t pairs = 1;
    for (const char *p = text; *p; p++)
        pairs += *p == '&';
    char *out = malloc(strlen(text) + 3 * pairs + 1);
    if (!out || !q)
        return out ? strcpy(out, text) : NULL;
    char *o = mempcpy(out, text, (size_t)(q + 1 - text));
    for (const char *p = q + 1;; p++) {
        const char *amp = strchrnul(p, '&');
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        char *key = eq ? decode(p, (size_t)(eq - p)) : NULL; /* pass%77ord is password */
        bool secret = key && secret_key(key, strlen(key));
        free(key);
        if (secret)
            o = mempcpy(mempcpy(o, p, (size_t)(eq + 1 - p)), "***", 3);
        else
            o = mempcpy(o, p, (size_t)(amp - p));
        if (!*amp)
            break;
        *o++ = '&';
        p = amp;
    }
    *o = '\0';
    return out;
}

struct wcs_uri *wcs_uri_parse(const char *text, char *err, size_t errlen)
{
    struct wcs_uri *uri = calloc(1, sizeof(*uri));
    if (!uri || !(uri->text = redact(text))) {
        wcs_err(err, errlen, "out of memory");
        goto fail;
    }
    if (strcmp(text, "-") == 0)
        text = "stdin";
    const char *sep = strstr(text, "://");
    const char *q = strchr(text, '?');
    if (sep && q && q < sep)
        sep = NULL;
    const char *scheme_end = sep ? sep : q ? q : text + strlen(text);
    if (scheme_end == text) {
        wcs_err(err, errlen, "'%s' has no scheme; expected e.g. socket://HOST:PORT", uri->text);
        goto fail;
    }
    for (const char *p = text; p < scheme_end; p++) {
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.') {
            wcs_err(err, errlen, "'%s' has a bad scheme; expected e.g. socket://HOST:PORT",
                    uri->text);
            goto fail;
        }
    }
    uri->scheme = strndup(text, (size_t)(scheme_end - text));
    const char *t = sep ? sep + 3 : scheme_end;
    const char *t_end = q ? q : t + strlen(t);
    uri->target = decode(t, (size_t)(t_end - t));
    if (!uri->scheme || !uri->target) {
        if (uri->scheme && errno == EINVAL)
            wcs_err(err, errlen, "'%s': bad percent-escape (a %% is written %%25, a ? %%3F)",
                    uri->text);
        else
            wcs_err(err, errlen, "out of memory");
        goto fail;
    }
    for (char *p = uri->scheme; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (q && parse_params(uri, q + 1, err, errlen) < 0)
        goto fail;
    return uri;
fail:
    wcs_uri_free(uri);
    return NULL;
}

void wcs_uri_free(struct wcs_uri *uri)
{
    if (!uri)
        return;
    for (size_t i = 0; i < uri->nparams; i++) {
        free(uri->params[i].key);
        free(uri->params[i].value);
    }
    free(uri->params);
    free(uri->text);
    free(uri->scheme);
    free(uri->target);
    free(uri);
}

const char *wcs_uri_get(struct wcs_uri *uri, const char *key)
{
    for (size_t i = 0; i < uri->nparams; i++) {
        if (strcasecmp(uri->params[i].key, key) == 0) { /* Spark's options ignore case */
            uri->params[i].used = true;
            return uri->params[i].value;
        }
    }
    return NULL;
}

int wcs_uri_get_bool(struct wcs_uri *uri, const char *key, bool *out, char *err, size_t errlen)
{
    const char *v = wcs_uri_get(uri, key);
    if (!v)
        return 0;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = true;
    } else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = false;
    } else {
        wcs_err(err, errlen, "%s: option %s must be true or false, not '%s'", uri->text, key, v);
        return WCS_EUSAGE;
    }
    return 0;
}

static int get_size(struct wcs_uri *uri, const char *key, size_t min, size_t max, size_t *out,
                    bool bytes, char *err, size_t errlen)
{
    const char *v = wcs_uri_get(uri, key);
    if (!v)
        return 0;
    size_t n;
    if (wcs_parse_size(v, &n) < 0 || n < min || n > max) {
        wcs_err(err, errlen, "%s: option %s must be a %s from %zu to %zu%s, not '%s'", uri->text,
                key, bytes ? "size" : "number", min, max, bytes ? " bytes (e.g. 64KiB)" : "", v);
        return WCS_EUSAGE;
    }
    *out = n;
    return 0;
}

int wcs_uri_get_size(struct wcs_uri *uri, const char *key, size_t min, size_t max, size_t *out,
                     char *err, size_t errlen)
{
    return get_size(uri, key, min, max, out, false, err, errlen);
}

int wcs_uri_get_bytes(struct wcs_uri *uri, const char *key, size_t min, size_t max, size_t *out,
                      char *err, size_t errlen)
{
    return get_size(uri, key, min, max, out, true, err, errlen);
}

int wcs_uri_check_unused(const struct wcs_uri *uri, char *err, size_t errlen)
{
    for (size_t i = 0; i < uri->nparams; i++) {
        if (!uri->params[i].used) {
            wcs_err(err, errlen, "%s: unknown option '%s'", uri->text, uri->params[i].key);
            return WCS_EUSAGE;
        }
    }
    return 0;
}

int wcs_uri_host_port(const char *target, char *hostbuf, size_t hostlen, uint16_t *port, char *err,
                      size_t errlen)
{
    const char *host = target, *colon;
    size_t hlen;
    if (*target == '[') {
        const char *close = strchr(target, ']');
        if (!close || close[1] != ':')
            goto bad;
        host = target + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(target, ':');
        if (!colon)
            goto bad;
        hlen = (size_t)(colon - target);
    }
    if (hlen == 0 || hlen >= hostlen)
        goto bad;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!isdigit((unsigned char)colon[1]) || errno || *end || p == 0 || p > 65535)
        goto bad;
    memcpy(hostbuf, host, hlen);
    hostbuf[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
bad:
    wcs_err(err, errlen, "'%s' is not HOST:PORT with a port from 1 to 65535", target);
    return WCS_EUSAGE;
}

struct unit {
    const char *suffix;
    unsigned long long mul;
};

/* Digits, then one of the units' suffixes (case-insensitive); the value
 * times the unit's multiplier must fit below `max`. 0 or -1. */
static int parse_scaled(const char *text, const struct unit *units, size_t nunits,
                        unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*text))
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    for (size_t i = 0; i < nunits; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > max / units[i].mul)
                return -1;
            *out = v * units[i].mul;
            return 0;
        }
    }
    return -1;
}

int wcs_parse_size(const char *text, size_t *out)
{
    static const struct unit units[] = {
        {"", 1},
        {"k", 1ULL << 10},
        {"kb", 1ULL << 10},
        {"kib", 1ULL << 10},
        {"m", 1ULL << 20},
        {"mb", 1ULL << 20},
        {"mib", 1ULL << 20},
        {"g", 1ULL << 30},
        {"gb", 1ULL << 30},
        {"gib", 1ULL << 30},
    };
    unsigned long long v;
    if (parse_scaled(text, units, sizeof(units) / sizeof(units[0]), SIZE_MAX, &v) < 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

int wcs_parse_duration_ms(const char *text, int64_t *out)
{
    static const struct unit units[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000},
    };
    unsigned long long v;
    if (parse_scaled(text, units, sizeof(units) / sizeof(units[0]), WCS_DURATION_MAX_MS, &v) < 0)
        return -1;
    if (v != 0 && isdigit((unsigned char)text[strlen(text) - 1]))
        return -1; /* a bare number needs a unit, except 0 */
    *out = (int64_t)v;
    return 0;
}
