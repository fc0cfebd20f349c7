/*
 * kafka_conf.c - the URI and configuration handling that the kafka://
 * source (connectors/kafka.c) and sink (sinks/kafka.c) share.
 */
#include "wcstream/kafka.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "wcstream/log.h"

/* Kafka's own rule for a topic's name: 1 to 249 of [a-zA-Z0-9._-], and not
 * "." or "..". A broker refuses any other, and the client says so late and
 * vaguely; a pattern (librdkafka's "^regex") names no topic ahead, so its
 * offsets could not be keyed. NULL, or why the name is refused. */
static const char *bad_topic(const char *name, size_t len)
{
    if (len == 0)
        return "an empty topic name";
    if (name[0] == '^')
        return "topic patterns are not supported; name the topics";
    if (len > 249)
        return "a topic name longer than Kafka's 249 characters";
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") < len)
        return "a topic name holds only ASCII letters, digits, '.', '_' and '-'";
    if (len <= 2 && strspn(name, ".") >= len)
        return "a topic cannot be named . or ..";
    return NULL;
}

int wcs_kafka_target(const struct wcs_uri *uri, struct wcs_kafka_target *t, char *err,
                     size_t errlen)
{
    const char *slash = strchr(uri->target, '/');
    size_t nb = slash ? (size_t)(slash - uri->target) : 0;
    if (!slash || nb == 0 || !slash[1] || nb >= sizeof(t->brokers) ||
        strlen(slash + 1) >= sizeof(t->topics)) {
        wcs_err(err, errlen, "%s: expected kafka://BROKER[,BROKER...]/TOPIC[,TOPIC...]", uri->text);
        return WCS_EUSAGE;
    }
    for (const char *tp = slash + 1;;) {
        size_t len = strcspn(tp, ",");
        const char *why = bad_topic(tp, len);
        if (why) {
            wcs_err(err, errlen, "%s: %s ('%.*s')", uri->text, why, (int)len, tp);
            return WCS_EUSAGE;
        }
        if (!tp[len])
            break;
        tp += len + 1;
    }
    memcpy(t->brokers, uri->target, nb);
    t->brokers[nb] = '\0';
    strcpy(t->topics, slash + 1);
    return 0;
}

/* librdkafka's own log lines repeat while a broker is down: they are kept
 * for --log-level debug; the connectors log state changes themselves. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    wcs_debug("librdkafka %s: %s", fac, buf);
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value, const char *what,
               char *err, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK)
        return 0;
    wcs_err(err, errlen, "%s: %s", what, why);
    return -1;
}

/* Whether the options left a fixed setting as it was set: its value, in
 * librdkafka's own spelling, is the same once it is set again. */
static bool kept(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char now[64], ours[64], why[256];
    size_t nlen = sizeof(now), olen = sizeof(ours);
    return rd_kafka_conf_get(conf, key, now, &nlen) == RD_KAFKA_CONF_OK &&
           rd_kafka_conf_set(conf, key, value, why, sizeof(why)) == RD_KAFKA_CONF_OK &&
           rd_kafka_conf_get(conf, key, ours, &olen) == RD_KAFKA_CONF_OK && strcmp(now, ours) == 0;
}

rd_kafka_conf_t *wcs_kafka_conf(struct wcs_uri *uri, const char *brokers,
                                const char *const *defaults, const char *const *fixed, void *opaque,
                                int *rc, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    *rc = WCS_EUSAGE;
    if (set(conf, "bootstrap.servers", brokers, uri->text, err, errlen) < 0 ||
        set(conf, "log_level", "4", uri->text, err, errlen) < 0)
        goto fail;
    for (size_t i = 0; defaults[i]; i += 2)
        if (set(conf, defaults[i], defaults[i + 1], uri->text, err, errlen) < 0)
            goto fail;
    for (size_t i = 0; fixed[i]; i += 3)
        if (set(conf, fixed[i], fixed[i + 1], uri->text, err, errlen) < 0)
            goto fail;
    for (size_t i = 0; i < uri->nparams; i++) {
        struct wcs_uri_param *pm = &uri->params[i];
        if (strncasecmp(pm->key, "kafka.", 6) != 0)
            continue;
        pm->used = true;
        if (set(conf, pm->key + 6, pm->value, uri->text, err, errlen) < 0)
            goto fail;
    }
    for (size_t i = 0; fixed[i]; i += 3)
        if (!kept(conf, fixed[i], fixed[i + 1])) {
            wcs_err(err, errlen, "%s: kafka.%s cannot be changed: %s", uri->text, fixed[i],
                    fixed[i + 2]);
            goto fail;
        }
    if (wcs_uri_check_unused(uri, err, errlen) < 0) /* before anything connects */
        goto fail;
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, opaque);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
