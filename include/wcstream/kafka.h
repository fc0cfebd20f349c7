/*
 * kafka.h - what the kafka:// source and sink share: the URI's brokers and
 * topics, and a librdkafka configuration built from the URI.
 */
#ifndef WCSTREAM_KAFKA_H
#define WCSTREAM_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "wcstream/uri.h"

struct wcs_kafka_target {
    char brokers[1024]; /* "host:port[,host:port...]" */
    char topics[1024];  /* "topic[,topic...]" */
};

/* Split uri->target, "BROKERS/TOPICS", and check each topic's name as
 * Kafka does (no pattern). 0, or WCS_EUSAGE with a sentence. */
int wcs_kafka_target(const struct wcs_uri *uri, struct wcs_kafka_target *t, char *err,
                     size_t errlen);

/* A new librdkafka configuration: bootstrap.servers, then `defaults`
 * (key, value pairs ending with NULL), librdkafka's log lines at debug
 * level, the opaque, and last every kafka.<property> option of uri, so the
 * user's options win over the defaults. `fixed` (key, value, why triples
 * ending with NULL) are the settings the delivery guarantees rest on: an
 * option that changes one, by any of librdkafka's names for it, is
 * refused with the why. The caller has read its other options: any left
 * unread is unknown. NULL with a sentence in err; *rc is then WCS_EUSAGE
 * for a bad or fixed property or an unknown option. */
rd_kafka_conf_t *wcs_kafka_conf(struct wcs_uri *uri, const char *brokers,
                                const char *const *defaults, const char *const *fixed, void *opaque,
                                int *rc, char *err, size_t errlen);

#endif
