/*
 * test_websocket.c - unit tests for the ws:// sink (sinks/websocket.c),
 * driven through its plugin interface in-process: option checks at init,
 * the recovered state served before any batch, a batch published by emit()
 * and read back over real loopback HTTP and websocket connections.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wcstream/result.h"
#include "wcstream/sink.h"
#include "wcstream/uri.h"

#include "fault_alloc.h"

static atomic_int never;

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* init() the sink for text; returns what init returned. */
static int ws_init(struct wcs_sink *sk, const char *text, char *err, size_t errlen)
{
    const struct wcs_sink_env env = {.mode = WCS_MODE_COMPLETE, .stopping = &never};
    struct wcs_uri *uri = wcs_uri_parse(text, err, errlen);
    cr_assert_not_null(uri, "%s", err);
    memset(sk, 0, sizeof(*sk));
    sk->plugin = &wcs_sink_websocket;
    sk->desc = (char *)text; /* the engine's copy, in the service */
    int r = sk->plugin->init(sk, uri, &env, err, errlen);
    if (r == 0)
        r = wcs_uri_check_unused(uri, err, errlen);
    wcs_uri_free(uri);
    return r;
}

/* A sink on a free port of host ("" for none), started on rec: the port. */
static int start_on(struct wcs_sink *sk, const char *host, const struct wcs_result *rec)
{
    static char uri[64]; /* sk->desc points here */
    char err[256];
    int port = free_port();
    snprintf(uri, sizeof(uri), "ws://%s:%d", host, port);
    cr_assert_eq(ws_init(sk, uri, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(sk->plugin->start(sk, rec, err, sizeof(err)), 0, "%s", err);
    return port;
}

/* Send req to 127.0.0.1:port and return everything read until the server
 * closes or `until` appears (malloc'd). */
static char *exchange(int port, const char *req, const char *until)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(1, cap);
    ssize_t n;
    while (len < cap - 1 && (n = read(fd, out + len, cap - 1 - len)) > 0) {
        len += (size_t)n;
        out[len] = '\0';
        if (until && memmem(out, len, until, strlen(until))) /* frames hold NUL bytes */
            break;
    }
    close(fd);
    return out;
}

static char *get(int port, const char *path)
{
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    return exchange(port, req, NULL);
}

Test(websocket, refuses_bad_options)
{
    struct wcs_sink sk;
    char err[256], uri[128];
    int port = free_port();
    const char *bad[] = {"?topN=0",      "?topN=101", "?maxClients=0", "?token=",
                         "?token=a%20b", "?nope=1",   "/dashboard",    "/ws?topN=5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(uri, sizeof(uri), "ws://127.0.0.1:%d%s", port, bad[i]);
        cr_expect_eq(ws_init(&sk, uri, err, sizeof(err)), WCS_EUSAGE, "%s", uri);
        sk.plugin->destroy(&sk);
    }
    snprintf(uri, sizeof(uri), "ws://0.0.0.0:%d", port);
    cr_expect_eq(ws_init(&sk, uri, err, sizeof(err)), WCS_EUSAGE);
    cr_expect(strstr(err, "needs a token") != NULL, "%s", err);
    sk.plugin->destroy(&sk);
    snprintf(uri, sizeof(uri), "ws://127.0.0.1:%d/", port); /* "/" alone is the server */
    cr_expect_eq(ws_init(&sk, uri, err, sizeof(err)), 0, "%s", err);
    sk.plugin->destroy(&sk);
}

Test(websocket, serves_the_recovered_state_then_each_batch)
{
    struct wcs_sink sk;
    char err[256], uri[128];
    int port = free_port();
    snprintf(uri, sizeof(uri), "ws://127.0.0.1:%d?topN=2", port);
    cr_assert_eq(ws_init(&sk, uri, err, sizeof(err)), 0, "%s", err);
    cr_expect_geq(sk.top_n, 2, "asks the engine for the top it serves");

    const struct wcs_row top[] = {{"the", 3, 9}, {"cat", 3, 4}, {"dog", 3, 1}};
    const struct wcs_result rec = {
        .batch_id = 4, .top = top, .n_top = 3, .distinct_words = 3, .total_words = 14};
    cr_assert_eq(sk.plugin->start(&sk, &rec, err, sizeof(err)), 0, "%s", err);

    char *r = get(port, "/api/top?n=2");
    cr_expect(strstr(r, "HTTP/1.") == r && strstr(r, " 200 "), "%s", r);
    cr_expect(strstr(r, "{\"batchId\":4,\"top\":[{\"word\":\"the\",\"count\":9},"
                        "{\"word\":\"cat\",\"count\":4}]}") != NULL,
              "%s", r);
    cr_expect(strstr(r, "content-security-policy:") != NULL, "%s", r);
    free(r);

    /* A websocket's first frame is the snapshot: a text frame (0x81). */
    r = exchange(port,
                 "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 "\"history\":[]}");
    cr_expect(strstr(r, "HTTP/1.1 101") == r, "%s", r);
    char *frame = strstr(r, "\r\n\r\n");
    cr_assert_not_null(frame);
    cr_expect_eq((unsigned char)frame[4], 0x81);
    unsigned char len7 = (unsigned char)frame[5] & 0x7f;
    const char *payload = frame + 6 + (len7 == 126 ? 2 : 0);
    cr_expect(strstr(payload, "{\"type\":\"snapshot\",\"batchId\":4,\"top\":[{\"word\":\"the\","
                              "\"count\":9},{\"word\":\"cat\",\"count\":4}],\"distinctWords\":3,"
                              "\"totalWords\":14,\"history\":[]}") != NULL,
              "%s", payload);
    free(r);

    const struct wcs_row top2[] = {{"cat", 3, 10}, {"the", 3, 9}};
    const struct wcs_row upd[] = {{"cat", 3, 10}};
    cJSON *progress = cJSON_Parse("{\"batchId\":5,\"numInputRows\":2,\"numInputBytes\":12,"
                                  "\"durationMs\":{\"triggerExecution\":3.5}}");
    const struct wcs_result res = {.batch_id = 5,
                                   .updated = upd,
                                   .n_updated = 1,
                                   .top = top2,
                                   .n_top = 2,
                                   .distinct_words = 3,
                                   .total_words = 20,
                                   .progress = progress};
    cr_assert_eq(sk.plugin->emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    cJSON_Delete(progress);

    r = get(port, "/api/top?n=1");
    cr_expect(strstr(r, "{\"batchId\":5,\"top\":[{\"word\":\"cat\",\"count\":10}]}"), "%s", r);
    free(r);
    r = get(port, "/api/progress");
    cr_expect(strstr(r, "\r\n\r\n[{\"batchId\":5,"), "%s", r);
    free(r);
    r = get(port, "/metrics");
    cr_expect(strstr(r, "\nwcstream_batches_total 1\n"), "%s", r);
    cr_expect(strstr(r, "\nwcstream_input_rows_total 2\n"), "%s", r);
    cr_expect(strstr(r, "\nwcstream_batch_duration_seconds_bucket{le=\"0.0025\"} 0\n"), "%s", r);
    cr_expect(strstr(r, "\nwcstream_batch_duration_seconds_bucket{le=\"0.005\"} 1\n"), "%s", r);
    cr_expect(strstr(r, "\nwcstream_state_words 20\n"), "%s", r);
    free(r);
    r = get(port, "/api/words/cat");
    cr_expect(strstr(r, " 501 "), "no state file: %s", r);
    free(r);
    r = get(port, "/index.html");
    cr_expect(strstr(r, " 200 ") && strstr(r, "<script src=\"app.js\""), "%s", r);
    free(r);
    sk.plugin->destroy(&sk);
}

Test(websocket, no_host_means_loopback)
{
    struct wcs_sink sk;
    const struct wcs_result rec = {.batch_id = -1};
    int port = start_on(&sk, "", &rec);
    char *r = get(port, "/healthz");
    cr_expect(strstr(r, " 200 ") && strstr(r, "\r\n\r\nok\n"), "%s", r);
    free(r);
    sk.plugin->destroy(&sk);
}

/* Every answer carries the security headers: ours, a refused websocket,
 * and libwebsockets' own 403 for a bad escape in the path. */
Test(websocket, every_answer_carries_the_security_headers)
{
    struct wcs_sink sk;
    const struct wcs_result rec = {.batch_id = -1};
    int port = start_on(&sk, "127.0.0.1", &rec);
    const char *headers[] = {
        "\r\ncontent-security-policy: default-src 'none';",
        "\r\nx-content-type-options: nosniff\r\n", "\r\nx-frame-options: DENY\r\n",
        "\r\nreferrer-policy: no-referrer\r\n", "\r\ncache-control: no-store\r\n"};
    char *answers[] = {
        get(port, "/healthz"),
        get(port, "/api/words?word=%ZZ"),
        exchange(port,
                 "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 "}\n"),
    };
    const char *status[] = {" 200 ", " 403 ", " 404 "};
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        cr_expect(strstr(answers[i], status[i]) != NULL, "%s", answers[i]);
        for (size_t h = 0; h < sizeof(headers) / sizeof(headers[0]); h++)
            cr_expect(strstr(answers[i], headers[h]) != NULL, "no %s in %s", headers[h],
                      answers[i]);
        free(answers[i]);
    }
    sk.plugin->destroy(&sk);
}

/* /api/top cuts a long word as the websocket's messages do, so a client
 * that never reads pins a bounded answer. */
Test(websocket, api_top_cuts_long_words)
{
    struct wcs_sink sk;
    char word[1000];
    memset(word, 'x', sizeof(word));
    const struct wcs_row top[] = {{word, sizeof(word), 5}};
    const struct wcs_result rec = {.batch_id = 0, .top = top, .n_top = 1, .total_words = 5};
    int port = start_on(&sk, "127.0.0.1", &rec);
    char *r = get(port, "/api/top");
    char want[300];
    snprintf(want, sizeof(want), "[{\"word\":\"%.200s\",\"count\":5,\"cut\":true}]", word);
    cr_expect(strstr(r, want) != NULL, "%s", r);
    free(r);
    sk.plugin->destroy(&sk);
}

/* /metrics is UTF-8 whatever the sources are called: a file's name that is
 * not UTF-8 shows as U+FFFD in the source label, as in the progress records
 * (Prometheus refuses a whole scrape over one invalid label value). */
Test(websocket, metrics_labels_are_utf8)
{
    struct wcs_sink sk;
    char err[256];
    const struct wcs_result rec = {.batch_id = -1};
    int port = start_on(&sk, "127.0.0.1", &rec);
    cJSON *progress = cJSON_CreateObject(), *src = cJSON_CreateObject();
    cJSON_AddNumberToObject(progress, "numInputRows", 1);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(progress, "sources"), src);
    cJSON_AddStringToObject(src, "description", "file:///data/caf\xe9 \xc3\xa9\"\\");
    cJSON_AddNumberToObject(src, "numInputRows", 1);
    const struct wcs_result res = {.batch_id = 0, .progress = progress};
    cr_assert_eq(sk.plugin->emit(&sk, &res, err, sizeof(err)), 0, "%s", err);
    cJSON_Delete(progress);
    char *r = get(port, "/metrics");
    cr_expect(strstr(r, "\nwcstream_source_input_rows_total{source=\"file:///data/caf\xef\xbf\xbd "
                        "\xc3\xa9\\\"\\\\\"} 1\n") != NULL,
              "%s", r);
    cr_expect(strstr(r, "caf\xe9") == NULL, "a byte that is not UTF-8 in /metrics");
    free(r);
    sk.plugin->destroy(&sk);
}

/* Each allocation start() makes may fail: no crash, no double free when
 * the engine then destroys the sink (ASan), an error that says why. */
Test(websocket, start_survives_each_failed_allocation)
{
    const struct wcs_row top[] = {{"the", 3, 9}, {"cat", 3, 4}};
    const struct wcs_result rec = {.batch_id = 1, .top = top, .n_top = 2, .total_words = 13};
    bool failed = true;
    for (long n = 1; failed; n++) {
        struct wcs_sink sk;
        char err[256] = "", uri[64];
        snprintf(uri, sizeof(uri), "ws://127.0.0.1:%d", free_port());
        cr_assert_eq(ws_init(&sk, uri, err, sizeof(err)), 0, "%s", err);
        fault_alloc_arm(n);
        int r = sk.plugin->start(&sk, &rec, err, sizeof(err));
        failed = fault_alloc_failed();
        fault_alloc_disarm();
        cr_expect(r == 0 || err[0], "allocation %ld: a failure without a reason", n);
        cr_expect(failed || r == 0, "allocation %ld: %s", n, err);
        sk.plugin->destroy(&sk);
    }
}
