/*
 * kafka.c - the kafka:// sink: a changelog of the running counts.
 *
 *   kafka://BROKER[,BROKER...]/TOPIC?format=text|json&kafka.P=V
 *
 * After each committed batch, one message per updated word: key = the
 * word, value = its new total ("42", or {"word":…,"count":42,"batchId":7}
 * with format=json). The topic is meant to be log-compacted, so it always
 * holds the latest count of every word. The producer is idempotent and
 * messages never time out; emit() returns only when every message of the
 * batch is acknowledged by the broker, so the engine acknowledges its
 * sources after that. A broker outage therefore blocks the query (the
 * producer queue is bounded), logged once, instead of dropping results.
 * Delivery is at-least-once; as each message carries the absolute count, a
 * batch delivered twice is harmless.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "wcstream/buf.h"
#include "wcstream/kafka.h"
#include "wcstream/log.h"
#include "wcstream/progress.h"
#include "wcstream/sink.h"
#include "wcstream/text.h"

struct kafka_sink {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    const char *desc;
    bool json;
    const atomic_int *stopping;
    struct wcs_buf value;
    int64_t failed;    /* deliveries that failed for good, in this batch */
    int64_t too_large; /* results refused at produce as larger than a message may be */
    char failure[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kafka_sink *k = opaque;
    (void)rk;
    /* A broker's MSG_SIZE_TOO_LARGE here may be about a whole request of
     * small results (its topic's max.message.bytes below the producer's):
     * a failure like any other, not a result to skip. */
    if (m->err) {
        k->failed++;
        snprintf(k->failure, sizeof(k->failure), "%s", rd_kafka_err2str(m->err));
    }
}

static int kafka_sink_init(struct wcs_sink *sk, struct wcs_uri *uri, const struct wcs_sink_env *env,
                           char *err, size_t errlen)
{
    struct wcs_kafka_target t;
    int r = wcs_kafka_target(uri, &t, err, errlen);
    if (r < 0)
        return r;
    if (strchr(t.topics, ',')) {
        wcs_err(err, errlen, "%s: the sink writes one topic", uri->text);
        return WCS_EUSAGE;
    }
    const char *format = wcs_uri_get(uri, "format");
    if (format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
        wcs_err(err, errlen, "%s: format must be text or json, not '%s'", uri->text, format);
        return WCS_EUSAGE;
    }
    struct kafka_sink *k = calloc(1, sizeof(*k));
    if (!k) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    sk->ctx = k;
    sk->top_n = 0;
    k->desc = sk->desc;
    k->json = format && strcmp(format, "json") == 0;
    k->stopping = env->stopping;

    /* clang-format off */
    const char *const defaults[] = {
        "message.timeout.ms", "0", /* never drop a result: wait for the broker */
        "linger.ms", "5",
        NULL,
    };
    const char *const fixed[] = {
        "enable.idempotence", "true",
        "a resent count must not land after a newer one, nor twice", NULL,
    };
    /* clang-format on */
    rd_kafka_conf_t *conf = wcs_kafka_conf(uri, t.brokers, defaults, fixed, k, &r, err, errlen);
    if (!conf)
        return r;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char why[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!k->rk) {
        rd_kafka_conf_destroy(conf);
        wcs_err(err, errlen, "%s: %s", uri->text, why);
        return -1;
    }
    k->topic = rd_kafka_topic_new(k->rk, t.topics, NULL);
    if (!k->topic) {
        wcs_err(err, errlen, "%s: %s", uri->text, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    return 0;
}

/* The message value for one row. 0 or -ENOMEM. */
static int value(struct kafka_sink *k, const struct wcs_row *row, int64_t batch_id)
{
    char num[64];
    k->value.len = 0;
    if (!k->json) {
        int n = snprintf(num, sizeof(num), "%" PRId64, row->count);
        return wcs_buf_append(&k->value, num, (size_t)n);
    }
    int n = snprintf(num, sizeof(num), ",\"count\":%" PRId64 ",\"batchId\":%" PRId64 "}",
                     row->count, batch_id);
    if (wcs_buf_append(&k->value, "{\"word\":", 8) < 0 ||
        wcs_json_string(&k->value, row->word, row->len) < 0)
        return -1;
    return wcs_buf_append(&k->value, num, (size_t)n);
}

/* The broker holds the batch back: logged once a batch, on the first wait. */
static void note_wait(const struct kafka_sink *k, const struct wcs_result *res, bool *waiting)
{
    if (!*waiting)
        wcs_warn("%s: waiting for the broker to take batch %" PRId64 " (%d messages)", k->desc,
                 res->batch_id, rd_kafka_outq_len(k->rk));
    *waiting = true;
}

/* A stop while waiting: the results of the batch not delivered are those
 * still in the producer's queues and the `unsent` not produced yet. */
static bool stopped(const struct kafka_sink *k, const struct wcs_result *res, size_t unsent,
                    char *err, size_t errlen)
{
    if (!k->stopping || !*k->stopping)
        return false;
    wcs_err(err, errlen, "stopping with %zu results of batch %" PRId64 " not delivered",
            (size_t)rd_kafka_outq_len(k->rk) + unsent, res->batch_id);
    return true;
}

static int kafka_sink_emit(struct wcs_sink *sk, const struct wcs_result *res, char *err,
                           size_t errlen)
{
    struct kafka_sink *k = sk->ctx;
    k->failed = k->too_large = 0;
    bool waiting = false;
    for (size_t i = 0; i < res->n_updated; i++) {
        const struct wcs_row *row = &res->updated[i];
        if (value(k, row, res->batch_id) < 0) {
            wcs_err(err, errlen, "out of memory");
            return -1;
        }
        /* A full producer queue (a slow or absent broker) waits here,
         * logged once it has had no room for a second, as the flush below
         * logs: a big batch fills the queue on a healthy broker too. A
         * result larger than the producer's message.max.bytes is skipped:
         * it never will be sent, and the rest of the batch must be. */
        int64_t full_since = -1;
        while (rd_kafka_produce(k->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, k->value.data,
                                k->value.len, row->word, row->len, NULL) < 0) {
            if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                k->too_large++;
                break;
            }
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                /* Refused outright (a topic known not to exist, a fatal
                 * producer error): not delivered, as a failed delivery
                 * is. The batch goes on, and its flush below leaves none
                 * of its messages to report with the next batch. */
                k->failed++;
                snprintf(k->failure, sizeof(k->failure), "%s",
                         rd_kafka_err2str(rd_kafka_last_error()));
                break;
            }
            if (full_since < 0)
                full_since = wcs_now_ns();
            else if (wcs_now_ns() - full_since >= 1000000000)
                note_wait(k, res, &waiting);
            if (stopped(k, res, res->n_updated - i, err, errlen))
                return -1;
            rd_kafka_poll(k->rk, 100);
        }
        rd_kafka_poll(k->rk, 0);
    }
    /* Only a delivered batch is done: wait for every acknowledgement. */
    while (rd_kafka_flush(k->rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        note_wait(k, res, &waiting);
        if (stopped(k, res, 0, err, errlen))
            return -1;
    }
    if (waiting && !k->failed)
        wcs_info("%s: batch %" PRId64 " delivered", k->desc, res->batch_id);
    if (k->too_large)
        wcs_warn("%s: %" PRId64 " results of batch %" PRId64
                 " are larger than a Kafka message may be (message.max.bytes); not sent",
                 k->desc, k->too_large, res->batch_id);
    if (k->failed) {
        wcs_err(err, errlen, "%" PRId64 " results of batch %" PRId64 " not delivered: %s",
                k->failed, res->batch_id, k->failure);
        return -1;
    }
    return 0;
}

static void kafka_sink_destroy(struct wcs_sink *sk)
{
    struct kafka_sink *k = sk->ctx;
    if (!k)
        return;
    if (k->topic)
        rd_kafka_topic_destroy(k->topic);
    if (k->rk) {
        rd_kafka_flush(k->rk, 5000);
        rd_kafka_destroy(k->rk);
    }
    wcs_buf_free(&k->value);
    free(k);
    sk->ctx = NULL;
}

const struct wcs_sink_plugin wcs_sink_kafka = {
    .scheme = "kafka",
    .at_least_once = true,
    .usage = "kafka://BROKERS/TOPIC[?format=text|json] one message per updated word",
    .init = kafka_sink_init,
    .emit = kafka_sink_emit,
    .destroy = kafka_sink_destroy,
};
