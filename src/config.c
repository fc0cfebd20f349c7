/*
 * config.c - flags and the JSON config file into one struct wcs_config.
 *
 * The CLI boundary of the service. Both the flag parser and the config
 * file go through wcs_config_set(), so a setting is validated by the same
 * code whichever way it arrives, and every flag has a file key by
 * construction.
 */
#include "wcstream/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "wcstream/fold.h"
#include "wcstream/log.h"
#include "wcstream/registry.h"
#include "wcstream/uri.h"

#define DEFAULT_MAX_BYTES (128u << 20)
#define DEFAULT_MAX_LINE  (1u << 20)

static void strv_clear(struct wcs_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static int strv_push(struct wcs_strv *sv, const char *s)
{
    char **v = realloc(sv->v, (sv->n + 1) * sizeof(*v));
    if (!v)
        return -1;
    sv->v = v;
    if (!(v[sv->n] = strdup(s)))
        return -1;
    sv->n++;
    return 0;
}

static int set_string(char **dst, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

void wcs_config_init(struct wcs_config *cf)
{
    memset(cf, 0, sizeof(*cf));
    cf->mode = WCS_MODE_COMPLETE;
    cf->max_bytes = DEFAULT_MAX_BYTES;
    cf->max_line = DEFAULT_MAX_LINE;
    cf->split = WCS_SPLIT_WHITESPACE;
    cf->log_level = WCS_LOG_INFO;
}

void wcs_config_free(struct wcs_config *cf)
{
    if (!cf)
        return;
    strv_clear(&cf->sources);
    strv_clear(&cf->sinks);
    free(cf->state_path);
    free(cf->synchronous);
    free(cf->split_spec);
    free(cf->progress_log);
    free(cf->dashboard_dir);
    memset(cf, 0, sizeof(*cf));
}

static int parse_bool(const char *name, const char *value, bool *out, char *err, size_t errlen)
{
    if (strcmp(value, "true") == 0)
        *out = true;
    else if (strcmp(value, "false") == 0)
        *out = false;
    else {
        wcs_err(err, errlen, "%s must be true or false, not '%s'", name, value);
        return -1;
    }
    return 0;
}

static int parse_bytes(const char *name, const char *value, size_t min, size_t max, size_t *out,
                       char *err, size_t errlen)
{
    size_t v;
    if (wcs_parse_size(value, &v) < 0 || v < min || v > max) {
        wcs_err(err, errlen, "%s must be a size from %zu to %zu bytes (e.g. 8MiB), not '%s'", name,
                min, max, value);
        return -1;
    }
    *out = v;
    return 0;
}

int wcs_config_set(struct wcs_config *cf, const char *name, const char *value, char *err,
                   size_t errlen)
{
    int oom = 0;
    if (strcmp(name, "source") == 0) {
        oom = strv_push(&cf->sources, value);
    } else if (strcmp(name, "sink") == 0) {
        oom = strv_push(&cf->sinks, value);
    } else if (strcmp(name, "output-mode") == 0) {
        if (strcasecmp(value, "complete") == 0) /* as Spark's outputMode() */
            cf->mode = WCS_MODE_COMPLETE;
        else if (strcasecmp(value, "update") == 0)
            cf->mode = WCS_MODE_UPDATE;
        else if (strcasecmp(value, "append") == 0) {
            wcs_err(err, errlen,
                    "output mode append needs a windowed aggregation, which wcstream does not have "
                    "yet; use complete or update");
            return -1;
        } else {
            wcs_err(err, errlen, "output mode must be complete or update, not '%s'", value);
            return -1;
        }
    } else if (strcmp(name, "trigger") == 0) {
        cf->available_now = strcmp(value, "available-now") == 0;
        cf->trigger_ms = 0;
        if (!cf->available_now && wcs_parse_duration_ms(value, &cf->trigger_ms) < 0) {
            wcs_err(err, errlen,
                    "trigger must be a duration (0, 500ms, 1s, 2m, 1h; at most 8760h) or "
                    "available-now, not '%s'",
                    value);
            return -1;
        }
    } else if (strcmp(name, "max-bytes-per-trigger") == 0) {
        return parse_bytes(name, value, 1024, SIZE_MAX / 2, &cf->max_bytes, err, errlen);
    } else if (strcmp(name, "max-line-bytes") == 0) {
        /* A word is at most a line: keep it far below SQLite's limits. */
        return parse_bytes(name, value, 64, (size_t)64 << 20, &cf->max_line, err, errlen);
    } else if (strcmp(name, "threads") == 0) {
        char *end;
        errno = 0;
        long n = strtol(value, &end, 10);
        if (!isdigit((unsigned char)*value) || errno || *end || n > WCS_FOLD_MAX_THREADS) {
            wcs_err(err, errlen,
                    "threads must be a number from 1 to %d, or 0 for one per core, not '%s'",
                    WCS_FOLD_MAX_THREADS, value);
            return -1;
        }
        cf->threads = (int)n;
    } else if (strcmp(name, "state") == 0) {
        if (!*value) { /* SQLite would make a temporary database of it */
            wcs_err(err, errlen, "state must be a file path (or :memory:), not ''");
            return -1;
        }
        oom = set_string(&cf->state_path, value);
    } else if (strcmp(name, "synchronous") == 0) {
        if (strcmp(value, "off") != 0 && strcmp(value, "normal") != 0 &&
            strcmp(value, "full") != 0) {
            wcs_err(err, errlen, "synchronous must be off, normal or full, not '%s'", value);
            return -1;
        }
        oom = set_string(&cf->synchronous, value);
    } else if (strcmp(name, "split") == 0) {
        if ((oom = set_string(&cf->split_spec, value)) == 0 &&
            wcs_split_parse(cf->split_spec, &cf->split, &cf->split_pattern, err, errlen) < 0)
            return -1;
    } else if (strcmp(name, "lowercase") == 0) {
        return parse_bool(name, value, &cf->lowercase, err, errlen);
    } else if (strcmp(name, "log-level") == 0) {
        if (wcs_log_parse_level(value, &cf->log_level) < 0) {
            wcs_err(err, errlen, "log level must be error, warn, info or debug, not '%s'", value);
            return -1;
        }
    } else if (strcmp(name, "progress-log") == 0) {
        if (!*value) { /* names no file: a bad value, not a failure to open one */
            wcs_err(err, errlen, "progress-log must be a file path, not ''");
            return -1;
        }
        oom = set_string(&cf->progress_log, value);
    } else if (strcmp(name, "dashboard-dir") == 0) {
        if (!*value) {
            wcs_err(err, errlen, "dashboard-dir must be a directory, not ''");
            return -1;
        }
        oom = set_string(&cf->dashboard_dir, value);
    } else {
        wcs_err(err, errlen, "unknown setting '%s'", name);
        return -1;
    }
    if (oom) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* getopt_long() values past any byte: an optopt below 256 is then exactly
 * an unknown short option. The rest are set by name (wcs_config_set()). */
enum { OPT_SET = 256, OPT_SOURCE, OPT_SINK, OPT_CONFIG, OPT_HELP, OPT_VERSION };

static const struct option opts[] = {
    {"source", required_argument, NULL, OPT_SOURCE},
    {"sink", required_argument, NULL, OPT_SINK},
    {"output-mode", required_argument, NULL, OPT_SET},
    {"trigger", required_argument, NULL, OPT_SET},
    {"max-bytes-per-trigger", required_argument, NULL, OPT_SET},
    {"max-line-bytes", required_argument, NULL, OPT_SET},
    {"threads", required_argument, NULL, OPT_SET},
    {"state", required_argument, NULL, OPT_SET},
    {"synchronous", required_argument, NULL, OPT_SET},
    {"split", required_argument, NULL, OPT_SET},
    {"lowercase", optional_argument, NULL, OPT_SET}, /* =false overrides a file */
    {"log-level", required_argument, NULL, OPT_SET},
    {"progress-log", required_argument, NULL, OPT_SET},
    {"dashboard-dir", required_argument, NULL, OPT_SET},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* A name wcs_config_set() takes: a key of the config file. */
static bool is_setting(const char *name)
{
    for (const struct option *o = opts; o->name; o++)
        if (o->val <= OPT_SINK && strcmp(o->name, name) == 0)
            return true;
    return false;
}

/* One JSON value as the string wcs_config_set() takes: a string as it is
 * (of any length, as on the command line), a number or boolean written
 * into buf, for the setting to judge as it judges a flag's. NULL for a
 * list, an object or null. */
static const char *json_value(const cJSON *item, char *buf, size_t len)
{
    if (cJSON_IsString(item))
        return item->valuestring;
    if (cJSON_IsBool(item))
        return snprintf(buf, len, "%s", cJSON_IsTrue(item) ? "true" : "false"), buf;
    if (!cJSON_IsNumber(item))
        return NULL;
    double v = item->valuedouble;
    if (fabs(v) < 9.0e15 && v == (double)(long long)v) {
        snprintf(buf, len, "%lld", (long long)v);
    } else {
        snprintf(buf, len, "%.15g", v);
        if (strtod(buf, NULL) != v) /* 15 digits name another number */
            snprintf(buf, len, "%.17g", v);
    }
    return buf;
}

/* Whether the JSON text escapes a NUL: cJSON decodes \u0000 into a byte
 * that ends its string there, so the value would be cut short unseen.
 * A backslash is only ever inside a string, and each escapes the next
 * character. */
static bool escapes_nul(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\')
            continue;
        if (len - i >= 6 && strncasecmp(text + i + 1, "u0000", 5) == 0)
            return true;
        i++; /* the escaped character, a backslash maybe */
    }
    return false;
}

int wcs_config_load_json(struct wcs_config *cf, const char *text, size_t len, const char *name,
                         char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    while (root && end < text + len && *end && strchr(" \t\r\n", *end)) /* not NUL */
        end++;
    int r = 0;
    if (!cJSON_IsObject(root) || end != text + len) {
        wcs_err(err, errlen, "config %s is not one JSON object", name);
        r = -1;
    } else if (escapes_nul(text, len)) {
        wcs_err(err, errlen, "config %s: a string holds \\u0000, which no setting can", name);
        r = -1;
    }
    const cJSON *item;
    const cJSON *object = r == 0 ? root : NULL;
    char num[32], sub[1024];
    const char *value;
    cJSON_ArrayForEach(item, object)
    {
        const char *key = item->string;
        bool list = strcmp(key, "source") == 0 || strcmp(key, "sink") == 0;
        const cJSON *before = object->child;
        while (before != item && strcmp(before->string, key) != 0)
            before = before->next; /* ends soon: every key before is a setting, and once */
        if (!is_setting(key)) {
            wcs_err(err, errlen, "config %s: unknown setting '%s'", name, key);
            r = -1;
        } else if (before != item) {
            wcs_err(err, errlen, "config %s: \"%s\" is given twice", name, key);
            r = -1;
        } else if (list && cJSON_IsArray(item)) {
            const cJSON *el;
            cJSON_ArrayForEach(el, item)
            {
                if (!cJSON_IsString(el)) {
                    wcs_err(err, errlen, "config %s: %s entries must be strings", name, key);
                    r = -1;
                    break;
                }
                if ((r = wcs_config_set(cf, key, el->valuestring, sub, sizeof(sub))) < 0) {
                    wcs_err(err, errlen, "config %s: %s", name, sub);
                    break;
                }
            }
        } else if (!(value = json_value(item, num, sizeof(num)))) {
            wcs_err(err, errlen, "config %s: \"%s\" must be %s", name, key,
                    list ? "a string or a list of strings" : "a string, number or boolean");
            r = -1;
        } else if ((r = wcs_config_set(cf, key, value, sub, sizeof(sub))) < 0) {
            wcs_err(err, errlen, "config %s: %s", name, sub);
        }
        if (r < 0)
            break;
    }
    cJSON_Delete(root);
    return r;
}

#define CONFIG_MAX (1 << 20) /* a config file is small; /dev/zero is not one */

int wcs_config_load_file(struct wcs_config *cf, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        wcs_err(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0, total = 0;
    FILE *mem = open_memstream(&text, &len);
    char chunk[4096];
    size_t n;
    while (mem && total <= CONFIG_MAX && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        fwrite(chunk, 1, n, mem);
        total += n;
    }
    int read_err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (!mem || fclose(mem) != 0 || read_err || total > CONFIG_MAX) {
        free(text);
        if (total > CONFIG_MAX)
            wcs_err(err, errlen, "config %s is larger than %d bytes", path, CONFIG_MAX);
        else
            wcs_err(err, errlen, "cannot read config %s: %s", path,
                    strerror(read_err ? read_err : ENOMEM));
        return -1;
    }
    int r = wcs_config_load_json(cf, text, len, path, err, errlen);
    free(text);
    return r;
}

void wcs_config_usage(FILE *out)
{
    fprintf(out,
            "usage: wcstream --source URI... [--sink URI...] [options]\n"
            "\n"
            "Streaming word count: reads lines from the sources, counts words in\n"
            "micro-batches, keeps the running counts in SQLite, emits each batch.\n"
            "\n"
            "options (each but --config, --help and --version also a key of the --config\n"
            "JSON file; flags win):\n"
            "  --source URI               where lines come from (repeatable)\n"
            "  --sink URI                 where results go (repeatable; default console)\n"
            "  --output-mode MODE         complete (default) or update\n"
            "  --trigger T                0 (default: as soon as data is there), a duration\n"
            "                             such as 500ms, 1s, 2m, or available-now\n"
            "  --max-bytes-per-trigger N  bound on one batch's input (default 128MiB)\n"
            "  --max-line-bytes N         longer lines are cut (default 1MiB)\n"
            "  --threads N                tokenizing threads (default 0: one per core)\n"
            "  --state PATH               SQLite state (default wcstream.db; :memory: for none)\n"
            "  --synchronous MODE         SQLite synchronous: off, normal (default), full\n"
            "  --split MODE               whitespace (default), spark, words, regex:PATTERN\n"
            "  --lowercase[=false]        Unicode case folding\n"
            "  --log-level LEVEL          error, warn, info (default), debug\n"
            "  --progress-log PATH        append one progress JSON per batch\n"
            "  --dashboard-dir DIR        ws:// serves the dashboard from DIR, not the binary\n"
            "  --config FILE              read settings from a JSON object\n"
            "  --help, --version\n"
            "\nsources:\n");
    wcs_registry_usage(out);
}

static bool has_ws_sink(const struct wcs_config *cf)
{
    bool found = false;
    for (size_t i = 0; i < cf->sinks.n && !found; i++) {
        char err[256];
        struct wcs_uri *uri = wcs_uri_parse(cf->sinks.v[i], err, sizeof(err));
        found = uri && strcmp(uri->scheme, "ws") == 0;
        wcs_uri_free(uri);
    }
    return found;
}

enum wcs_config_status wcs_config_from_args(struct wcs_config *cf, int argc, char **argv, char *err,
                                            size_t errlen)
{
    wcs_config_init(cf);
    /* The files first, so that flags override them: a pass of their own
     * finds --config as the next finds every option (abbreviated, with
     * '=' or not); its errors are the next pass's to report. */
    int c, idx;
    const char *config = NULL;
    opterr = 0;
    optind = 0; /* 0, not 1: glibc then also forgets a half-read "-xy" */
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        if (c != OPT_CONFIG)
            continue;
        /* One file: two would be merged half-way (a later scalar wins, but
         * "source" and "sink" lists add up). */
        if (config) {
            wcs_err(err, errlen, "--config is given twice ('%s' and '%s'); give one file", config,
                    optarg);
            return WCS_CONFIG_USAGE;
        }
        config = optarg;
        if (wcs_config_load_file(cf, config, err, errlen) < 0)
            return WCS_CONFIG_USAGE;
    }
    bool flag_sources = false, flag_sinks = false;
    optind = 0;
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        switch (c) {
        case OPT_HELP:
            wcs_config_usage(stdout);
            return WCS_CONFIG_EXIT;
        case OPT_VERSION:
            printf("wcstream %s\n", WCS_VERSION);
            return WCS_CONFIG_EXIT;
        case OPT_CONFIG:
            break;
        case '?': {
            /* optopt: a short option's letter (every one is unknown), a
             * long option's value (its value is wrong), 0 (no such long
             * option). A long option's word is the last one read. */
            const char *arg = argv[optind - 1];
            if (optopt > 0 && optopt < OPT_SET)
                wcs_err(err, errlen, "unknown option '-%c'", optopt);
            else if (optopt && strchr(arg, '='))
                wcs_err(err, errlen, "option '%.*s' takes no value", (int)strcspn(arg, "="), arg);
            else if (optopt)
                wcs_err(err, errlen, "option '%s' needs a value", arg);
            else
                wcs_err(err, errlen, "unknown option '%s'", arg);
            return WCS_CONFIG_USAGE;
        }
        default:
            if (c == OPT_SOURCE && !flag_sources) {
                strv_clear(&cf->sources); /* flags replace the file's list */
                flag_sources = true;
            }
            if (c == OPT_SINK && !flag_sinks) {
                strv_clear(&cf->sinks);
                flag_sinks = true;
            }
            if (wcs_config_set(cf, opts[idx].name, optarg ? optarg : "true", err, errlen) < 0)
                return WCS_CONFIG_USAGE;
        }
    }
    if (optind < argc) {
        wcs_err(err, errlen, "unexpected argument '%s'", argv[optind]);
        return WCS_CONFIG_USAGE;
    }
    if (cf->sources.n == 0) {
        wcs_err(err, errlen, "no --source given; e.g. --source listen://127.0.0.1:9999");
        return WCS_CONFIG_USAGE;
    }
    if (cf->dashboard_dir && !has_ws_sink(cf)) {
        wcs_err(err, errlen,
                "--dashboard-dir is for a ws:// sink's dashboard; no ws:// sink given");
        return WCS_CONFIG_USAGE;
    }
    if ((cf->sinks.n == 0 && strv_push(&cf->sinks, "console") < 0) ||
        (!cf->state_path && set_string(&cf->state_path, "wcstream.db") < 0)) {
        wcs_err(err, errlen, "out of memory");
        return WCS_CONFIG_USAGE;
    }
    return WCS_CONFIG_OK;
}
