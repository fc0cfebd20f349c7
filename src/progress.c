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

cJSON *wcs_progress_json(const struct wcs_progress *p)
{
    cJSON *o = cJSON_CreateObject(), *d, *ops, *op, *srcs, *sink;
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
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddStringToObject(o, "runId", p->run_id);
    cJSON_AddNumberToObject(o, "batchId", (double)p->batch_id);
    cJSON_AddStringToObject(o, "timestamp", ts);
    cJSON_AddNumberToObject(o, "numInputRows", (double)p->input_rows);
    cJSON_AddNumberToObject(o, "numInputBytes", (double)p->input_bytes);
    cJSON_AddNumberToObject(o, "inputRowsPerSecond", round3(p->input_rows_per_second));
    cJSON_AddNumberToObject(o, "processedRowsPerSecond",
                            trigger_s > 0 ? round3((double)p->input_rows / trigger_s) : 0);
    cJSON_AddItemToObject(o, "durationMs", d = cJSON_CreateObject());
    for (int i = 0; i < WCS_PHASE_COUNT; i++)
        if (p->phases_done & 1u << i)
            cJSON_AddNumberToObject(d, phase_names[i], round3(p->phase_ms[i]));
    cJSON_AddItemToObject(o, "stateOperators", ops = cJSON_CreateArray());
    cJSON_AddItemToArray(ops, op = cJSON_CreateObject());
    cJSON_AddStringToObject(op, "operatorName", "stateStoreSave");
    cJSON_AddNumberToObject(op, "numRowsTotal", (double)p->rows_total);
    cJSON_AddNumberToObject(op, "numRowsUpdated", (double)p->rows_updated);
    cJSON_AddNumberToObject(op, "totalWords", (double)p->total_words);
    cJSON_AddItemToObject(o, "sources", srcs = cJSON_CreateArray());
    for (size_t i = 0; i < p->nsources; i++) {
        const struct wcs_progress_source *s = &p->sources[i];
        cJSON *so = cJSON_CreateObject(), *m;
        cJSON_AddItemToArray(srcs, so);
        cJSON_AddStringToObject(so, "description", s->description);
        cJSON_AddItemToObject(so, "startOffset",
                              s->start ? cJSON_Duplicate(s->start, 1) : cJSON_CreateNull());
        cJSON_AddItemToObject(so, "endOffset",
                              s->end ? cJSON_Duplicate(s->end, 1) : cJSON_CreateNull());
        cJSON_AddNumberToObject(so, "numInputRows", (double)s->rows);
        cJSON_AddNumberToObject(so, "inputRowsPerSecond",
                                p->input_rows ? round3(p->input_rows_per_second * (double)s->rows /
                                                       (double)p->input_rows)
                                              : 0);
        cJSON_AddItemToObject(so, "metrics", m = cJSON_CreateObject());
        cJSON_AddNumberToObject(m, "numInputBytes", (double)s->bytes);
        cJSON_AddNumberToObject(m, "linesCut", (double)s->lines_cut);
        for (const cJSON *it = s->metrics ? s->metrics->child : NULL; it; it = it->next)
            cJSON_AddItemToObject(m, it->string, cJSON_Duplicate(it, 1));
    }
    cJSON_AddItemToObject(o, "sink", sink = cJSON_CreateObject());
    cJSON_AddStringToObject(sink, "description", p->sink_description);
    cJSON_AddNumberToObject(sink, "numOutputRows", (double)p->sink_output_rows);
    return o;
}
