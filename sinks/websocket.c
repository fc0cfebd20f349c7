/*
 * websocket.c - the ws:// sink: the live dashboard, its websocket feed, the
 * HTTP API and /metrics, all from one libwebsockets server.
 *
 * Two threads share one `struct board` under a mutex. The engine thread
 * calls emit() after each committed batch: it builds the batch's update
 * message outside the lock, swaps it in with the new top rows, totals,
 * progress record and counters, and wakes the server with
 * lws_cancel_service(). The server thread runs lws_service(): it asks every
 * websocket to become writable and, when the socket can take it, sends the
 * latest message. Messages are immutable and reference-counted, so all
 * clients share one copy; a client that has not drained when the next batch
 * comes simply skips to the newest (counted as dropped). No client ever
 * holds more than one message and the engine never waits for any of them.
 *
 * Word lookups go to SQLite through a read-only connection of the server
 * thread's own (wcs_state_reader): the WAL lets it read while the engine
 * commits.
 */
#include "wcstream/sink.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "wcstream/buf.h"
#include "wcstream/http.h"
#include "wcstream/log.h"
#include "wcstream/state.h"
#include "wcstream/text.h"
#include "wcstream/tokenize.h"
#include "wcstream/topk.h"

#define WS_SUBPROTOCOL "wcstream.v1"
#define TOP_HELD       1000 /* rows kept for /api/top */
#define HISTORY_MAX    120  /* progress records kept for snapshots and /api/progress */
#define WORD_CHARS_MAX 200  /* longer words are cut in messages */
#define HEADER_ROOM    2048 /* bytes for a response's headers */
/* Bytes lws keeps of a request's headers, all of them: a browser's, with
 * a Cookie header of 4 KiB (other local apps' cookies come along). */
#define REQUEST_ROOM 8192
#define STATIC_MAX   ((off_t)8 << 20)
#define COOKIE_NAME  WCS_HTTP_COOKIE

/* The dashboard, built into the binary by sinks/dashboard/assets.S. */
#define ASSET_DECL(sym) extern const char sym[], sym##_end[] /* NOLINT: a declarator */
ASSET_DECL(wcs_asset_index_html);
ASSET_DECL(wcs_asset_app_js);
ASSET_DECL(wcs_asset_style_css);
ASSET_DECL(wcs_asset_favicon_svg);

struct asset {
    const char *path;
    const char *data, *end;
};

static const struct asset assets[] = {
    {"/index.html", wcs_asset_index_html, wcs_asset_index_html_end},
    {"/app.js", wcs_asset_app_js, wcs_asset_app_js_end},
    {"/style.css", wcs_asset_style_css, wcs_asset_style_css_end},
    {"/favicon.svg", wcs_asset_favicon_svg, wcs_asset_favicon_svg_end},
};

/* Batch durations, seconds: the buckets of the /metrics histogram. */
static const double duration_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKETS (sizeof(duration_buckets) / sizeof(duration_buckets[0]))

/* One message, shared by every client that sends it. */
struct msg {
    atomic_int refs;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of room, then len bytes of JSON */
};

struct source_stats {
    char *desc;
    uint64_t rows, bytes;
    double lag; /* largest partition lag, offsets; < 0 when not reported */
    /* as the source last reported them (totals since start, clients open
     * now); < 0 when it does not (only listen:// has clients) */
    double lines_cut, clients, accepted, refused;
};

/* What the engine publishes; everything here is guarded by mu. */
struct board {
    pthread_mutex_t mu;
    uint64_t seq;          /* batches published since start */
    struct msg *update;    /* the latest batch's update, NULL before one */
    struct msg *snapshot;  /* built on demand for snapshot_seq */
    uint64_t snapshot_seq; /* seq + 1 of the cached snapshot; 0: none */
    int64_t batch_id, distinct, total;
    struct wcs_row *top; /* TOP_HELD at most; words in top_words */
    char *top_words;
    size_t ntop;
    char *history[HISTORY_MAX]; /* progress JSON, a ring */
    size_t hist_first, hist_n;
    /* counters for /metrics */
    uint64_t batches, input_rows, input_bytes, capped;
    /* websockets that got their snapshot, and those of them that have the
     * latest update: the others hold one they have not taken yet, which the
     * next batch replaces (dropped) */
    unsigned greeted, current;
    uint64_t dropped;
    uint64_t buckets[NBUCKETS];
    double duration_sum;
    struct source_stats *sources;
    size_t nsources;
};

struct ws_sink {
    struct lws_context *ctx;
    pthread_t thread;
    bool running;
    atomic_bool quit;
    struct board b;
    /* settings */
    char *token; /* NULL: none needed */
    char host[256];
    uint16_t port;
    size_t top_n, max_updated;
    unsigned max_clients;
    char *dashboard_dir; /* realpath, or NULL */
    char *state_path;
    /* owned by the server thread */
    struct wcs_state_reader *reader;
    struct wcs_tokenizer *tk; /* the query's, for lookups; with reader */
    unsigned clients;
    uint64_t refused, unauthorized;
};

/* Per connection (lws zeroes it). */
struct session {
    bool is_ws;
    uint64_t sent_seq; /* the last batch this websocket has (0: snapshot not sent) */
};

static struct msg *msg_new(const struct wcs_buf *json)
{
    struct msg *m = malloc(sizeof(*m) + LWS_PRE + json->len);
    if (!m)
        return NULL;
    atomic_init(&m->refs, 1);
    m->len = json->len;
    memcpy(m->data + LWS_PRE, json->data, json->len);
    return m;
}

static struct msg *msg_ref(struct msg *m)
{
    if (m)
        atomic_fetch_add(&m->refs, 1);
    return m;
}

static void msg_unref(struct msg *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

/* ---- what the engine publishes (engine thread) ---- */

/* The update message of one batch. 0 or -ENOMEM. */
static int build_update(struct ws_sink *ws, const struct wcs_result *res, const char *progress,
                        struct wcs_buf *out, bool *capped)
{
    const struct wcs_row *rows = res->updated;
    size_t n = res->n_updated;
    struct wcs_row *best = NULL;
    int rc = -ENOMEM;

    *capped = n > ws->max_updated;
    if (*capped) {
        if (!(best = malloc(ws->max_updated * sizeof(*best))))
            return -ENOMEM;
        n = wcs_rows_best(rows, n, ws->max_updated, best);
        rows = best;
    }
    out->len = 0;
    if (wcs_buf_printf(
            out, "{\"type\":\"update\",\"batchId\":%" PRId64 ",\"updated\":", res->batch_id) == 0 &&
        wcs_json_rows(out, rows, n, WORD_CHARS_MAX) == 0 &&
        wcs_buf_printf(out, ",\"updatedRows\":%zu,\"updatedCapped\":%s,\"top\":", res->n_updated,
                       *capped ? "true" : "false") == 0 &&
        wcs_json_rows(out, res->top, res->n_top < ws->top_n ? res->n_top : ws->top_n,
                      WORD_CHARS_MAX) == 0 &&
        wcs_buf_printf(out,
                       ",\"distinctWords\":%" PRId64 ",\"totalWords\":%" PRId64 ",\"progress\":%s}",
                       res->distinct_words, res->total_words, progress ? progress : "null") == 0)
        rc = 0;
    free(best);
    return rc;
}

/* Copy the top rows (words and all) into one new block each. */
static int copy_top(const struct wcs_result *res, struct wcs_row **rows, char **words, size_t *n)
{
    size_t k = res->n_top, bytes = 1;

    if (k > TOP_HELD)
        k = TOP_HELD;
    for (size_t i = 0; i < k; i++)
        bytes += res->top[i].len;
    *rows = malloc((k ? k : 1) * sizeof(**rows));
    *words = malloc(bytes);
    if (!*rows || !*words) {
        free(*rows);
        free(*words);
        *rows = NULL; /* the caller's pointers may be the board's */
        *words = NULL;
        return -ENOMEM;
    }
    char *p = *words;
    for (size_t i = 0; i < k; i++) {
        memcpy(p, res->top[i].word, res->top[i].len);
        (*rows)[i] =
            (struct wcs_row){.word = p, .len = res->top[i].len, .count = res->top[i].count};
        p += res->top[i].len;
    }
    *n = k;
    return 0;
}

/* Add a progress record to the ring (takes ownership of json). */
static void history_push(struct board *b, char *json)
{
    if (b->hist_n == HISTORY_MAX) {
        free(b->history[b->hist_first]);
        b->history[b->hist_first] = json;
        b->hist_first = (b->hist_first + 1) % HISTORY_MAX;
    } else {
        b->history[(b->hist_first + b->hist_n++) % HISTORY_MAX] = json;
    }
}

static double json_number(const cJSON *obj, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Fold one progress record into the /metrics counters. */
static void count_progress(struct board *b, const cJSON *p)
{
    double secs =
        json_number(cJSON_GetObjectItemCaseSensitive(p, "durationMs"), "triggerExecution", 0) /
        1000;
    const cJSON *srcs = cJSON_GetObjectItemCaseSensitive(p, "sources"), *s;

    b->batches++;
    b->input_rows += (uint64_t)json_number(p, "numInputRows", 0);
    b->input_bytes += (uint64_t)json_number(p, "numInputBytes", 0);
    b->duration_sum += secs;
    for (size_t i = 0; i < NBUCKETS; i++)
        if (secs <= duration_buckets[i])
            b->buckets[i]++;
    size_t i = 0;
    cJSON_ArrayForEach(s, srcs)
    {
        if (i == b->nsources) {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(s, "description");
            struct source_stats *v = realloc(b->sources, (i + 1) * sizeof(*v));
            char *desc = strdup(cJSON_IsString(d) ? d->valuestring : "?");
            if (v)
                b->sources = v;
            if (!v || !desc) {
                free(desc);
                return;
            }
            b->sources[b->nsources++] = (struct source_stats){.desc = desc,
                                                              .lag = -1,
                                                              .lines_cut = -1,
                                                              .clients = -1,
                                                              .accepted = -1,
                                                              .refused = -1};
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "metrics");
        b->sources[i].rows += (uint64_t)json_number(s, "numInputRows", 0);
        b->sources[i].bytes += (uint64_t)json_number(m, "numInputBytes", 0);
        b->sources[i].lag = json_number(m, "maxOffsetsBehindLatest", -1);
        struct source_stats *st = &b->sources[i];
        st->lines_cut = json_number(m, "linesCut", st->lines_cut);
        st->clients = json_number(m, "clientsOpen", st->clients);
        st->accepted = json_number(m, "clientsAccepted", st->accepted);
        st->refused = json_number(m, "clientsRefused", st->refused);
        i++;
    }
}

static int ws_emit(struct wcs_sink *sk, const struct wcs_result *res, char *err, size_t errlen)
{
    struct ws_sink *ws = sk->ctx;
    struct board *b = &ws->b;
    struct wcs_buf json = {0};
    struct wcs_row *top = NULL;
    char *top_words = NULL, *progress = NULL;
    struct msg *m = NULL;
    size_t ntop = 0;
    bool capped = false;

    if (res->progress && !(progress = wcs_json_print(res->progress)))
        goto oom;
    if (build_update(ws, res, progress, &json, &capped) < 0 || !(m = msg_new(&json)) ||
        copy_top(res, &top, &top_words, &ntop) < 0)
        goto oom;
    wcs_buf_free(&json);

    pthread_mutex_lock(&b->mu);
    struct msg *old = b->update;
    struct wcs_row *old_top = b->top;
    char *old_words = b->top_words;
    b->update = m;
    b->top = top;
    b->top_words = top_words;
    b->ntop = ntop;
    b->batch_id = res->batch_id;
    b->distinct = res->distinct_words;
    b->total = res->total_words;
    b->seq++;
    b->capped += capped;
    b->dropped += b->greeted - b->current;
    b->current = 0;
    if (res->progress)
        count_progress(b, res->progress);
    if (progress)
        history_push(b, progress);
    pthread_mutex_unlock(&b->mu);

    msg_unref(old);
    free(old_top);
    free(old_words);
    lws_cancel_service(ws->ctx);
    return 0;
oom:
    wcs_buf_free(&json);
    msg_unref(m);
    free(progress);
    wcs_err(err, errlen, "out of memory building the update of batch %" PRId64, res->batch_id);
    return -1;
}

/* ---- what the server sends (server thread) ---- */

/* The snapshot message for the board as it is; called with mu held. */
static struct msg *snapshot_locked(struct ws_sink *ws)
{
    struct board *b = &ws->b;
    struct wcs_buf json = {0};
    bool ok;

    if (b->snapshot && b->snapshot_seq == b->seq + 1)
        return msg_ref(b->snapshot);
    ok = wcs_buf_printf(
             &json, "{\"type\":\"snapshot\",\"batchId\":%" PRId64 ",\"top\":", b->batch_id) == 0 &&
         wcs_json_rows(&json, b->top, b->ntop < ws->top_n ? b->ntop : ws->top_n, WORD_CHARS_MAX) ==
             0 &&
         wcs_buf_printf(&json,
                        ",\"distinctWords\":%" PRId64 ",\"totalWords\":%" PRId64 ",\"history\":[",
                        b->distinct, b->total) == 0;
    for (size_t i = 0; ok && i < b->hist_n; i++)
        ok = wcs_buf_printf(&json, "%s%s", i ? "," : "",
                            b->history[(b->hist_first + i) % HISTORY_MAX]) == 0;
    ok = ok && wcs_buf_printf(&json, "]}") == 0;
    struct msg *m = ok ? msg_new(&json) : NULL;
    wcs_buf_free(&json);
    if (m) {
        msg_unref(b->snapshot);
        b->snapshot = msg_ref(m);
        b->snapshot_seq = b->seq + 1;
    }
    return m;
}

/* The next message for a websocket, NULL when it is up to date. */
static struct msg *next_message(struct ws_sink *ws, struct session *ss)
{
    struct board *b = &ws->b;
    struct msg *m = NULL;

    pthread_mutex_lock(&b->mu);
    if (ss->sent_seq == 0) {
        m = snapshot_locked(ws);
        if (m) {
            b->greeted++;
            b->current++;
            ss->sent_seq = b->seq + 1;
        }
    } else if (ss->sent_seq < b->seq + 1) {
        m = msg_ref(b->update);
        b->current++;
        ss->sent_seq = b->seq + 1;
    }
    pthread_mutex_unlock(&b->mu);
    return m;
}

/* A websocket closes: it no longer counts as greeted or current. */
static void forget_session(struct ws_sink *ws, const struct session *ss)
{
    struct board *b = &ws->b;

    pthread_mutex_lock(&b->mu);
    if (ss->sent_seq) {
        b->greeted--;
        b->current -= ss->sent_seq == b->seq + 1;
    }
    pthread_mutex_unlock(&b->mu);
}

/* ---- HTTP ---- */

/* A header's value as a string: "" when absent, NULL when longer than the
 * buffer (a check must refuse it, not take it for absent). */
static const char *header(struct lws *wsi, enum lws_token_indexes h, char *buf, int len)
{
    if (lws_hdr_total_length(wsi, h) >= len)
        return NULL;
    if (lws_hdr_copy(wsi, buf, len, h) < 0)
        buf[0] = '\0';
    return buf;
}

/* Copy what the checks of http.h look at out of lws; path is the caller's.
 * The buffers must outlive rq. The cookie header is every cookie of the
 * host, other local apps' too: it may take all of a header's room. */
struct request_text {
    char host[256], origin[256], authorization[512], cookie[REQUEST_ROOM + 1],
        token_arg[REQUEST_ROOM + 1];
};

/* The value of the first query argument called name ("n=", "token="),
 * decoded by lws, in buf of REQUEST_ROOM + 1 bytes (room for any argument
 * a request can hold); NULL when absent. lws_get_urlarg_by_name() would
 * stop at the first argument too long for a smaller buffer, and so
 * miss the ones after it. */
static const char *query_arg(struct lws *wsi, const char *name, char *buf)
{
    size_t len = strlen(name);

    for (int i = 0;
         lws_hdr_copy_fragment(wsi, buf, REQUEST_ROOM + 1, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0; i++)
        if (strncmp(buf, name, len) == 0)
            return buf + len;
    return NULL;
}

static void read_request(struct lws *wsi, struct request_text *t, struct wcs_http_request *rq)
{
    rq->host = header(wsi, WSI_TOKEN_HOST, t->host, sizeof(t->host));
    rq->origin = header(wsi, WSI_TOKEN_ORIGIN, t->origin, sizeof(t->origin));
    rq->authorization =
        header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, t->authorization, sizeof(t->authorization));
    rq->cookie = header(wsi, WSI_TOKEN_HTTP_COOKIE, t->cookie, sizeof(t->cookie));
    rq->token_arg = query_arg(wsi, "token=", t->token_arg);
    /* lws decodes '+' in a query to ' ', and a token has no spaces. */
    for (char *c = t->token_arg; rq->token_arg && *c; c++)
        if (*c == ' ')
            *c = '+';
}

/* Headers of every HTTP answer, libwebsockets' own (a 403 for a bad
 * escape in the path) as ours: lws adds them after the status line. */
static const struct lws_protocol_vhost_options security[] = {
    {&security[1], NULL, "content-security-policy:",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
    {&security[2], NULL, "x-content-type-options:", "nosniff"},
    {&security[3], NULL, "x-frame-options:", "DENY"},
    {&security[4], NULL, "referrer-policy:", "no-referrer"},
    {NULL, NULL, "cache-control:", "no-store"},
};

/* Send status, headers and body as one write, then end the transaction.
 * Returns what the lws callback must return. */
static int respond(struct ws_sink *ws, struct lws *wsi, unsigned status, const char *type,
                   const struct wcs_buf *body, bool set_cookie)
{
    size_t blen = body ? body->len : 0;
    unsigned char *buf = malloc(LWS_PRE + HEADER_ROOM + blen);
    unsigned char *start, *p, *end;
    char cookie[600];

    if (!buf)
        return -1;
    start = p = buf + LWS_PRE;
    end = start + HEADER_ROOM;
    if (lws_add_http_common_headers(wsi, status, type, blen, &p, end)) /* and security[] */
        goto fail;
    if (status == 401 &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                    (const unsigned char *)"Bearer", 6, &p, end))
        goto fail;
    if (status == 405 && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
                                                     (const unsigned char *)"GET", 3, &p, end))
        goto fail;
    if (set_cookie) {
        int n = snprintf(cookie, sizeof(cookie),
                         COOKIE_NAME "=%s; Path=/; HttpOnly; SameSite=Strict", ws->token);
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
                                        (const unsigned char *)cookie, n, &p, end))
            goto fail;
    }
    if (lws_finalize_http_header(wsi, &p, end))
        goto fail;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
        blen = 0; /* HEAD: the headers a GET would get, no body */
    if (blen)
        memcpy(p, body->data, blen);
    int n = lws_write(wsi, start, (size_t)(p - start) + blen, LWS_WRITE_HTTP_FINAL);
    free(buf);
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
fail:
    free(buf);
    return -1;
}

/* A JSON error body {"error":"..."} with that status. */
static int respond_error(struct ws_sink *ws, struct lws *wsi, unsigned status, const char *msg)
{
    struct wcs_buf body = {0};
    int r = -1;

    if (wcs_buf_printf(&body, "{\"error\":") == 0 &&
        wcs_json_string(&body, msg, strlen(msg)) == 0 && wcs_buf_printf(&body, "}\n") == 0)
        r = respond(ws, wsi, status, "application/json", &body, false);
    wcs_buf_free(&body);
    return r;
}

/* ?n=N: 1..max, dflt when absent; 0 when malformed. */
static size_t arg_count(struct lws *wsi, size_t dflt, size_t max)
{
    char buf[REQUEST_ROOM + 1];

    return wcs_http_count_arg(query_arg(wsi, "n=", buf), dflt, max);
}

static int api_top(struct ws_sink *ws, struct lws *wsi, struct wcs_buf *body)
{
    struct board *b = &ws->b;
    size_t n = arg_count(wsi, ws->top_n, TOP_HELD);
    int rc;

    if (!n)
        return respond_error(ws, wsi, 400,
                             "n must be a whole number from 1 (at most 1000 words are given)");
    pthread_mutex_lock(&b->mu);
    rc = wcs_buf_printf(body, "{\"batchId\":%" PRId64 ",\"top\":", b->batch_id);
    if (rc == 0)
        rc = wcs_json_rows(body, b->top, n < b->ntop ? n : b->ntop, WORD_CHARS_MAX);
    pthread_mutex_unlock(&b->mu);
    if (rc < 0 || wcs_buf_printf(body, "}\n") < 0)
        return respond_error(ws, wsi, 500, "out of memory");
    return respond(ws, wsi, 200, "application/json", body, false);
}

static int api_progress(struct ws_sink *ws, struct lws *wsi, struct wcs_buf *body)
{
    struct board *b = &ws->b;
    size_t n = arg_count(wsi, HISTORY_MAX, HISTORY_MAX);
    int rc;

    if (!n)
        return respond_error(ws, wsi, 400,
                             "n must be a whole number from 1 (at most 120 batches are given)");
    pthread_mutex_lock(&b->mu);
    size_t skip = b->hist_n > n ? b->hist_n - n : 0;
    rc = wcs_buf_printf(body, "[");
    for (size_t i = skip; rc == 0 && i < b->hist_n; i++)
        rc = wcs_buf_printf(body, "%s%s", i > skip ? "," : "",
                            b->history[(b->hist_first + i) % HISTORY_MAX]);
    pthread_mutex_unlock(&b->mu);
    if (rc < 0 || wcs_buf_printf(body, "]\n") < 0)
        return respond_error(ws, wsi, 500, "out of memory");
    return respond(ws, wsi, 200, "application/json", body, false);
}

/* /api/words/WORD, or /api/words?word=WORD (word NULL): lws cleans a path
 * up (// and /./ collapse, .. climbs) but leaves a query's value whole,
 * so a word such as a URL can be looked up that way. The word is
 * normalised as the query's tokenizer normalises the words it counts
 * ("The" is "the" with --lowercase), and the answer names it so. */
static int api_word(struct ws_sink *ws, struct lws *wsi, const char *word, struct wcs_buf *body)
{
    char arg[REQUEST_ROOM + 1];
    struct wcs_arena arena = {0};
    int64_t count = 0;
    size_t len;
    int r;

    if (!ws->reader) /* opened by start() whenever there is a state file */
        return respond_error(
            ws, wsi, 501, "word lookups need a state file; this query keeps its state in memory");
    if (!word && !(word = query_arg(wsi, "word=", arg)))
        return respond_error(ws, wsi, 400, "which word? /api/words?word=WORD");
    len = strlen(word);
    if ((word = wcs_tokenizer_normalise(ws->tk, word, &len, &arena)) &&
        (count = wcs_state_reader_count(ws->reader, word, len)) < 0)
        r = respond_error(ws, wsi, 503, "the state could not be read; try again");
    else if (!word || wcs_buf_printf(body, "{\"word\":") < 0 ||
             wcs_json_string(body, word, len) < 0 ||
             wcs_buf_printf(body, ",\"count\":%" PRId64 "}\n", count) < 0)
        r = respond_error(ws, wsi, 500, "out of memory");
    else
        r = respond(ws, wsi, 200, "application/json", body, false);
    wcs_arena_free(&arena);
    return r;
}

/* Prometheus label value: backslash, quote and newline escaped, and each
 * byte that is not UTF-8 (a file's name, a source as given) made U+FFFD:
 * Prometheus refuses a whole scrape over one label that is not UTF-8. */
static int put_label(struct wcs_buf *out, const char *s)
{
    size_t len = strlen(s);

    for (size_t i = 0, n; i < len; i += n) {
        const char *e = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\"" : s[i] == '\n' ? "\\n" : NULL;
        n = wcs_utf8_prefix(s + i, len - i, 1);
        if (!e && n == 1 && (unsigned char)s[i] >= 0x80)
            e = "\xEF\xBF\xBD"; /* an undecodable byte is a character of its own */
        if (wcs_buf_append(out, e ? e : s + i, e ? strlen(e) : n) < 0)
            return -ENOMEM;
    }
    return 0;
}

/* One metric with no labels. 0 or -ENOMEM. */
static int scalar(struct wcs_buf *out, const char *name, const char *type, const char *help,
                  int64_t v)
{
    return wcs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" PRId64 "\n", name, help, name,
                          type, name, v);
}

enum source_field {
    SOURCE_ROWS,
    SOURCE_BYTES,
    SOURCE_LAG,
    SOURCE_LINES_CUT,
    SOURCE_CLIENTS,
    SOURCE_ACCEPTED,
    SOURCE_REFUSED
};

static double source_value(const struct source_stats *s, enum source_field f)
{
    switch (f) {
    case SOURCE_ROWS:
        return (double)s->rows;
    case SOURCE_BYTES:
        return (double)s->bytes;
    case SOURCE_LAG:
        return s->lag;
    case SOURCE_LINES_CUT:
        return s->lines_cut;
    case SOURCE_CLIENTS:
        return s->clients;
    case SOURCE_ACCEPTED:
        return s->accepted;
    case SOURCE_REFUSED:
        return s->refused;
    }
    return -1;
}

/* One metric per source, labelled with its URI; sources that do not
 * report a value (a lag, clients) have no sample. 0 or -ENOMEM. */
static int per_source(struct wcs_buf *out, const struct board *b, const char *name,
                      const char *type, const char *help, enum source_field f)
{
    int rc = wcs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);

    for (size_t i = 0; rc == 0 && i < b->nsources; i++) {
        const struct source_stats *s = &b->sources[i];
        double v = source_value(s, f);
        if (v < 0)
            continue;
        rc = wcs_buf_printf(out, "%s{source=\"", name);
        rc = rc ? rc : put_label(out, s->desc);
        rc = rc ? rc : wcs_buf_printf(out, "\"} %.0f\n", v);
    }
    return rc;
}

static int metrics_text(struct ws_sink *ws, struct wcs_buf *out)
{
    struct board *b = &ws->b;
    int rc = 0;

    pthread_mutex_lock(&b->mu);
    rc |= scalar(out, "wcstream_batches_total", "counter", "Micro-batches emitted.",
                 (int64_t)b->batches);
    rc |= scalar(out, "wcstream_input_rows_total", "counter", "Lines read by all sources.",
                 (int64_t)b->input_rows);
    rc |= scalar(out, "wcstream_input_bytes_total", "counter",
                 "Bytes of the lines read by all sources, each with one line end.",
                 (int64_t)b->input_bytes);
    rc |= wcs_buf_printf(out, "# HELP wcstream_batch_duration_seconds Time from trigger to "
                              "acknowledged batch.\n"
                              "# TYPE wcstream_batch_duration_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++)
        rc |= wcs_buf_printf(out, "wcstream_batch_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                             duration_buckets[i], b->buckets[i]);
    rc |= wcs_buf_printf(out,
                         "wcstream_batch_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
                         "wcstream_batch_duration_seconds_sum %.6f\n"
                         "wcstream_batch_duration_seconds_count %" PRIu64 "\n",
                         b->batches, b->duration_sum, b->batches);
    rc |= scalar(out, "wcstream_last_batch_id", "gauge", "Id of the last committed batch.",
                 b->batch_id);
    rc |= scalar(out, "wcstream_state_rows", "gauge", "Distinct words in the state.", b->distinct);
    rc |= scalar(out, "wcstream_state_words", "gauge", "Sum of all counts in the state.", b->total);
    rc |= per_source(out, b, "wcstream_source_input_rows_total", "counter",
                     "Lines read, per source.", SOURCE_ROWS);
    rc |= per_source(out, b, "wcstream_source_input_bytes_total", "counter",
                     "Bytes of the lines read, per source.", SOURCE_BYTES);
    rc |= per_source(out, b, "wcstream_source_lag_offsets", "gauge",
                     "Largest partition lag behind the latest offset, per source that reports it.",
                     SOURCE_LAG);
    rc |= per_source(out, b, "wcstream_source_lines_cut_total", "counter",
                     "Lines cut at --max-line-bytes (or a listen:// clientBuffer), per source.",
                     SOURCE_LINES_CUT);
    rc |= per_source(out, b, "wcstream_source_clients", "gauge",
                     "Clients connected to a listen:// source, as of the last batch.",
                     SOURCE_CLIENTS);
    rc |= per_source(out, b, "wcstream_source_clients_accepted_total", "counter",
                     "Clients a listen:// source accepted, as of the last batch.", SOURCE_ACCEPTED);
    rc |= per_source(out, b, "wcstream_source_clients_refused_total", "counter",
                     "Clients a listen:// source closed at once (maxClients, no file descriptor), "
                     "as of the last batch.",
                     SOURCE_REFUSED);
    rc |= scalar(out, "wcstream_ws_updates_capped_total", "counter",
                 "Update messages whose updated rows were capped.", (int64_t)b->capped);
    rc |= scalar(out, "wcstream_ws_messages_dropped_total", "counter",
                 "Updates replaced by a newer one before a slow client took them.",
                 (int64_t)b->dropped);
    rc |= scalar(out, "wcstream_ws_clients_behind", "gauge",
                 "Websocket clients that have not taken the latest update yet.",
                 b->greeted - b->current);
    pthread_mutex_unlock(&b->mu);
    rc |= scalar(out, "wcstream_ws_clients", "gauge", "Connected websocket clients.", ws->clients);
    rc |= scalar(out, "wcstream_ws_clients_refused_total", "counter",
                 "Websocket upgrades refused: client limit, Origin, path or subprotocol.",
                 (int64_t)ws->refused);
    rc |= scalar(out, "wcstream_http_unauthorized_total", "counter",
                 "Requests refused for a missing or wrong token.", (int64_t)ws->unauthorized);
    return rc ? -ENOMEM : 0;
}

/* A dashboard file from --dashboard-dir: the name must stay inside it. */
static int serve_dir(struct ws_sink *ws, struct lws *wsi, const char *path, bool set_cookie,
                     struct wcs_buf *body)
{
    char real[PATH_MAX];
    struct stat sb;
    int fd;

    if (wcs_http_dir_file(ws->dashboard_dir, path, real, sizeof(real)) < 0)
        return respond_error(ws, wsi, 404, "no such file");
    /* O_NONBLOCK: a FIFO must not block the server thread in open(). */
    if ((fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0 || fstat(fd, &sb) < 0 ||
        !S_ISREG(sb.st_mode) || sb.st_size > STATIC_MAX ||
        wcs_buf_reserve(body, (size_t)sb.st_size) < 0) {
        if (fd >= 0)
            close(fd);
        return respond_error(ws, wsi, 404, "no such file");
    }
    ssize_t n = read(fd, body->data, (size_t)sb.st_size);
    close(fd);
    if (n != sb.st_size)
        return respond_error(ws, wsi, 500, "cannot read the file");
    body->len = (size_t)n;
    return respond(ws, wsi, 200, wcs_http_content_type(real), body, set_cookie);
}

/* Every path the server knows, for one GET. */
static int route(struct ws_sink *ws, struct lws *wsi, const char *path, bool set_cookie,
                 struct wcs_buf *body)
{
    const char *arg;

    switch (wcs_http_route(path, &arg)) {
    case WCS_HTTP_HEALTHZ:
        if (wcs_buf_printf(body, "ok\n") < 0)
            return -1;
        return respond(ws, wsi, 200, "text/plain; charset=utf-8", body, false);
    case WCS_HTTP_METRICS:
        if (metrics_text(ws, body) < 0)
            return respond_error(ws, wsi, 500, "out of memory");
        return respond(ws, wsi, 200, "text/plain; version=0.0.4; charset=utf-8", body, false);
    case WCS_HTTP_API_TOP:
        return api_top(ws, wsi, body);
    case WCS_HTTP_API_PROGRESS:
        return api_progress(ws, wsi, body);
    case WCS_HTTP_API_WORD:
        return api_word(ws, wsi, arg, body);
    case WCS_HTTP_NO_ENDPOINT:
        return respond_error(ws, wsi, 404, "no such endpoint");
    case WCS_HTTP_FILE:
        break;
    }
    if (ws->dashboard_dir)
        return serve_dir(ws, wsi, arg, set_cookie, body);
    for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++) {
        if (strcmp(arg, assets[i].path) == 0) {
            if (wcs_buf_append(body, assets[i].data, (size_t)(assets[i].end - assets[i].data)) < 0)
                return -1;
            return respond(ws, wsi, 200, wcs_http_content_type(arg), body, set_cookie);
        }
    }
    return respond_error(ws, wsi, 404, "no such file");
}

static int on_http(struct ws_sink *ws, struct lws *wsi, const char *path)
{
    const struct wcs_http_policy pol = {.host = ws->host, .token = ws->token};
    struct wcs_http_request rq = {.path = path};
    struct request_text text;
    enum wcs_http_auth auth;
    struct wcs_buf body = {0};
    int r;

    read_request(wsi, &text, &rq);
    switch (wcs_http_check_get(&pol, &rq, &auth)) {
    case 0:
        break;
    case 403:
        return respond_error(ws, wsi, 403, "this server answers to loopback names only");
    default:
        ws->unauthorized++;
        return respond_error(ws, wsi, 401,
                             "this server needs its token: ?token=, "
                             "Authorization: Bearer, or the dashboard's cookie");
    }
    /* Only then the method: without the token, not even that is told. */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond_error(ws, wsi, 405, "only GET is served");
    r = route(ws, wsi, path, auth == WCS_HTTP_AUTH_QUERY, &body);
    wcs_buf_free(&body);
    return r;
}

/* Refuse a websocket upgrade with an HTTP/1.1 answer of our own (lws
 * would answer an upgrade request in HTTP/1.0, which clients reject as
 * malformed rather than as refused). Returns what the callback returns. */
static int refuse_upgrade(struct lws *wsi, unsigned status, const char *why)
{
    const char *reason = status == 400   ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 403 ? "Forbidden"
                         : status == 404 ? "Not Found"
                                         : "Service Unavailable";
    unsigned char buf[LWS_PRE + 1024];
    char *p = (char *)buf + LWS_PRE;
    size_t room = sizeof(buf) - LWS_PRE, n;
    int body = (int)strlen(why) + 13; /* {"error":"why"} + newline */

    n = (size_t)snprintf(p, room, "HTTP/1.1 %u %s\r\n", status, reason);
    for (const struct lws_protocol_vhost_options *h = security; h && n < room; h = h->next)
        n += (size_t)snprintf(p + n, room - n, "%s %s\r\n", h->name, h->value);
    if (n < room)
        n += (size_t)snprintf(p + n, room - n,
                              "content-type: application/json\r\n"
                              "content-length: %d\r\nconnection: close\r\n%s\r\n"
                              "{\"error\":\"%s\"}\n",
                              body, status == 401 ? "www-authenticate: Bearer\r\n" : "", why);
    if (n >= room || lws_write(wsi, (unsigned char *)p, n, LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
    return 1;
}

/* Whether a websocket upgrade may go ahead: 0 yes, else what to return. */
static int confirm_upgrade(struct ws_sink *ws, struct lws *wsi)
{
    const struct wcs_http_policy pol = {.host = ws->host, .token = ws->token};
    struct wcs_http_request rq;
    struct request_text text;
    char uri[64], subprotocols[256];

    rq.path = header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri));
    read_request(wsi, &text, &rq);
    switch (wcs_http_check_upgrade(&pol, &rq)) {
    case 0:
        break;
    case 404:
        ws->refused++;
        return refuse_upgrade(wsi, 404, "the websocket is at /ws");
    case 403:
        ws->refused++;
        return refuse_upgrade(wsi, 403, "a websocket from a foreign origin");
    default:
        ws->unauthorized++;
        return refuse_upgrade(wsi, 401, "this server needs its token");
    }
    if (!wcs_http_subprotocol_ok(
            header(wsi, WSI_TOKEN_PROTOCOL, subprotocols, sizeof(subprotocols)), WS_SUBPROTOCOL)) {
        ws->refused++;
        return refuse_upgrade(wsi, 400, "this server speaks the subprotocol " WS_SUBPROTOCOL);
    }
    if (ws->clients >= ws->max_clients) {
        ws->refused++;
        return refuse_upgrade(wsi, 503, "too many websocket clients");
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);

static const struct lws_protocols protocols[] = {
    {WS_SUBPROTOCOL, callback, sizeof(struct session), 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct ws_sink *ws = lws_context_user(ctx);
    struct session *ss = user;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(ws, wsi, in);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(ws, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        ss->is_ws = true;
        ss->sent_seq = 0;
        ws->clients++;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (ss && ss->is_ws) {
            ss->is_ws = false;
            ws->clients--;
            forget_session(ws, ss);
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        struct msg *m = next_message(ws, ss);
        if (!m)
            return 0;
        int n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
        msg_unref(m);
        if (n < 0)
            return -1;
        /* A batch may have come while writing: ask again (a no-op if not). */
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
        /* The feed is one-way: a client that sends a message (of any size,
         * masked or not, which lws does not check) is closed at its first
         * bytes, so nobody makes the server unmask and skip gigabytes.
         * Pings are control frames, answered by lws without coming here. */
        static const char why[] = "the feed is one-way";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)why,
                         sizeof(why) - 1);
        return -1;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        lws_callback_on_writable_all_protocol(ctx, &protocols[0]);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return 0; /* responses are written whole in LWS_CALLBACK_HTTP */
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static void *serve(void *arg)
{
    struct ws_sink *ws = arg;

    while (!atomic_load(&ws->quit))
        if (lws_service(ws->ctx, 0) < 0)
            break;
    return NULL;
}

static void lws_log_to_ours(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        n--;
    wcs_debug("libwebsockets: %.*s", (int)n, line);
}

/* ---- the plugin ---- */

/* Resolve host to a numeric address; *loopback says whether it is one. */
static int resolve(const char *host, char *ip, size_t iplen, bool *loopback)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_flags = AI_PASSIVE}, *ai;
    int r = getaddrinfo(host, NULL, &hints, &ai);
    if (r != 0 || !ai)
        return r ? r : EAI_NONAME;
    *loopback = true;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *s = (const void *)a->ai_addr;
            *loopback &= (ntohl(s->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct sockaddr_in6 *s = (const void *)a->ai_addr;
            *loopback &= IN6_IS_ADDR_LOOPBACK(&s->sin6_addr);
        }
    }
    r = getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, (socklen_t)iplen, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(ai);
    return r;
}

/* Bind host:port once and let it go: 0, or the errno of the bind (0 too
 * when it could not be tried). */
static int try_bind(const char *ip, uint16_t port)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *ai;
    char svc[8];
    int e = 0;

    snprintf(svc, sizeof(svc), "%u", port);
    if (getaddrinfo(ip, svc, &hints, &ai) != 0)
        return 0;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0)
            e = errno;
        close(fd);
    }
    freeaddrinfo(ai);
    return e;
}

static bool token_ok(const char *t)
{
    if (!t[0] || strlen(t) > 256)
        return false;
    for (; *t; t++)
        if (!(isalnum((unsigned char)*t) || strchr("-._~+/=", *t)))
            return false;
    return true;
}

/* Files this process has open now (sinks are made before the state and
 * the sources: a handful). */
static unsigned open_files(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    if (!d)
        return 0;
    for (const struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n ? n - 1 : 0; /* not the directory's own */
}

/*
 * How many connections lws may hold at once: maxClients websockets and 64
 * more (HTTP requests, refused upgrades), within the file descriptors the
 * process may open, less FD_RESERVE for the state, the sources and the
 * other sinks. At its limit lws stops
 * accepting until a connection closes; out of file descriptors it would
 * retry accept() in a busy loop instead, a core at 100% for as long as
 * the connections stay.
 */
#define FD_RESERVE   64
#define FD_LWS_LEAST 16 /* the listening sockets, lws's pipe, a few clients */

static unsigned connection_limit(const char *desc, unsigned max_clients)
{
    unsigned want = max_clients + 64;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    rlim_t taken = (rlim_t)open_files() + FD_RESERVE;
    if (rl.rlim_cur >= taken + want)
        return want;
    unsigned n =
        rl.rlim_cur > taken + FD_LWS_LEAST ? (unsigned)(rl.rlim_cur - taken) : FD_LWS_LEAST;
    wcs_warn("%s: maxClients=%u, but the process may open only %llu files (ulimit -n): the "
             "server keeps to %u of them, and connections past that wait",
             desc, max_clients, (unsigned long long)rl.rlim_cur, n);
    return n;
}

static void ws_destroy(struct wcs_sink *sk)
{
    struct ws_sink *ws = sk->ctx;

    if (!ws)
        return;
    if (ws->running) {
        atomic_store(&ws->quit, true);
        lws_cancel_service(ws->ctx);
        pthread_join(ws->thread, NULL);
    }
    if (ws->ctx)
        lws_context_destroy(ws->ctx);
    wcs_state_reader_close(ws->reader);
    wcs_tokenizer_free(ws->tk);
    struct board *b = &ws->b;
    msg_unref(b->update);
    msg_unref(b->snapshot);
    free(b->top);
    free(b->top_words);
    for (size_t i = 0; i < b->hist_n; i++)
        free(b->history[(b->hist_first + i) % HISTORY_MAX]);
    for (size_t i = 0; i < b->nsources; i++)
        free(b->sources[i].desc);
    free(b->sources);
    pthread_mutex_destroy(&b->mu);
    free(ws->token);
    free(ws->dashboard_dir);
    free(ws->state_path);
    free(ws);
    sk->ctx = NULL;
}

static int ws_init(struct wcs_sink *sk, struct wcs_uri *uri, const struct wcs_sink_env *env,
                   char *err, size_t errlen)
{
    struct ws_sink *ws = calloc(1, sizeof(*ws));
    char target[300], ip[INET6_ADDRSTRLEN];
    size_t max_clients = 1024;
    bool loopback;
    const char *token = wcs_uri_get(uri, "token");

    if (!ws) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&ws->b.mu, NULL);
    ws->b.batch_id = -1;
    ws->top_n = 20;
    ws->max_updated = 1000;
    sk->ctx = ws;
    /* ws://:PORT binds to loopback, like an absent host should. */
    snprintf(target, sizeof(target), "%s%s", uri->target[0] == ':' ? "127.0.0.1" : "", uri->target);
    char *path = strchr(target, '/'); /* ws://HOST:PORT/ is the same server */
    if (path && strcmp(path, "/") != 0) {
        wcs_err(err, errlen,
                "%s: a ws:// sink takes no path: it serves the dashboard at /, the "
                "websocket at /ws",
                uri->text);
        return WCS_EUSAGE;
    }
    if (path)
        *path = '\0';
    if (wcs_uri_host_port(target, ws->host, sizeof(ws->host), &ws->port, err, errlen) < 0 ||
        wcs_uri_get_size(uri, "topN", 1, 100, &ws->top_n, err, errlen) < 0 ||
        wcs_uri_get_size(uri, "maxUpdated", 0, 10000, &ws->max_updated, err, errlen) < 0 ||
        wcs_uri_get_size(uri, "maxClients", 1, 100000, &max_clients, err, errlen) < 0 ||
        wcs_uri_check_unused(uri, err, errlen) < 0) /* before the port is taken */
        return WCS_EUSAGE;
    ws->max_clients = (unsigned)max_clients;
    if (token && !token_ok(token)) {
        wcs_err(
            err, errlen,
            "%s: the token must be 1 to 256 characters of letters, digits and -._~+/=", uri->text);
        return WCS_EUSAGE;
    }
    int gai = resolve(ws->host, ip, sizeof(ip), &loopback);
    if (gai != 0) { /* a runtime failure, as listen://'s: names can come and go */
        wcs_err(err, errlen, "%s: cannot resolve %s: %s", uri->text, ws->host, gai_strerror(gai));
        return -1;
    }
    if (!loopback && !token) {
        wcs_err(err, errlen,
                "%s: serving on a non-loopback address needs a token "
                "(ws://%s:%u?token=SECRET): the dashboard and API would be open to the network",
                uri->text, ws->host, ws->port);
        return WCS_EUSAGE;
    }
    if ((token && !(ws->token = strdup(token))) ||
        (env->state_path && !(ws->state_path = strdup(env->state_path)))) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    if (env->state_path &&
        !(ws->tk = wcs_tokenizer_new(env->split, env->split_pattern, env->lowercase, err, errlen)))
        return -1;
    if (env->dashboard_dir) { /* a missing path: a runtime failure, as file://'s */
        struct stat sb;
        int e = 0;
        if (!(ws->dashboard_dir = realpath(env->dashboard_dir, NULL)) ||
            stat(ws->dashboard_dir, &sb) < 0)
            e = errno;
        else if (!S_ISDIR(sb.st_mode))
            e = ENOTDIR;
        if (e) {
            wcs_err(err, errlen, "--dashboard-dir %s: %s", env->dashboard_dir, strerror(e));
            return -1;
        }
    }

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = ws->port;
    info.iface = strcmp(ip, "0.0.0.0") != 0 && strcmp(ip, "::") != 0 ? ip : NULL;
    info.protocols = protocols;
    info.user = ws;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.headers = security;
    if (!strchr(ip, ':') && info.iface)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.max_http_header_data = REQUEST_ROOM;
    info.fd_limit_per_thread = connection_limit(uri->text, ws->max_clients);
    info.timeout_secs = 10; /* also how long an HTTP answer waits for its client to read it */
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    /* lws fails for a port in use, but takes any other failed bind (an
     * address not on this host, a port under 1024 without the capability)
     * for an interface yet to come up, and runs with nothing listening. */
    int e = try_bind(ip, ws->port);
    if (!e && !(ws->ctx = lws_create_context(&info)))
        e = try_bind(ip, ws->port); /* why, for a sentence lws does not give */
    if (!ws->ctx) {
        wcs_err(err, errlen, "%s: cannot listen on %s:%u: %s", uri->text, ws->host, ws->port,
                e ? strerror(e) : "the server could not start");
        return -1;
    }
    sk->top_n = TOP_HELD;
    return 0;
}

/* A record from the state, printed again: one stored before wcs_json_print()
 * may hold bytes that are not UTF-8. */
static int load_history(void *arg, const char *json)
{
    cJSON *record = cJSON_Parse(json);
    char *copy = record ? wcs_json_print(record) : NULL;
    cJSON_Delete(record);
    if (copy)
        history_push(arg, copy);
    return 0;
}

static int ws_start(struct wcs_sink *sk, const struct wcs_result *rec, char *err, size_t errlen)
{
    struct ws_sink *ws = sk->ctx;
    struct board *b = &ws->b;

    if (copy_top(rec, &b->top, &b->top_words, &b->ntop) < 0) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    b->batch_id = rec->batch_id;
    b->distinct = rec->distinct_words;
    b->total = rec->total_words;
    if (ws->state_path) {
        if (!(ws->reader = wcs_state_reader_open(ws->state_path, err, errlen)))
            return -1;
        if (wcs_state_reader_history(ws->reader, HISTORY_MAX, load_history, b) < 0)
            wcs_warn("%s: cannot read the past progress records; the charts start empty", sk->desc);
    }
    if (pthread_create(&ws->thread, NULL, serve, ws) != 0) {
        wcs_err(err, errlen, "%s: cannot start the server thread", sk->desc);
        return -1;
    }
    ws->running = true;
    bool v6 = strchr(ws->host, ':') != NULL; /* an IPv6 address goes in brackets */
    wcs_info("dashboard on http://%s%s%s:%u/ (websocket /ws, API /api, metrics /metrics)",
             v6 ? "[" : "", ws->host, v6 ? "]" : "", ws->port);
    return 0;
}

const struct wcs_sink_plugin wcs_sink_websocket = {
    .scheme = "ws",
    .usage = "ws://HOST:PORT[?token=SECRET&topN=N&maxUpdated=N&maxClients=N]",
    .init = ws_init,
    .start = ws_start,
    .emit = ws_emit,
    .destroy = ws_destroy,
};
