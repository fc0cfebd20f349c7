/*
 * kafka_broker.c - a local Kafka-protocol broker for development and tests.
 *
 * There is no Apache Kafka package on this platform; librdkafka ships a
 * mock cluster that speaks the real Kafka protocol on loopback. This
 * program starts one with N brokers, creates the topics asked for, prints
 * the bootstrap address (the mock picks its own ports) on stdout and to a
 * file, and runs until SIGTERM or SIGINT. SIGUSR1 takes every broker down
 * (connections are dropped and refused), SIGUSR2 brings them back: the
 * tests use that for broker outages. SIGHUP makes the --vanishing topic
 * unknown to the cluster's metadata, as if it had been deleted; the --late
 * topic starts unknown, as one not created yet, and SIGURG creates it (a
 * real cluster that does not create topics on demand). SIGWINCH
 * makes every OffsetFetch request fail until the next SIGWINCH: a group
 * coordinator that cannot tell the committed offsets for a while. SIGALRM
 * does the same to ListOffsets: partition leaders that cannot tell their
 * watermarks.
 *
 *   kafka_broker [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]
 *                [--vanishing TOPIC] [--late TOPIC]
 *
 * Limits of librdkafka 2.0.2's mock: about 5 MiB retained per partition,
 * transactions accepted but not isolated, no CreateTopics admin API.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* The ApiKeys of ListOffsets and OffsetFetch in the protocol, and how
 * many of their requests "every" is. */
enum { LIST_OFFSETS = 2, OFFSET_FETCH = 9, FETCH_ERRORS = 100000 };

static volatile sig_atomic_t stop, down, up, vanish, appear, fetch_errors, list_errors;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        down = 1;
    else if (sig == SIGUSR2)
        up = 1;
    else if (sig == SIGHUP)
        vanish = 1;
    else if (sig == SIGURG)
        appear = 1;
    else if (sig == SIGWINCH)
        fetch_errors = 1;
    else if (sig == SIGALRM)
        list_errors = 1;
    else
        stop = 1;
}

/* Every request of ApiKey key fails with errs from now on, or all work
 * again: which, *failing says and flips. */
static void toggle(rd_kafka_mock_cluster_t *mc, int16_t key, const char *name,
                   const rd_kafka_resp_err_t *errs, bool *failing)
{
    *failing = !*failing;
    if (*failing)
        rd_kafka_mock_push_request_errors_array(mc, key, FETCH_ERRORS, errs);
    else
        rd_kafka_mock_clear_request_errors(mc, key);
    fprintf(stderr, "kafka_broker: %s %s\n", name, *failing ? "fails" : "works");
}

static void usage(void)
{
    fprintf(stderr, "usage: kafka_broker [--brokers N] [--topic NAME:PARTITIONS]... "
                    "[--bootstrap-file PATH] [--vanishing TOPIC] [--late TOPIC]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int brokers = 1;
    const char *bootstrap_file = NULL, *vanishing = NULL, *late = NULL;
    char errstr[512];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc)
            brokers = atoi(argv[++i]);
        else if (strcmp(argv[i], "--bootstrap-file") == 0 && i + 1 < argc)
            bootstrap_file = argv[++i];
        else if (strcmp(argv[i], "--vanishing") == 0 && i + 1 < argc)
            vanishing = argv[++i];
        else if (strcmp(argv[i], "--late") == 0 && i + 1 < argc)
            late = argv[++i];
        else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc)
            i++; /* created below, once the cluster exists */
        else
            usage();
    }
    if (brokers < 1)
        usage();

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_broker: cannot start the mock cluster\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--topic") != 0) {
            i += strcmp(argv[i], "--brokers") == 0 || strcmp(argv[i], "--bootstrap-file") == 0 ||
                 strcmp(argv[i], "--vanishing") == 0 || strcmp(argv[i], "--late") == 0;
            continue;
        }
        char name[256];
        int parts = 1;
        const char *spec = argv[++i], *colon = strrchr(spec, ':');
        size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
        if (colon)
            parts = atoi(colon + 1);
        if (len == 0 || len >= sizeof(name) || parts < 1)
            usage();
        memcpy(name, spec, len);
        name[len] = '\0';
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, parts, 1);
        if (err) {
            fprintf(stderr, "kafka_broker: topic %s: %s\n", name, rd_kafka_err2str(err));
            return 1;
        }
    }

    if (late) /* the mock creates a topic on demand: it is there, but unknown */
        rd_kafka_mock_topic_set_error(mc, late, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);

    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (bootstrap_file) {
        FILE *f = fopen(bootstrap_file, "w");
        if (!f || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) != 0) {
            perror(bootstrap_file);
            return 1;
        }
    }
    printf("%s\n", bootstraps);
    fflush(stdout);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGURG, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    static rd_kafka_resp_err_t errs[FETCH_ERRORS], list_errs[FETCH_ERRORS];
    for (size_t i = 0; i < FETCH_ERRORS; i++) {
        errs[i] = RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS;
        list_errs[i] = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
    }
    bool fetch_failing = false, list_failing = false;
    while (!stop) {
        usleep(50000);
        if (down) {
            down = 0;
            rd_kafka_mock_broker_set_down(mc, -1);
            fprintf(stderr, "kafka_broker: brokers down\n");
        }
        if (up) {
            up = 0;
            rd_kafka_mock_broker_set_up(mc, -1);
            fprintf(stderr, "kafka_broker: brokers up\n");
        }
        if (vanish && vanishing) {
            vanish = 0;
            rd_kafka_mock_topic_set_error(mc, vanishing, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
            fprintf(stderr, "kafka_broker: topic %s vanished\n", vanishing);
        }
        if (appear && late) {
            appear = 0;
            rd_kafka_mock_topic_set_error(mc, late, RD_KAFKA_RESP_ERR_NO_ERROR);
            fprintf(stderr, "kafka_broker: topic %s created\n", late);
        }
        if (fetch_errors) {
            fetch_errors = 0;
            toggle(mc, OFFSET_FETCH, "OffsetFetch", errs, &fetch_failing);
        }
        if (list_errors) {
            list_errors = 0;
            toggle(mc, LIST_OFFSETS, "ListOffsets", list_errs, &list_failing);
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
