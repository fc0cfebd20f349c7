/*
 * jsonl.c - the jsonl:// sink: one JSON object per batch, one line each.
 *
 * The end of the data path for machines: after every committed batch it
 * appends to a file a line holding the batch id, the output mode, the
 * words the batch updated, the top N of the state, the totals and the
 * progress record. Words are arbitrary bytes, so they are encoded with
 * wcs_json_string (never NUL-terminated C strings); the line is built in a
 * buffer owned by the sink and appended whole (wcs_buf_write_record()):
 * a write that fails half-way, on a full disk, is cut back, so the next
 * batch's line starts a line of its own. A file renamed or deleted under
 * it (a log rotation) is followed by a new one at the path.
 */
#include "wcstream/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wcstream/buf.h"
#include "wcstream/text.h"
#include "wcstream/topk.h"

struct jsonl {
    int fd;
    bool made; /* the file is new */
    char *path;
    size_t top_n;
    struct wcs_buf line; /* reused from batch to batch */
};

/* Build the whole line for res, ending in '\n', into b. 0 or -ENOMEM. */
static int build_line(struct wcs_buf *b, const struct wcs_result *res, size_t top_n)
{
    size_t ntop = res->n_top < top_n ? res->n_top : top_n;
    char *progress = NULL;
    int rc = -ENOMEM;

    if (res->progress) {
        progress = wcs_json_print(res->progress);
        if (!progress)
            return -ENOMEM;
    }
    b->len = 0;
    if (wcs_buf_printf(b, "{\"batchId\":%" PRId64 ",\"outputMode\":\"%s\",\"updated\":",
                       res->batch_id, res->mode == WCS_MODE_UPDATE ? "update" : "complete") < 0 ||
        wcs_json_rows(b, res->updated, res->n_updated, 0) < 0 ||
        wcs_buf_printf(b, ",\"top\":") < 0 || wcs_json_rows(b, res->top, ntop, 0) < 0 ||
        wcs_buf_printf(
            b, ",\"distinctWords\":%" PRId64 ",\"totalWords\":%" PRId64 ",\"progress\":%s}\n",
            res->distinct_words, res->total_words, progress ? progress : "null") < 0)
        goto done;
    rc = 0;
done:
    free(progress);
    return rc;
}

static int jsonl_init(struct wcs_sink *sk, struct wcs_uri *uri, const struct wcs_sink_env *env,
                      char *err, size_t errlen)
{
    struct jsonl *jl;
    size_t top_n = 20;

    (void)env;
    if (!uri->target || !uri->target[0]) {
        snprintf(err, errlen, "%s: the jsonl sink needs a file path, e.g. jsonl:///tmp/wc.jsonl",
                 uri->text);
        return WCS_EUSAGE;
    }
    if (wcs_uri_get_size(uri, "topN", 0, WCS_TOPK_MAX, &top_n, err, errlen) < 0 ||
        wcs_uri_check_unused(uri, err, errlen) < 0) /* before the file is made */
        return WCS_EUSAGE;
    jl = calloc(1, sizeof(*jl));
    if (!jl || !(jl->path = strdup(uri->target))) {
        free(jl);
        snprintf(err, errlen, "%s: out of memory", uri->text);
        return -1;
    }
    jl->top_n = top_n;
    jl->fd = wcs_record_file_open(jl->path, &jl->made);
    if (jl->fd < 0) {
        snprintf(err, errlen, "jsonl sink: cannot open %s: %s", jl->path,
                 wcs_record_file_strerror(jl->path, jl->fd));
        free(jl->path);
        free(jl);
        return -1;
    }
    sk->ctx = jl;
    sk->top_n = top_n;
    return 0;
}

/* The state is this process's now (a process refused it never gets
 * here): so is the file, whose half line a crash may have left. */
static int jsonl_start(struct wcs_sink *sk, const struct wcs_result *recovered, char *err,
                       size_t errlen)
{
    struct jsonl *jl = sk->ctx;

    (void)recovered, (void)err, (void)errlen;
    wcs_record_file_end_line(jl->fd, jl->path);
    return 0;
}

static int jsonl_emit(struct wcs_sink *sk, const struct wcs_result *res, char *err, size_t errlen)
{
    struct jsonl *jl = sk->ctx;
    int rc;

    if (build_line(&jl->line, res, jl->top_n) < 0) {
        snprintf(err, errlen, "jsonl sink: out of memory building batch %" PRId64, res->batch_id);
        return -1;
    }
    jl->fd = wcs_record_file_follow(jl->fd, jl->path);
    rc = wcs_buf_write_record(jl->fd, &jl->line);
    if (rc < 0) {
        snprintf(err, errlen, "jsonl sink: cannot write batch %" PRId64 " to %s: %s", res->batch_id,
                 jl->path, strerror(-rc));
        return -1;
    }
    return 0;
}

static void jsonl_destroy(struct wcs_sink *sk)
{
    struct jsonl *jl = sk->ctx;

    if (!jl)
        return;
    if (jl->made && !sk->started) /* a start that failed leaves no new file */
        wcs_record_file_unmake(jl->fd, jl->path);
    else
        close(jl->fd);
    free(jl->path);
    wcs_buf_free(&jl->line);
    free(jl);
    sk->ctx = NULL;
}

const struct wcs_sink_plugin wcs_sink_jsonl = {
    .scheme = "jsonl",
    .usage = "jsonl://PATH[?topN=N]",
    .init = jsonl_init,
    .start = jsonl_start,
    .emit = jsonl_emit,
    .destroy = jsonl_destroy,
};
