/*
 * progress.c - StreamingQueryProgress-shaped JSON for each batch.
 *
 * Field names follow Spark's so dashboards and habits carry over:
 * id, runId, batchId, timestamp, numInputRows, inputRowsPerSecond,
 * processedRowsPerSecond, durationMs{...}, stateOperators[], sources[],
 * sink. wcstream adds numInputBytes and per-source metrics.
 */
#include "wcstream/progress.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

static const char *const phase_names[WCS_PHASE_COUNT] = {
    [WCS_PHASE_GET_BATCH] = "getBatch",  [WCS_PHASE_TOKENIZE] = "tokenize",
    [WCS_PHASE_AGGREGATE] = "aggregate", [WCS_PHASE_STATE_COMMIT] = "stateCommit",
    [WCS_PHASE_SINKS] = "sinks",         [WCS_PHASE_TRIGGER] = "triggerExecution",
};

int64_t wcs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void wcs_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        /* No entropy yet (early boot): time and pid still differ per run. */
        int64_t t = wcs_now_ns() ^ ((int64_t)getpid() << 40);
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)(t >> (i % 8 * 8)) ^ (unsigned char)(i * 37);
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static double round3(double v)
{
    return round(v * 1000.0) / 1000.0;
}

/* Attach item to obj under key (to an array when key is NULL). An item
 * that cannot be attached (out of memory, or obj NULL) is freed. Returns
 * item, or NULL and clears *ok. */
static cJSON *child(cJSON *obj, const char *key, cJSON *item, bool *ok)
{
    if (!item || !(key ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item))) {
        cJSON_Delete(item);
        *ok = false;
        return NULL;
    }
    return item;
}

static void num(cJSON *obj, const char *key, double v, bool *ok)
{
    *ok &= cJSON_AddNumberToObject(obj, key, v) != NULL;
}

static void str(cJSON *obj, const char *key, const char *v, bool *ok)
{
    *ok &= cJSON_AddStringToObject(obj, key, v) != NULL;
}

cJSON *wcs_progress_json(const struct wcs_progress *p)
{
    cJSON *o = cJSON_CreateObject(), *d, *ops, *op, *srcs, *sink;
    bool ok = o != NULL;
    char ts[40];
    struct tm tm;
    gmtime_r(&p->timestamp.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", p->timestamp.tv_nsec / 1000000);
    double trigger_s = p->phase_ms[WCS_PHASE_TRIGGER] / 1000.0;
    if (!(p->phases_done & 1u << WCS_PHASE_TRIGGER)) {
        trigger_s = 0;
        for (int i = 0; i < WCS_PHASE_TRIGGER; i++)
            trigger_s += (p->phases_done & 1u << i) != 0 ? p->phase_ms[i] / 1000.0 : 0;
    }
    str(o, "id", p->id, &ok);
    str(o, "runId", p->run_id, &ok);
    num(o, "batchId", (double)p->batch_id, &ok);
    str(o, "timestamp", ts, &ok);
    num(o, "numInputRows", (double)p->input_rows, &ok);
    num(o, "numInputBytes", (double)p->input_bytes, &ok);
    num(o, "inputRowsPerSecond", round3(p->input_rows_per_second), &ok);
    num(o, "processedRowsPerSecond", trigger_s > 0 ? round3((double)p->input_rows / trigger_s) : 0,
        &ok);
    d = child(o, "durationMs", cJSON_CreateObject(), &ok);
    for (int i = 0; i < WCS_PHASE_COUNT; i++)
        if (p->phases_done & 1u << i)
            num(d, phase_names[i], round3(p->phase_ms[i]), &ok);
    ops = child(o, "stateOperators", cJSON_CreateArray(), &ok);
    op = child(ops, NULL, cJSON_CreateObject(), &ok);
    str(op, "operatorName", "stateStoreSave", &ok);
    num(op, "numRowsTotal", (double)p->rows_total, &ok);
    num(op, "numRowsUpdated", (double)p->rows_updated, &ok);
    num(op, "totalWords", (double)p->total_words, &ok);
    srcs = child(o, "sources", cJSON_CreateArray(), &ok);
    for (size_t i = 0; i < p->nsources && ok; i++) {
        const struct wcs_progress_source *s = &p->sources[i];
        cJSON *so = child(srcs, NULL, cJSON_CreateObject(), &ok), *m;
        str(so, "description", s->description, &ok);
        child(so, "startOffset", s->start ? cJSON_Duplicate(s->start, 1) : cJSON_CreateNull(), &ok);
        child(so, "endOffset", s->end ? cJSON_Duplicate(s->end, 1) : cJSON_CreateNull(), &ok);
        num(so, "numInputRows", (double)s->rows, &ok);
        num(so, "inputRowsPerSecond",
            p->input_rows
                ? round3(p->input_rows_per_second * (double)s->rows / (double)p->input_rows)
                : 0,
            &ok);
        m = child(so, "metrics", cJSON_CreateObject(), &ok);
        num(m, "numInputBytes", (double)s->bytes, &ok);
        num(m, "linesCut", (double)s->lines_cut, &ok);
        for (const cJSON *it = s->metrics ? s->metrics->child : NULL; it; it = it->next)
            child(m, it->string, cJSON_Duplicate(it, 1), &ok);
    }
    sink = child(o, "sink", cJSON_CreateObject(), &ok);
    str(sink, "description", p->sink_description, &ok);
    num(sink, "numOutputRows", (double)p->sink_output_rows, &ok);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
