/*
 * fuzz_config.c - libFuzzer target for the CLI boundary: source and sink
 * URIs (src/uri.c), the JSON config (src/config.c) and the flags.
 *
 * The first input byte picks what the rest is: a URI, a JSON config, an
 * argv (NUL-separated), or a size, duration or HOST:PORT. Parsing is
 * validation at the boundary, so beyond "no crash" the target checks that
 * what passes can be trusted: a parsed URI has a lower-case scheme of
 * scheme characters, non-empty keys distinct in any case, and a redacted
 * text that parses again to the same URI with the secrets' values as ***;
 * a config that loads has every setting in range (and a regex split's
 * pattern inside its spec); a refusal always says why; sizes and durations
 * agree with a reference parser. A broken property aborts.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fuzz.h"
#include "wcstream/config.h"
#include "wcstream/fold.h"
#include "wcstream/uri.h"

static bool secret_key(const char *k)
{
    static const char *const words[] = {"password", "secret", "token", "jaas", "key.pem"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        for (const char *p = k; *p; p++)
            if (strncasecmp(p, words[i], strlen(words[i])) == 0)
                return true;
    return false;
}

static void check_uri(const char *text)
{
    char err[512] = "";
    struct wcs_uri *uri = wcs_uri_parse(text, err, sizeof(err));
    if (!uri) {
        FUZZ_CHECK(err[0], "a refused URI without a reason");
        return;
    }
    FUZZ_CHECK(uri->scheme[0], "an empty scheme");
    for (const char *p = uri->scheme; *p; p++)
        FUZZ_CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("+-.", *p),
                   "scheme '%s' holds 0x%02x", uri->scheme, (unsigned char)*p);
    for (size_t i = 0; i < uri->nparams; i++) {
        FUZZ_CHECK(uri->params[i].key[0], "an empty key");
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcasecmp(uri->params[i].key, uri->params[j].key) != 0, "key '%s' twice",
                       uri->params[i].key);
    }

    /* The redacted text is a URI too: the same one, secrets shown as ***. */
    struct wcs_uri *again = wcs_uri_parse(uri->text, err, sizeof(err));
    FUZZ_CHECK(again, "the redacted text '%s' does not parse: %s", uri->text, err);
    FUZZ_CHECK(strcmp(again->text, uri->text) == 0, "redacting twice changed '%s' to '%s'",
               uri->text, again->text);
    FUZZ_CHECK(strcmp(again->scheme, uri->scheme) == 0 && strcmp(again->target, uri->target) == 0,
               "redaction changed the scheme or target");
    FUZZ_CHECK(again->nparams == uri->nparams, "redaction changed the parameters");
    for (size_t i = 0; i < uri->nparams; i++) {
        const struct wcs_uri_param *a = &uri->params[i], *b = &again->params[i];
        FUZZ_CHECK(strcmp(a->key, b->key) == 0, "redaction changed key '%s'", a->key);
        if (secret_key(a->key))
            FUZZ_CHECK(strcmp(b->value, "***") == 0, "secret '%s' not redacted", a->key);
        else
            FUZZ_CHECK(strcmp(a->value, b->value) == 0, "redaction changed '%s'", a->key);
    }
    wcs_uri_free(again);

    for (size_t i = 0; i < uri->nparams; i++)
        FUZZ_CHECK(wcs_uri_get(uri, uri->params[i].key) == uri->params[i].value,
                   "get('%s') is not its value", uri->params[i].key);
    FUZZ_CHECK(wcs_uri_check_unused(uri, err, sizeof(err)) == 0, "a used key counts as unused");

    char host[64];
    uint16_t port = 0;
    if (wcs_uri_host_port(uri->target, host, sizeof(host), &port, err, sizeof(err)) == 0)
        FUZZ_CHECK(host[0] && strlen(host) < sizeof(host) && port > 0, "host '%s' port %u", host,
                   port);
    wcs_uri_free(uri);
}

/* What wcs_config_set() promises everything after the boundary. */
static void check_config(const struct wcs_config *cf)
{
    FUZZ_CHECK(cf->mode == WCS_MODE_COMPLETE || cf->mode == WCS_MODE_UPDATE, "mode %d",
               (int)cf->mode);
    FUZZ_CHECK(cf->trigger_ms >= 0, "trigger %lld ms", (long long)cf->trigger_ms);
    FUZZ_CHECK(cf->max_bytes >= 1024 && cf->max_bytes <= SIZE_MAX / 2, "max bytes %zu",
               cf->max_bytes);
    FUZZ_CHECK(cf->max_line >= 64 && cf->max_line <= (size_t)64 << 20, "max line %zu",
               cf->max_line);
    FUZZ_CHECK(cf->threads >= 0 && cf->threads <= WCS_FOLD_MAX_THREADS, "threads %d", cf->threads);
    FUZZ_CHECK(!cf->synchronous || !strcmp(cf->synchronous, "off") ||
                   !strcmp(cf->synchronous, "normal") || !strcmp(cf->synchronous, "full"),
               "synchronous '%s'", cf->synchronous);
    FUZZ_CHECK(cf->log_level >= WCS_LOG_ERROR && cf->log_level <= WCS_LOG_DEBUG, "log level %d",
               (int)cf->log_level);
    if (cf->split == WCS_SPLIT_REGEX) {
        FUZZ_CHECK(cf->split_spec && cf->split_pattern == cf->split_spec + 6 &&
                       cf->split_pattern[0],
                   "a regex split without its pattern");
    } else {
        FUZZ_CHECK(cf->split == WCS_SPLIT_WHITESPACE || cf->split == WCS_SPLIT_SPARK ||
                       cf->split == WCS_SPLIT_WORDS,
                   "split %d", (int)cf->split);
    }
    for (size_t i = 0; i < cf->sources.n; i++)
        FUZZ_CHECK(cf->sources.v[i], "a NULL source");
    for (size_t i = 0; i < cf->sinks.n; i++)
        FUZZ_CHECK(cf->sinks.v[i], "a NULL sink");
}

static void check_json(const char *text, size_t len)
{
    struct wcs_config cf;
    char err[512] = "";

    wcs_config_init(&cf);
    if (wcs_config_load_json(&cf, text, len, "fuzz", err, sizeof(err)) == 0)
        check_config(&cf);
    else
        FUZZ_CHECK(err[0], "a refused config without a reason");
    wcs_config_free(&cf);
}

/* The rest as NUL-separated arguments. --config would read files, so it
 * is renamed; --help and --version print to stdout, which is /dev/null. */
static void check_argv(const char *text, size_t len)
{
    char *args[17] = {"wcstream"}, *copy = malloc(len + 1);
    int argc = 1;

    FUZZ_CHECK(copy, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    for (char *p = copy; p < copy + len && argc < 17; p += strlen(p) + 1) {
        if (strcmp(p, "--config") == 0 || strncmp(p, "--config=", 9) == 0)
            memcpy(p + 2, "noconf", 6);
        args[argc++] = p;
    }
    struct wcs_config cf;
    char err[512] = "";
    enum wcs_config_status st = wcs_config_from_args(&cf, argc, args, err, sizeof(err));
    if (st == WCS_CONFIG_OK) {
        check_config(&cf);
        FUZZ_CHECK(cf.sources.n >= 1 && cf.sinks.n >= 1 && cf.state_path, "defaults missing");
    } else if (st == WCS_CONFIG_USAGE) {
        FUZZ_CHECK(err[0], "bad usage without a reason");
    }
    wcs_config_free(&cf);
    free(copy);
}

struct unit {
    const char *suffix;
    unsigned long long mul;
};

/* Reference: digits, then a unit (case-insensitive), the product <= max. */
static bool ref_scaled(const char *t, const struct unit *u, size_t nu, unsigned __int128 max,
                       unsigned long long *out)
{
    unsigned __int128 v = 0;
    const char *p = t;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (unsigned)(*p - '0')) > ~0ULL)
            return false;
    for (size_t i = 0; i < nu; i++) {
        if (strcasecmp(p, u[i].suffix) == 0) {
            if (v * u[i].mul > max)
                return false;
            *out = (unsigned long long)(v * u[i].mul);
            return true;
        }
    }
    return false;
}

static void check_numbers(const char *t)
{
    static const struct unit sizes[] = {
        {"", 1},         {"k", 1 << 10},   {"kb", 1 << 10}, {"kib", 1 << 10}, {"m", 1 << 20},
        {"mb", 1 << 20}, {"mib", 1 << 20}, {"g", 1 << 30},  {"gb", 1 << 30},  {"gib", 1 << 30},
    };
    static const struct unit times[] = {
        {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000}, {"h", 3600000},
    };
    unsigned long long want;
    size_t size;
    int64_t ms;

    bool ok = ref_scaled(t, sizes, sizeof(sizes) / sizeof(sizes[0]), SIZE_MAX, &want);
    int r = wcs_parse_size(t, &size);
    FUZZ_CHECK((r == 0) == ok, "size '%s': %d, the reference says %d", t, r, ok);
    FUZZ_CHECK(!ok || size == want, "size '%s': %zu, the reference says %llu", t, size, want);

    ok = ref_scaled(t, times, sizeof(times) / sizeof(times[0]), WCS_DURATION_MAX_MS, &want);
    size_t digits = strspn(t, "0123456789");
    ok = ok && !(t[digits] == '\0' && want != 0); /* a bare number needs a unit, but 0 */
    r = wcs_parse_duration_ms(t, &ms);
    FUZZ_CHECK((r == 0) == ok, "duration '%s': %d, the reference says %d", t, r, ok);
    FUZZ_CHECK(!ok || (ms >= 0 && (unsigned long long)ms == want),
               "duration '%s': %lld, the reference says %llu", t, (long long)ms, want);

    char host[16], err[256];
    uint16_t port = 0;
    if (wcs_uri_host_port(t, host, sizeof(host), &port, err, sizeof(err)) == 0) {
        FUZZ_CHECK(host[0] && strlen(host) < sizeof(host) && port > 0, "'%s': host '%s' port %u", t,
                   host, port);
        FUZZ_CHECK(strstr(t, host), "'%s': host '%s' is not in it", t, host);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* --help and --version print to stdout; keep the fuzzer's output readable. */
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        close(fd);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1)
        return 0;
    const char *rest = (const char *)in + 1;
    size_t len = size - 1;

    switch (in[0] % 4) {
    case 1: /* exactly len bytes, not NUL-terminated: as the contract allows */
        check_json(rest, len);
        return 0;
    case 2:
        check_argv(rest, len);
        return 0;
    }
    char *text = malloc(len + 1);
    FUZZ_CHECK(text, "out of memory");
    memcpy(text, rest, len);
    text[len] = '\0';
    if (in[0] % 4 == 0)
        check_uri(text);
    else
        check_numbers(text);
    free(text);
    return 0;
}
