/*
 * engine.c - the trigger loop (DESIGN.md section 1).
 *
 * One trigger tick is one micro-batch:
 *   1. pull      every source appends whole lines to the batch text, within
 *                one shared byte budget (--max-bytes-per-trigger);
 *   2. operate   the tokenizer splits the text and the group-by table folds
 *                the words into word -> delta;
 *   3. commit    one SQLite transaction applies the deltas and the offsets;
 *   4. emit      the sinks get the updated rows, the top-N and the progress;
 *   5. ack       sources learn that the batch is durable.
 * Memory of a batch lives in its text buffer and arena, reset afterwards.
 * The engine never names a concrete source or sink: the registry does.
 *
 * Steps 1 and 2 run on the engine's thread (step 2 on every core, fold.h);
 * steps 3 and 4 on a committer thread, so that batch N commits while batch
 * N + 1 is read and tokenized. Batches still commit, emit and ack strictly
 * in order: N + 1 is handed over only once N is done. A source that must
 * see its batch's ack before it is pulled again (Kafka: it resumes paused
 * partitions and hands over held-back revocations then) turns the overlap
 * off.
 */
#include "wcstream/engine.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wcstream/fold.h"
#include "wcstream/log.h"
#include "wcstream/notify.h"
#include "wcstream/progress.h"
#include "wcstream/registry.h"
#include "wcstream/state.h"
#include "wcstream/text.h"

#define IDLE_POLL_MS 100               /* wake-up for sources that cannot signal */
#define RETRY_MIN_MS 100               /* first wait after a failed commit */
#define RETRY_MAX_MS 10000             /* longest wait between commit attempts */
#define CHUNK_BYTES  ((size_t)1 << 20) /* input read and tokenized at a time */
#define INBOX_BYTES  ((size_t)8 << 20) /* a source's buffered input, at most */
/* Distinct words (summed over the threads' tables) that end a batch early. */
#define BATCH_MAX_GROUPS (1u << 19)
_Static_assert(WCS_FOLD_MAX_THREADS <= WCS_STATE_MAX_SETS, "the state merges a set per thread");

/* A batch from its trigger to its ack: what it read, and what gathering it
 * measured, for its progress record. */
struct batch {
    struct wcs_arena arena; /* offset names */
    struct wcs_offsets offs;
    struct wcs_progress_source *psrc; /* one per source */
    struct wcs_group_set *sets;       /* its words: one set per tokenizing thread */
    size_t nsets;
    int64_t start_ns; /* monotonic, at the trigger */
    struct timespec wall;
    size_t bytes;
    int64_t get_ns, tokenize_ns, aggregate_ns;
};

struct wcs_engine {
    const struct wcs_config *cf;
    struct wcs_notify notify;
    atomic_int stopping; /* lock-free: set by a signal handler, read by every thread */
    struct wcs_state *st;
    struct wcs_fold *fold;
    struct wcs_source *srcs;
    size_t nsrcs, next_src;
    struct wcs_sink *sinks;
    size_t nsinks, top_n;
    char *sink_desc;
    int progress_log;      /* fd of --progress-log, or -1 */
    int progress_err;      /* its last write's errno (logged once), or 0 */
    struct wcs_buf record; /* its next line */
    char run_id[37];

    struct wcs_buf text; /* the chunk being tokenized */
    struct batch batches[2];
    struct batch *cur; /* the one being gathered */
    bool end_batch;    /* a source asked for the batch in hand to commit now */
    bool overlap;      /* batches may be gathered while the last one commits */
    int64_t prev_trigger_ns;
    char stop_err[512]; /* a sink that gave up when asked to stop */

    /* The committer thread and its one-batch queue. */
    pthread_t committer;
    bool committer_started, quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *job; /* handed over, not yet done */
    bool handed;       /* the engine thread's view: a batch awaits its ack */
    int job_rc;
    char job_err[512];
};

int wcs_pull_offset(struct wcs_pull *p, const char *partition, int64_t offset)
{
    return wcs_pull_offset_in(p, NULL, partition, offset);
}

int wcs_pull_forget(struct wcs_pull *p, const char *partition)
{
    return wcs_pull_offset_in(p, NULL, partition, WCS_OFFSET_FORGET);
}

int wcs_pull_offset_in(struct wcs_pull *p, const char *key, const char *partition, int64_t offset)
{
    struct wcs_offsets *o = p->offs;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        struct wcs_offset *v = realloc(o->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        o->v = v;
        o->cap = cap;
    }
    char *copy = wcs_arena_dup(p->arena, partition, strlen(partition) + 1);
    const char *source = key ? wcs_arena_dup(p->arena, key, strlen(key) + 1) : p->source;
    if (!copy || !source)
        return -ENOMEM;
    o->v[o->n++] = (struct wcs_offset){.source = source, .partition = copy, .offset = offset};
    return 0;
}

/* Free a NULL-terminated array of strings and the strings. Accepts NULL. */
static void free_strings(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

struct restore {
    struct wcs_source *src;
    char *err;
    size_t errlen;
};

static int restore_offset(void *arg, const char *partition, int64_t offset)
{
    struct restore *r = arg;
    return r->src->plugin->restore(r->src, partition, offset, r->err, r->errlen);
}

/* The names src's offsets are restored from: keys, else key, else desc
 * (one holds the single name). */
static char *const *offset_keys(const struct wcs_source *src, char *one[2])
{
    one[0] = src->key ? src->key : src->desc;
    one[1] = NULL;
    return src->keys ? src->keys : one;
}

/* An earlier source that keeps offsets under one of src's names, or NULL:
 * the one that commits last would move the other's, so neither could be
 * exact. Returns its description. */
static const char *shared_key(const struct wcs_engine *eng, const struct wcs_source *src)
{
    char *mine1[2], *theirs1[2];
    char *const *mine = offset_keys(src, mine1);
    for (size_t i = 0; i + 1 < eng->nsrcs; i++) {
        const struct wcs_source *o = &eng->srcs[i];
        for (char *const *b = offset_keys(o, theirs1); o->plugin->restore && *b; b++)
            for (char *const *a = mine; *a; a++)
                if (strcmp(*a, *b) == 0)
                    return o->desc;
    }
    return NULL;
}

/* Create one source, its URI known to name a source (wcs_engine_new()).
 * 0, -1 or WCS_EUSAGE (a bad option). */
static int add_source(struct wcs_engine *eng, const char *text, const struct wcs_source_env *env,
                      char *err, size_t errlen)
{
    struct wcs_uri *uri = wcs_uri_parse(text, err, errlen);
    if (!uri)
        return WCS_EUSAGE;
    struct wcs_source *src = &eng->srcs[eng->nsrcs];
    const struct wcs_source_plugin *pl = wcs_registry_source(uri->scheme);
    int r = -1;
    if ((src->desc = strdup(uri->text)) == NULL) {
        wcs_err(err, errlen, "out of memory");
    } else {
        src->plugin = pl;
        eng->nsrcs++; /* from here on destroy() owns the cleanup */
        r = pl->init(src, uri, env, err, errlen);
        if (r == 0)
            r = wcs_uri_check_unused(uri, err, errlen);
        const char *other = r == 0 && pl->restore ? shared_key(eng, src) : NULL;
        if (other) {
            wcs_err(err, errlen, "%s keeps its offsets where %s does: name it once", src->desc,
                    other);
            r = WCS_EUSAGE;
        }
        if (r == 0 && pl->restore) { /* its error, or the state's */
            struct restore rs = {src, err, errlen};
            char *one[2];
            for (char *const *k = offset_keys(src, one); r == 0 && *k; k++)
                r = wcs_state_offsets(eng->st, *k, restore_offset, &rs, err, errlen);
        }
    }
    wcs_uri_free(uri);
    return r;
}

/* Create one sink. 0, -1 or WCS_EUSAGE (a bad URI). */
static int add_sink(struct wcs_engine *eng, const char *text, char *err, size_t errlen)
{
    struct wcs_uri *uri = wcs_uri_parse(text, err, errlen);
    if (!uri)
        return WCS_EUSAGE;
    struct wcs_sink *sk = &eng->sinks[eng->nsinks];
    const struct wcs_sink_plugin *pl = wcs_registry_sink(uri->scheme);
    const char *path = eng->cf->state_path;
    const struct wcs_sink_env env = {
        .mode = eng->cf->mode,
        .stopping = &eng->stopping,
        .state_path = strcmp(path, ":memory:") ? path : NULL,
        .dashboard_dir = eng->cf->dashboard_dir,
        .split = eng->cf->split,
        .split_pattern = eng->cf->split_pattern,
        .lowercase = eng->cf->lowercase,
    };
    int r = -1;
    if (!pl) {
        wcs_err(err, errlen, "unknown sink '%s'; see --help for the sinks", uri->text);
        r = WCS_EUSAGE;
    } else if ((sk->desc = strdup(uri->text)) == NULL) {
        wcs_err(err, errlen, "out of memory");
    } else {
        sk->plugin = pl;
        eng->nsinks++;
        r = pl->init(sk, uri, &env, err, errlen);
        if (r == 0)
            r = wcs_uri_check_unused(uri, err, errlen);
        if (sk->top_n > eng->top_n)
            eng->top_n = sk->top_n;
    }
    wcs_uri_free(uri);
    return r;
}

/* The files this process writes besides the state, which the sources must
 * not read back: the progress log and the jsonl:// sinks' paths. A
 * NULL-terminated array of copies, for free_strings(); NULL when out of
 * memory. */
static char **written_files(const struct wcs_config *cf)
{
    char **v = calloc(cf->sinks.n + 2, sizeof(*v));
    size_t n = 0;
    bool oom = !v || (cf->progress_log && !(v[n++] = strdup(cf->progress_log)));
    for (size_t i = 0; !oom && i < cf->sinks.n; i++) {
        char e[256];
        struct wcs_uri *uri = wcs_uri_parse(cf->sinks.v[i], e, sizeof(e));
        if (uri && strcmp(uri->scheme, "jsonl") == 0)
            oom = !(v[n++] = strdup(uri->target));
        wcs_uri_free(uri);
    }
    if (oom) {
        free_strings(v);
        return NULL;
    }
    return v;
}

/* The first of the written files that is the state at state_path or one
 * of SQLite's files beside it, whatever path names it, or NULL. SQLite's
 * writes would overwrite and cut the lines appended to it. */
static const char *written_into_state(const char *state_path, char *const *written)
{
    struct wcs_file_place st, w;
    const char *hit = NULL;
    if (wcs_file_place(state_path, &st) < 0)
        return NULL;
    for (size_t i = 0; !hit && written[i]; i++) {
        if (wcs_file_place(written[i], &w) < 0)
            continue;
        if (wcs_file_place_is(&st, true, w.dev, w.ino, w.base))
            hit = written[i];
        free(w.base);
    }
    free(st.base);
    return hit;
}

/* Hand the recovered state to the sinks that want it. 0 or -1. */
static int start_sinks(struct wcs_engine *eng, char *err, size_t errlen)
{
    struct wcs_result rec = {
        .batch_id = wcs_state_last_batch(eng->st),
        .mode = eng->cf->mode,
        .distinct_words = wcs_state_distinct(eng->st),
        .total_words = wcs_state_total(eng->st),
    };
    rec.top = wcs_state_top(eng->st, &rec.n_top);
    for (size_t i = 0; i < eng->nsinks; i++) {
        struct wcs_sink *sk = &eng->sinks[i];
        if (sk->plugin->start && sk->plugin->start(sk, &rec, err, errlen) < 0)
            return -1;
    }
    return 0;
}

struct wcs_engine *wcs_engine_new(const struct wcs_config *cf, bool *usage, char *err,
                                  size_t errlen)
{
    int r = -1;
    char **written = NULL; /* the files this query writes: written_files() */
    *usage = false;
    struct wcs_engine *eng = calloc(1, sizeof(*eng));
    if (!eng) {
        wcs_err(err, errlen, "out of memory");
        return NULL;
    }
    eng->cf = cf;
    eng->progress_log = -1;
    pthread_mutex_init(&eng->mu, NULL);
    pthread_cond_init(&eng->cv, NULL);
    eng->notify.fd = -1;
    if (wcs_notify_init(&eng->notify) < 0) {
        wcs_err(err, errlen, "cannot create an eventfd: %s", strerror(errno));
        goto fail;
    }
    if (cf->split == WCS_SPLIT_REGEX) { /* a pattern that does not compile is bad usage */
        struct wcs_tokenizer *tk =
            wcs_tokenizer_new(cf->split, cf->split_pattern, cf->lowercase, err, errlen);
        if (!tk) {
            r = WCS_EUSAGE;
            goto fail;
        }
        wcs_tokenizer_free(tk);
    }
    eng->fold = wcs_fold_new(cf->threads, cf->split, cf->split_pattern, cf->lowercase, err, errlen);
    eng->srcs = calloc(cf->sources.n, sizeof(*eng->srcs));
    eng->sinks = calloc(cf->sinks.n, sizeof(*eng->sinks));
    if (!eng->fold)
        goto fail;
    for (int i = 0; i < 2; i++) {
        eng->batches[i].psrc = calloc(cf->sources.n, sizeof(*eng->batches[i].psrc));
        eng->batches[i].sets = calloc(wcs_fold_threads(eng->fold), sizeof(*eng->batches[i].sets));
    }
    eng->cur = &eng->batches[0];
    written = written_files(cf);
    if (!eng->batches[0].psrc || !eng->batches[1].psrc || !eng->batches[0].sets ||
        !eng->batches[1].sets || !eng->srcs || !eng->sinks || !written) {
        wcs_err(err, errlen, "out of memory");
        goto fail;
    }
    /* Nothing is written into the state's files (refused before a jsonl
     * sink makes the file that the state would then take for a new one). */
    const char *state_file = strcmp(cf->state_path, ":memory:") ? cf->state_path : NULL;
    const char *clash = state_file ? written_into_state(state_file, written) : NULL;
    if (clash) {
        wcs_err(err, errlen, "%s is the state %s or one of SQLite's files beside it, not an output",
                clash, cf->state_path);
        r = WCS_EUSAGE;
        goto fail;
    }
    /* Sinks first: they say how much of the top they need, and a bad sink
     * option should not leave a new state file behind. */
    size_t desc_len = 1;
    for (size_t i = 0; i < cf->sinks.n; i++) {
        if ((r = add_sink(eng, cf->sinks.v[i], err, errlen)) < 0)
            goto fail;
        desc_len += strlen(eng->sinks[i].desc) + 2;
    }
    /* Every source must name a known scheme, and one at most stdin (two
     * readers of one fd would tear its lines), before a state file is
     * made. A source's own options are checked as it is made, which needs
     * the state's query id: a new state is then removed again. */
    bool stdin_taken = false;
    for (size_t i = 0; i < cf->sources.n; i++) {
        struct wcs_uri *uri = wcs_uri_parse(cf->sources.v[i], err, errlen);
        const struct wcs_source_plugin *pl = uri ? wcs_registry_source(uri->scheme) : NULL;
        bool is_stdin = pl && strcmp(pl->scheme, "stdin") == 0;
        r = !pl || (is_stdin && stdin_taken) ? WCS_EUSAGE : 0;
        if (uri && !pl)
            wcs_err(err, errlen, "unknown source '%s'; see --help for the sources", uri->text);
        else if (pl && r)
            wcs_err(err, errlen, "standard input can be read by one source only ('%s')", uri->text);
        stdin_taken |= is_stdin;
        wcs_uri_free(uri);
        if (r)
            goto fail;
    }
    r = -1;
    eng->st = wcs_state_open(cf->state_path, cf->synchronous, eng->top_n, err, errlen);
    if (!eng->st || wcs_state_checkpoint_behind(eng->st, err, errlen) < 0)
        goto fail;
    const struct wcs_source_env env = {
        .notify = &eng->notify,
        .available_now = cf->available_now,
        .max_bytes = cf->max_bytes < INBOX_BYTES ? cf->max_bytes : INBOX_BYTES,
        .max_line = cf->max_line,
        .query_id = wcs_state_query_id(eng->st),
        .state_path = state_file,
        .written = (const char *const *)written,
    };
    r = 0;
    for (size_t i = 0; r == 0 && i < cf->sources.n; i++)
        r = add_source(eng, cf->sources.v[i], &env, err, errlen);
    if (r < 0)
        goto fail;
    if (start_sinks(eng, err, errlen) < 0)
        goto fail;
    if (!(eng->sink_desc = calloc(1, desc_len))) {
        wcs_err(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cf->sinks.n; i++) {
        if (i)
            strcat(eng->sink_desc, ", ");
        strcat(eng->sink_desc, eng->sinks[i].desc);
    }
    if (cf->progress_log &&
        (eng->progress_log = wcs_record_file_open(cf->progress_log, NULL)) < 0) {
        wcs_err(err, errlen, "cannot open progress log %s: %s", cf->progress_log,
                wcs_record_file_strerror(cf->progress_log, eng->progress_log));
        goto fail;
    }
    if (eng->progress_log >= 0) /* the state is ours now: so is the log */
        wcs_record_file_end_line(eng->progress_log, cf->progress_log);
    wcs_uuid(eng->run_id);
    free_strings(written);
    for (size_t i = 0; i < eng->nsinks; i++)
        eng->sinks[i].started = true;
    return eng;
fail:
    free_strings(written);
    *usage = r == WCS_EUSAGE;
    /* A state this start made holds no batch, and nothing outside has
     * seen its query id yet (sources claim only when they pull): remove
     * it, so that a start that fails leaves no new file behind. */
    wcs_state_discard(eng->st);
    eng->st = NULL;
    wcs_engine_free(eng);
    return NULL;
}

void wcs_engine_free(struct wcs_engine *eng)
{
    if (!eng)
        return;
    /* First the committer: a batch it still holds (the run ended on an
     * error) uses the sinks and the sources' descriptions. It finishes that
     * batch, or gives up at once if it would have to wait or retry. */
    if (eng->committer_started) {
        eng->stopping = 1;
        pthread_mutex_lock(&eng->mu);
        eng->quit = true;
        pthread_cond_broadcast(&eng->cv);
        pthread_mutex_unlock(&eng->mu);
        pthread_join(eng->committer, NULL);
    }
    /* add_source() and add_sink() count an entry once its plugin is set. */
    for (size_t i = 0; i < eng->nsrcs; i++) {
        assert(eng->srcs && eng->srcs[i].plugin);
        eng->srcs[i].plugin->destroy(&eng->srcs[i]);
        free(eng->srcs[i].desc);
        free(eng->srcs[i].key);
        free_strings(eng->srcs[i].keys);
    }
    for (size_t i = 0; i < eng->nsinks; i++) {
        assert(eng->sinks && eng->sinks[i].plugin);
        eng->sinks[i].plugin->destroy(&eng->sinks[i]);
        free(eng->sinks[i].desc);
    }
    pthread_cond_destroy(&eng->cv);
    pthread_mutex_destroy(&eng->mu);
    for (int i = 0; i < 2; i++) {
        struct batch *b = &eng->batches[i];
        for (size_t j = 0; b->psrc && j < eng->cf->sources.n; j++) {
            cJSON_Delete(b->psrc[j].start);
            cJSON_Delete(b->psrc[j].end);
            cJSON_Delete(b->psrc[j].metrics);
        }
        free(b->psrc);
        free(b->sets);
        free(b->offs.v);
        wcs_arena_free(&b->arena);
    }
    free(eng->srcs);
    free(eng->sinks);
    free(eng->sink_desc);
    wcs_buf_free(&eng->text);
    wcs_fold_free(eng->fold);
    wcs_state_close(eng->st);
    if (eng->progress_log >= 0)
        close(eng->progress_log);
    wcs_buf_free(&eng->record);
    wcs_notify_close(&eng->notify);
    free(eng);
}

void wcs_engine_stop(struct wcs_engine *eng)
{
    eng->stopping = 1;
    wcs_notify_signal(&eng->notify);
}

/* Two cJSON members by key. */
static int cmp_key(const void *a, const void *b)
{
    return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Fold a chunk's offsets into the batch's: the start keeps what it saw
 * first, the end what it saw last (per key, at every depth, when they are
 * objects, as a file source's {"path": offset} and Kafka's {"topic":
 * {"partition": offset}} are). Takes ownership of next. */
static void merge_offset(cJSON **acc, cJSON *next, bool keep_first)
{
    if (!*acc || !next || !cJSON_IsObject(*acc) || !cJSON_IsObject(next)) {
        if (!*acc || (next && !keep_first)) {
            cJSON_Delete(*acc);
            *acc = next;
        } else {
            cJSON_Delete(next);
        }
        return;
    }
    /* acc's keys sorted, to look each of next's up in: a batch of 100,000
     * small files, pulled in chunks, took 30 s of strcmp() searching the
     * list. Keys added here are not in it; a pull names a key once. */
    size_t n = (size_t)cJSON_GetArraySize(*acc), i = 0;
    cJSON **index = n > 8 ? malloc(n * sizeof(cJSON *)) : NULL;
    for (cJSON *c = index ? (*acc)->child : NULL; c; c = c->next)
        index[i++] = c;
    if (index)
        qsort(index, n, sizeof(cJSON *), cmp_key);
    cJSON *item;
    while ((item = next->child) != NULL) {
        cJSON_DetachItemViaPointer(next, item);
        cJSON **at = index ? bsearch(&item, index, n, sizeof(cJSON *), cmp_key) : NULL;
        cJSON *have =
            index ? (at ? *at : NULL) : cJSON_GetObjectItemCaseSensitive(*acc, item->string);
        if (!have) {
            cJSON_AddItemToArray(*acc, item); /* keeps item's own key */
        } else if (cJSON_IsObject(have) && cJSON_IsObject(item)) {
            merge_offset(&have, item, keep_first); /* {"topic": {"partition": n}} */
        } else if (!keep_first) {
            cJSON_ReplaceItemViaPointer(*acc, have, item);
            if (at)
                *at = item;
        } else {
            cJSON_Delete(item);
        }
    }
    free(index);
    cJSON_Delete(next);
}

/* Step 1, one chunk: pull from every source into eng->text within budget
 * bytes, starting with a different source each time so none starves. At a
 * stop (drain) only from the sources that cannot read again what they
 * hold: a replayable one (a file, Kafka) loses nothing by stopping now. */
static int pull(struct wcs_engine *eng, size_t budget, bool drain, char *err, size_t errlen)
{
    struct batch *b = eng->cur;
    assert(eng->nsrcs > 0); /* the config asks for a source */
    eng->text.len = 0;
    for (size_t k = 0; k < eng->nsrcs; k++) {
        size_t i = (eng->next_src + k) % eng->nsrcs;
        struct wcs_source *src = &eng->srcs[i];
        struct wcs_progress_source *ps = &b->psrc[i];
        if (drain && src->plugin->restore)
            continue;
        size_t used = eng->text.len;
        struct wcs_pull p = {
            .text = &eng->text,
            .budget = used < budget ? budget - used : 0,
            .arena = &b->arena,
            .offs = &b->offs,
            .source = src->key ? src->key : src->desc,
        };
        int r = src->plugin->pull(src, &p, err, errlen);
        merge_offset(&ps->start, p.start, true);
        merge_offset(&ps->end, p.end, false);
        if (p.metrics) { /* the latest pull's view is the batch's */
            cJSON_Delete(ps->metrics);
            ps->metrics = p.metrics;
        }
        if (r < 0)
            return -1;
        ps->description = src->desc;
        ps->rows += p.rows;
        ps->bytes += p.bytes;
        ps->lines_cut = p.lines_cut;
        eng->end_batch |= p.end_batch;
    }
    eng->next_src = (eng->next_src + 1) % eng->nsrcs;
    return 0;
}

static bool all_finished(struct wcs_engine *eng)
{
    for (size_t i = 0; i < eng->nsrcs; i++)
        if (!eng->srcs[i].plugin->finished || !eng->srcs[i].plugin->finished(&eng->srcs[i]))
            return false;
    return true;
}

static void phase(struct wcs_progress *pr, enum wcs_phase ph, int64_t ns)
{
    pr->phase_ms[ph] = (double)ns / 1e6;
    pr->phases_done |= 1u << ph;
}

/* Step 3, retried with backoff while it fails (a full disk, a locked file;
 * not a damaged file, which no retry mends):
 * the batch stays in memory and no next batch is handed over meanwhile. */
static int commit(struct wcs_engine *eng, const struct batch *b, struct wcs_progress *pr, char *err,
                  size_t errlen)
{
    cJSON *json = wcs_progress_json(pr);
    char *text = json ? wcs_json_print(json) : NULL;
    cJSON_Delete(json);
    int64_t wait_ms = RETRY_MIN_MS;
    int r;
    while ((r = wcs_state_commit(eng->st, pr->batch_id, &b->offs, pr->input_rows, text, err,
                                 errlen)) < 0) {
        if (r == WCS_STATE_DAMAGED) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, "; not retrying: the state file is damaged");
            break;
        }
        if (eng->stopping) {
            wcs_error("%s", err);
            break;
        }
        if (pr->batch_id == 0)
            wcs_error("%s; the state holds no batch yet; retrying in %" PRId64 " ms", err, wait_ms);
        else
            wcs_error("%s; the state still holds batch %" PRId64 "; retrying in %" PRId64 " ms",
                      err, pr->batch_id - 1, wait_ms);
        /* Only a stop cuts the wait short (looked at every 50 ms). */
        for (int64_t until = wcs_now_ns() + wait_ms * 1000000, now;
             !eng->stopping && (now = wcs_now_ns()) < until;) {
            int64_t ns = until - now < 50000000 ? until - now : 50000000;
            nanosleep(&(struct timespec){.tv_nsec = (long)ns}, NULL);
        }
        wait_ms = wait_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : wait_ms * 2;
    }
    free(text);
    return r;
}

/* Append the batch's progress record to --progress-log. A failed write
 * (a full disk) loses that record, not the batch: warned once per cause. */
static void log_progress(struct wcs_engine *eng, const struct wcs_progress *pr)
{
    cJSON *progress = wcs_progress_json(pr);
    char *line = progress ? wcs_json_print(progress) : NULL;
    cJSON_Delete(progress);
    eng->record.len = 0;
    eng->progress_log = wcs_record_file_follow(eng->progress_log, eng->cf->progress_log);
    int r = line && wcs_buf_printf(&eng->record, "%s\n", line) == 0
                ? wcs_buf_write_record(eng->progress_log, &eng->record)
                : -ENOMEM;
    free(line);
    if (r < 0 && -r != eng->progress_err)
        wcs_warn("progress log %s: batch %" PRId64 " not written: %s; later batches are tried",
                 eng->cf->progress_log, pr->batch_id, strerror(-r));
    else if (r == 0 && eng->progress_err)
        wcs_info("progress log %s: written again", eng->cf->progress_log);
    eng->progress_err = -r;
}

struct replay {
    struct wcs_sink *sk;
    struct wcs_result res;
    char err[256];
};

static int replay_rows(void *arg, const struct wcs_row *rows, size_t n)
{
    struct replay *r = arg;
    r->res.updated = rows;
    r->res.n_updated = n;
    return r->sk->plugin->emit(r->sk, &r->res, r->err, sizeof(r->err));
}

/* Send sk the whole state as the rows of batch `last`. 0, or -1 with err. */
static int replay_sink(struct wcs_engine *eng, struct wcs_sink *sk, int64_t last, char *err,
                       size_t errlen)
{
    struct replay r = {.sk = sk, .err = ""};
    r.res = (struct wcs_result){
        .batch_id = last,
        .mode = eng->cf->mode,
        .distinct_words = wcs_state_distinct(eng->st),
        .total_words = wcs_state_total(eng->st),
    };
    r.res.top = wcs_state_top(eng->st, &r.res.n_top);
    if (wcs_state_scan(eng->st, 10000, replay_rows, &r, err, errlen) < 0) {
        if (r.err[0])
            wcs_err(err, errlen, "sink %s: %s", sk->desc, r.err);
        return -1;
    }
    return 0;
}

/* Steps 3 and 4 for a gathered batch: stage its words, commit, emit. */
static int run_batch(struct wcs_engine *eng, const struct batch *b, char *err, size_t errlen)
{
    struct wcs_progress pr = {
        .id = wcs_state_query_id(eng->st),
        .run_id = eng->run_id,
        .batch_id = wcs_state_last_batch(eng->st) + 1,
        .timestamp = b->wall,
        .sources = b->psrc,
        .nsources = eng->nsrcs,
        .sink_description = eng->sink_desc,
    };
    for (size_t i = 0; i < eng->nsrcs; i++) {
        pr.input_rows += b->psrc[i].rows;
        pr.input_bytes += b->psrc[i].bytes;
    }
    if (eng->prev_trigger_ns)
        pr.input_rows_per_second =
            (double)pr.input_rows / ((double)(b->start_ns - eng->prev_trigger_ns) / 1e9);
    eng->prev_trigger_ns = b->start_ns;
    /* The threads' tables, merged into key order: part of aggregating. */
    int64_t t = wcs_now_ns();
    size_t ngroups;
    if (wcs_state_stage(eng->st, b->sets, b->nsets, &ngroups, err, errlen) < 0)
        return -1;
    phase(&pr, WCS_PHASE_GET_BATCH, b->get_ns);
    phase(&pr, WCS_PHASE_TOKENIZE, b->tokenize_ns);
    phase(&pr, WCS_PHASE_AGGREGATE, b->aggregate_ns + wcs_now_ns() - t);
    pr.rows_updated = (int64_t)ngroups;
    t = wcs_now_ns();
    if (commit(eng, b, &pr, err, errlen) < 0)
        return -1;
    phase(&pr, WCS_PHASE_STATE_COMMIT, wcs_now_ns() - t);
    pr.rows_total = wcs_state_distinct(eng->st);
    pr.total_words = wcs_state_total(eng->st);

    /* The result the sinks see. */
    size_t ntop;
    const struct wcs_row *top = wcs_state_top(eng->st, &ntop);
    pr.sink_output_rows = eng->cf->mode == WCS_MODE_COMPLETE ? pr.rows_total : pr.rows_updated;
    phase(&pr, WCS_PHASE_TRIGGER, wcs_now_ns() - b->start_ns);
    cJSON *progress = wcs_progress_json(&pr);
    struct wcs_result res = {
        .batch_id = pr.batch_id,
        .mode = eng->cf->mode,
        .updated = wcs_state_updated(eng->st, &ngroups),
        .n_updated = ngroups,
        .top = top,
        .n_top = ntop,
        .distinct_words = pr.rows_total,
        .total_words = pr.total_words,
        .progress = progress,
    };
    t = wcs_now_ns();
    for (size_t i = 0; i < eng->nsinks; i++) {
        char serr[256];
        struct wcs_sink *sk = &eng->sinks[i];
        int rc = sk->plugin->emit(sk, &res, serr, sizeof(serr));
        if (rc == 0 && sk->missed) { /* taking batches again: the ones it missed too */
            wcs_info("sink %s: sending all %" PRId64 " counts again, for the batches it missed",
                     sk->desc, pr.rows_total);
            rc = replay_sink(eng, sk, pr.batch_id, serr, sizeof(serr));
        }
        sk->missed = rc < 0 && sk->plugin->at_least_once;
        if (rc == 0) {
            if (sk->plugin->at_least_once &&
                wcs_state_set_delivered(eng->st, sk->desc, pr.batch_id, serr, sizeof(serr)) < 0)
                wcs_warn("sink %s: %s; it gets the whole state again at the next start", sk->desc,
                         serr);
        } else {
            wcs_warn("sink %s: batch %" PRId64 ": %s", sk->desc, pr.batch_id, serr);
            /* An at-least-once sink that gave up waiting at a stop: say so in
             * the exit. Other sinks only missed a batch, as while running. */
            if (eng->stopping && sk->plugin->at_least_once && !eng->stop_err[0])
                snprintf(eng->stop_err, sizeof(eng->stop_err), "sink %s: %s", sk->desc, serr);
        }
    }
    cJSON_Delete(progress);
    phase(&pr, WCS_PHASE_SINKS, wcs_now_ns() - t);
    phase(&pr, WCS_PHASE_TRIGGER, wcs_now_ns() - b->start_ns);
    if (eng->progress_log >= 0)
        log_progress(eng, &pr);
    wcs_info("batch %" PRId64 ": %" PRIu64 " rows, %" PRIu64 " bytes, %zu words updated, "
             "%" PRId64 " distinct in state; %.1f ms (tokenize %.1f, aggregate %.1f, commit %.1f, "
             "sinks %.1f)",
             pr.batch_id, pr.input_rows, pr.input_bytes, ngroups, pr.rows_total,
             pr.phase_ms[WCS_PHASE_TRIGGER], pr.phase_ms[WCS_PHASE_TOKENIZE],
             pr.phase_ms[WCS_PHASE_AGGREGATE], pr.phase_ms[WCS_PHASE_STATE_COMMIT],
             pr.phase_ms[WCS_PHASE_SINKS]);
    return 0;
}

/* Make b ready to gather the next batch into. A source's lines cut are a
 * total since the start: b keeps the other batch's (the last gathered), so
 * a source a stop's batch does not pull (a replayable one) shows it too. */
static void reset_batch(struct wcs_engine *eng, struct batch *b)
{
    const struct batch *last = b == &eng->batches[0] ? &eng->batches[1] : &eng->batches[0];
    b->offs.n = 0;
    wcs_arena_reset(&b->arena);
    for (size_t i = 0; i < eng->nsrcs; i++) {
        cJSON_Delete(b->psrc[i].start);
        cJSON_Delete(b->psrc[i].end);
        cJSON_Delete(b->psrc[i].metrics);
        b->psrc[i] = (struct wcs_progress_source){.description = eng->srcs[i].desc,
                                                  .lines_cut = last->psrc[i].lines_cut};
    }
    b->bytes = 0;
    b->get_ns = b->tokenize_ns = b->aggregate_ns = 0;
}

/*
 * Steps 1 and 2 for one batch: pull a chunk, tokenize and aggregate it,
 * and go on while the sources have more right now, up to
 * --max-bytes-per-trigger. Only the chunk and the batch's distinct words
 * are held, so a backlog makes batches bigger (fewer state writes per
 * byte) without making memory bigger. With available-now a batch waits
 * for more rather than ending when a source is empty for now: it ends at
 * that bound, at BATCH_MAX_GROUPS (checked per pull, so where that falls
 * can follow a reader thread's pace) or at the end of the input.
 * *full: the last chunk was full; *cut: and the batch ended at a memory
 * bound, so more input is waiting. drain: after a stop, take what the
 * sources hold now, waiting for nothing.
 */
static int gather(struct wcs_engine *eng, bool drain, bool *full, bool *cut, char *err,
                  size_t errlen)
{
    struct batch *b = eng->cur;
    bool available_now = eng->cf->available_now && !drain;
    *full = false;
    eng->end_batch = false;
    while (b->bytes < eng->cf->max_bytes && (drain || !eng->stopping) && !eng->end_batch &&
           wcs_fold_groups(eng->fold) < BATCH_MAX_GROUPS) {
        size_t budget = eng->cf->max_bytes - b->bytes;
        budget = budget < CHUNK_BYTES ? budget : CHUNK_BYTES;
        int64_t t = wcs_now_ns();
        if (pull(eng, budget, drain, err, errlen) < 0)
            return -1;
        if (eng->text.len == 0 && available_now && !all_finished(eng)) {
            wcs_notify_wait(&eng->notify, IDLE_POLL_MS); /* more is coming */
            b->get_ns += wcs_now_ns() - t;
            continue;
        }
        b->get_ns += wcs_now_ns() - t;
        if (eng->text.len == 0)
            break;
        if (wcs_fold_text(eng->fold, eng->text.data, eng->text.len) < 0) {
            wcs_err(err, errlen, "out of memory while tokenizing");
            return -1;
        }
        b->bytes += eng->text.len;
        *full = eng->text.len >= budget / 2;
        if (!*full && !available_now)
            break;
    }
    *cut = *full && !eng->end_batch &&
           (b->bytes >= eng->cf->max_bytes || wcs_fold_groups(eng->fold) >= BATCH_MAX_GROUPS);
    return 0;
}

/* Step 5: the sources learn that a batch is durable and delivered. */
static void ack(struct wcs_engine *eng)
{
    for (size_t i = 0; i < eng->nsrcs; i++)
        if (eng->srcs[i].plugin->commit)
            eng->srcs[i].plugin->commit(&eng->srcs[i]);
}

static void *committer_main(void *arg)
{
    struct wcs_engine *eng = arg;
    pthread_mutex_lock(&eng->mu);
    for (;;) {
        while (!eng->job && !eng->quit)
            pthread_cond_wait(&eng->cv, &eng->mu);
        if (!eng->job)
            break;
        struct batch *b = eng->job;
        pthread_mutex_unlock(&eng->mu);
        char err[sizeof(eng->job_err)];
        int rc = run_batch(eng, b, err, sizeof(err));
        pthread_mutex_lock(&eng->mu);
        eng->job_rc = rc;
        if (rc < 0)
            memcpy(eng->job_err, err, sizeof(err));
        eng->job = NULL;
        pthread_cond_broadcast(&eng->cv);
        wcs_notify_signal(&eng->notify); /* an engine filling the next batch hands it over */
    }
    pthread_mutex_unlock(&eng->mu);
    return NULL;
}

/* Wait until the batch handed over (if any) is committed and emitted, then
 * ack it. 0, or -1 with the committer's error. */
static int finish_batch(struct wcs_engine *eng, char *err, size_t errlen)
{
    if (!eng->handed)
        return 0;
    eng->handed = false;
    pthread_mutex_lock(&eng->mu);
    while (eng->job)
        pthread_cond_wait(&eng->cv, &eng->mu);
    int rc = eng->job_rc;
    if (rc < 0)
        wcs_err(err, errlen, "%s", eng->job_err);
    eng->job_rc = 0;
    pthread_mutex_unlock(&eng->mu);
    if (rc == 0)
        ack(eng);
    return rc;
}

static bool committing(struct wcs_engine *eng)
{
    pthread_mutex_lock(&eng->mu);
    bool busy = eng->job != NULL;
    pthread_mutex_unlock(&eng->mu);
    return busy;
}

static bool empty_batch(const struct batch *b)
{
    return b->bytes == 0 && b->offs.n == 0;
}

/* Hand the gathered batch to the committer (after the one before it is
 * done) and start gathering the next into the other buffers; without
 * overlap, wait for this one too. 0 or -1. */
static int hand_over(struct wcs_engine *eng, char *err, size_t errlen)
{
    struct batch *b = eng->cur;
    /* Sorted on every core, while the batch before may still commit. */
    if (wcs_fold_sets(eng->fold, b->sets) < 0) {
        wcs_err(err, errlen, "out of memory while sorting a batch");
        return -1;
    }
    b->nsets = wcs_fold_threads(eng->fold);
    wcs_fold_times(eng->fold, &b->tokenize_ns, &b->aggregate_ns);
    if (finish_batch(eng, err, errlen) < 0)
        return -1;
    eng->handed = true;
    pthread_mutex_lock(&eng->mu);
    eng->job = b;
    pthread_cond_broadcast(&eng->cv);
    pthread_mutex_unlock(&eng->mu);
    /* The other buffers' batch is done: gather into them. */
    eng->cur = eng->cur == &eng->batches[0] ? &eng->batches[1] : &eng->batches[0];
    wcs_fold_swap(eng->fold);
    reset_batch(eng, eng->cur);
    return eng->overlap ? 0 : finish_batch(eng, err, errlen);
}

/* At-least-once sinks that may have missed the last committed batch (a
 * crash, or a stop while they waited) get the whole state again first. */
static int replay_sinks(struct wcs_engine *eng, char *err, size_t errlen)
{
    int64_t last = wcs_state_last_batch(eng->st);
    for (size_t i = 0; i < eng->nsinks && last >= 0; i++) {
        struct wcs_sink *sk = &eng->sinks[i];
        if (!sk->plugin->at_least_once || wcs_state_delivered(eng->st, sk->desc) >= last)
            continue;
        wcs_info("sink %s: batch %" PRId64 " may not have reached it before the last stop; "
                 "sending all %" PRId64 " counts again",
                 sk->desc, last, wcs_state_distinct(eng->st));
        if (replay_sink(eng, sk, last, err, errlen) < 0) {
            if (eng->stopping)
                return -1;
            /* As for a batch it failed while running (the broker down
             * longer than message.timeout.ms): the query goes on, and the
             * next batch the sink takes is followed by the whole state. */
            wcs_warn("%s; sending it again after the next batch delivered", err);
            sk->missed = true;
            continue;
        }
        if (wcs_state_set_delivered(eng->st, sk->desc, last, err, errlen) < 0)
            wcs_warn("sink %s: %s", sk->desc, err);
    }
    return 0;
}

/* A batch's trigger is the pull that finds it empty and starts it: its
 * progress record's timestamp and the start of its triggerExecution and
 * getBatch (the pulls before it found nothing and are no batch's). */
static void stamp_trigger(struct batch *b)
{
    if (empty_batch(b)) {
        b->start_ns = wcs_now_ns();
        clock_gettime(CLOCK_REALTIME, &b->wall);
        b->get_ns = 0;
    }
}

int wcs_engine_run(struct wcs_engine *eng, char *err, size_t errlen)
{
    const struct wcs_config *cf = eng->cf;
    int64_t interval_ns = cf->available_now ? 0 : cf->trigger_ms * 1000000;
    int64_t deadline = wcs_now_ns();
    bool backlog = true; /* the last batch stopped at a full chunk: go on at once */
    bool cut = false;    /* ... and at a memory bound: even before the next tick */
    wcs_info("query %s run %s started: %zu source(s), %zu sink(s), state %s at batch %" PRId64,
             wcs_state_query_id(eng->st), eng->run_id, eng->nsrcs, eng->nsinks, cf->state_path,
             wcs_state_last_batch(eng->st));
    if (replay_sinks(eng, err, errlen) < 0)
        return -1;
    eng->overlap = true;
    for (size_t i = 0; i < eng->nsrcs; i++)
        eng->overlap &= eng->srcs[i].plugin->commit == NULL;
    int e = pthread_create(&eng->committer, NULL, committer_main, eng);
    if (e) {
        wcs_err(err, errlen, "cannot start the committer thread: %s", strerror(e));
        return -1;
    }
    eng->committer_started = true;
    reset_batch(eng, eng->cur);
    while (!eng->stopping) {
        /* A batch that failed for good (a damaged state) ends the run now,
         * not when the next batch is handed over. */
        if (eng->handed && !committing(eng) && finish_batch(eng, err, errlen) < 0)
            return -1;
        int64_t now = wcs_now_ns();
        if (interval_ns && !cut) {
            if (now < deadline && !all_finished(eng)) { /* an ended input waits for no tick */
                wcs_notify_wait(&eng->notify, (deadline - now + 999999) / 1000000);
                continue; /* woken early: by data (ignored until the tick) or to stop */
            }
            deadline = deadline + interval_ns > now ? deadline + interval_ns : now;
        } else if (!interval_ns && !backlog) {
            wcs_notify_wait(&eng->notify, IDLE_POLL_MS);
            if (eng->stopping)
                break;
        }
        stamp_trigger(eng->cur);
        bool finished = all_finished(eng); /* before the pull: no data may slip in after */
        if (gather(eng, false, &backlog, &cut, err, errlen) < 0)
            return -1;
        /* No new data, no batch; but consumed input without text (empty
         * Kafka messages) still moves offsets that must commit. */
        if (empty_batch(eng->cur)) {
            if (finished)
                break;
            continue;
        }
        /* With --trigger 0, what arrives while the last batch commits joins
         * the batch in hand rather than queueing behind it: batches grow
         * with the commit time, and a line waits for at most the rest of
         * one commit before its own. */
        if (!interval_ns && !cf->available_now && !cut && !finished && committing(eng))
            continue;
        if (hand_over(eng, err, errlen) < 0)
            return -1;
    }
    /* A stop: the batch in hand is committed too, with the lines an inbox
     * already holds, as far as --max-bytes-per-trigger allows. */
    stamp_trigger(eng->cur);
    if (gather(eng, true, &backlog, &cut, err, errlen) < 0 ||
        (!empty_batch(eng->cur) && hand_over(eng, err, errlen) < 0))
        return -1;
    if (finish_batch(eng, err, errlen) < 0)
        return -1;
    wcs_info("query %s stopped at batch %" PRId64, wcs_state_query_id(eng->st),
             wcs_state_last_batch(eng->st));
    /* An at-least-once sink still short of the last batch: the run did not
     * deliver all it counted, so it does not end as if it had. */
    for (size_t i = 0; i < eng->nsinks && !eng->stop_err[0]; i++)
        if (eng->sinks[i].missed)
            snprintf(eng->stop_err, sizeof(eng->stop_err),
                     "sink %s: batch %" PRId64 " was not delivered; the next start sends it "
                     "all the counts again",
                     eng->sinks[i].desc, wcs_state_last_batch(eng->st));
    if (eng->stop_err[0]) {
        wcs_err(err, errlen, "%s", eng->stop_err);
        return -1;
    }
    return 0;
}
