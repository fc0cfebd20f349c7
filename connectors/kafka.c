/*
 * kafka.c - the kafka:// source: a consumer group member whose offsets
 * live in the state.
 *
 *   kafka://BROKER[,BROKER...]/TOPIC[,TOPIC...]?group=G&startingOffsets=
 *       earliest|latest&maxOffsetsPerTrigger=N&failOnDataLoss=BOOL&kafka.P=V
 *
 * librdkafka's high-level consumer is polled in pull(), on the engine
 * thread; its queue wakes the engine through the notify eventfd when
 * messages arrive. Every message value is text (several lines, or a last
 * line without '\n'). Exactly-once state: the next offset of every
 * partition the batch read goes into the same SQLite transaction as the
 * counts.
 *
 * Between members of a group the hand-over goes through the group's
 * committed offsets, and those are claimed before a pull's messages are
 * counted, not after the batch commits: a pull commits its new end offsets
 * to the group (synchronously, tagged "wcstream QUERY_ID FROM" with FROM
 * the batch's start) and gives its messages to the batch only once the
 * group took them; if the group refuses (a rebalance under way, fenced,
 * the brokers down), they are put back and read again later. So whatever
 * a member counted is in the group before another member can be given the
 * partition, even when the group takes no commit during the rebalance
 * itself (librdkafka's mock) or the member was dropped from the group
 * mid-batch. On assignment a partition starts at the group's offset, or
 * at the state's when that is newer; a claim of this query's own that its
 * state never committed (it was killed mid-batch) starts again at the
 * claim's FROM. While the group's offsets cannot be read, the partitions
 * assigned stay paused and unread (another member may be ahead of the
 * state); later pulls ask again. A revocation that would take away
 * partitions the batch in hand has read is held back until that batch is
 * committed.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "wcstream/framer.h"
#include "wcstream/inbox.h"
#include "wcstream/kafka.h"
#include "wcstream/log.h"
#include "wcstream/progress.h"
#include "wcstream/source.h"

struct part {
    char *topic;
    int32_t partition;
    int64_t next; /* next offset to read; -1 until the first message */
    int64_t end;  /* available-now: stop here; -1 when not known yet */
    bool assigned;
    bool dirty;       /* read by the batch in hand, not committed yet */
    int64_t restored; /* committed offset (the state's, or where the
                         assignment started), -1 when none; while dirty:
                         the batch's first offset */
    int64_t claimed;  /* the group's committed offset as this member last
                         set or read it, -1 when not known */
    bool unsettled;   /* assigned, but the group's offset (or, for
                         available-now, its watermarks) could not be read
                         yet: paused, not read from until it is */
    /* The pull in progress: the first offset it took (-1: none), and what
     * it changed, to put back if the group refuses its claim. */
    int64_t pull_first;
    struct {
        int64_t next, took, restored;
        bool dirty;
    } before;
    /* maxOffsetsPerTrigger's share of this partition in the batch in hand,
     * -1 for no share of its own; took: messages taken against it */
    int64_t quota, took, lag;
    bool over_quota; /* paused until the batch in hand is committed */
};

struct kafka_src {
    rd_kafka_t *rk;
    char *desc;
    bool available_now;
    bool fail_on_data_loss;
    bool assigned;           /* the group's last word was an assignment: no rebalance under way */
    int64_t max_per_trigger; /* 0: no bound */
    int64_t taken;           /* messages in the batch in hand */
    bool quotas_set;         /* the batch in hand has shares */
    bool unshared;           /* its shares took nothing: the total bound only */
    int idle_pulls;          /* pulls in a row that took nothing while shares held */
    int64_t settle_at_ns;    /* when a pull asks the group for its offsets again */
    int settle_wait_ms;      /* how long it waits for them then, 0: SETTLE_WAIT_MS */
    int64_t ts_min, ts_max;  /* message timestamps (ms) in the batch in hand */
    int64_t starting;        /* RD_KAFKA_OFFSET_BEGINNING or _END */
    char **new_topics;       /* seen missing by this run: created since it started */
    size_t n_new_topics;     /* how many */
    char *query_id;          /* tags this state's claims in the group */
    struct part *parts;
    size_t nparts, cap;
    rd_kafka_topic_partition_list_t *revoke; /* held back until the commit */
    struct wcs_framer fr;
    char *fatal;                   /* a failure to report from the next pull */
    rd_kafka_resp_err_t last_err;  /* logged once per change */
    rd_kafka_resp_err_t claim_err; /* the last refused claim, logged once */
};

static struct part *find_part(struct kafka_src *k, const char *topic, int32_t partition,
                              bool create)
{
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].partition == partition && strcmp(k->parts[i].topic, topic) == 0)
            return &k->parts[i];
    if (!create)
        return NULL;
    if (k->nparts == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 16;
        struct part *v = realloc(k->parts, cap * sizeof(*v));
        if (!v)
            return NULL;
        k->parts = v;
        k->cap = cap;
    }
    char *t = strdup(topic);
    if (!t)
        return NULL;
    k->parts[k->nparts] = (struct part){.topic = t,
                                        .partition = partition,
                                        .next = -1,
                                        .end = -1,
                                        .restored = -1,
                                        .claimed = -1,
                                        .pull_first = -1,
                                        .before = {.next = -1, .restored = -1},
                                        .quota = -1};
    return &k->parts[k->nparts++];
}

static void set_fatal(struct kafka_src *k, const char *fmt, const char *a, const char *b)
{
    if (k->fatal)
        return;
    size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
    if ((k->fatal = malloc(n)) != NULL)
        snprintf(k->fatal, n, fmt, a, b);
}

/* Whether topic was missing when this run looked for it: a topic created
 * since the query started. */
static bool new_topic(const struct kafka_src *k, const char *topic)
{
    for (size_t i = 0; i < k->n_new_topics; i++)
        if (strcmp(k->new_topics[i], topic) == 0)
            return true;
    return false;
}

/* Where a partition of topic without an offset in the state or the group
 * starts. startingOffsets=latest skips what was there when the query
 * started; a topic created since holds nothing from before, so it is read
 * from its first message, as Spark reads partitions that appear after its
 * start (at latest, what was produced to it before the group assigned it
 * would be lost). */
static int64_t starting_at(const struct kafka_src *k, const char *topic)
{
    return new_topic(k, topic) ? RD_KAFKA_OFFSET_BEGINNING : k->starting;
}

/* Add p at `offset` to l, tagged as this query's claim of what follows
 * `from` (the metadata is freed with the list). */
static void add_claim(struct kafka_src *k, rd_kafka_topic_partition_list_t *l, const struct part *p,
                      int64_t offset, int64_t from)
{
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    char tag[128];
    int n = snprintf(tag, sizeof(tag), "wcstream %s %" PRId64, k->query_id, from);
    tp->offset = offset;
    if (n > 0 && (size_t)n < sizeof(tag) && (tp->metadata = malloc((size_t)n)) != NULL) {
        memcpy(tp->metadata, tag, (size_t)n);
        tp->metadata_size = (size_t)n;
    }
}

/* The FROM of a committed offset's claim when this query made it, else -1. */
static int64_t own_claim(const struct kafka_src *k, const rd_kafka_topic_partition_t *tp)
{
    char tag[128];
    size_t n = strlen(k->query_id);
    if (!tp->metadata || tp->metadata_size >= sizeof(tag))
        return -1;
    memcpy(tag, tp->metadata, tp->metadata_size);
    tag[tp->metadata_size] = '\0';
    if (strncmp(tag, "wcstream ", 9) != 0 || strncmp(tag + 9, k->query_id, n) != 0 ||
        tag[9 + n] != ' ')
        return -1;
    char *end;
    long long from = strtoll(tag + 10 + n, &end, 10);
    return *end == '\0' && from >= 0 ? (int64_t)from : -1;
}

/* Commit l to the group and wait for the answer: 0, or the first error. */
static rd_kafka_resp_err_t commit_sync(struct kafka_src *k, rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, l, 0);
    for (int i = 0; !e && i < l->cnt; i++)
        e = l->elems[i].err;
    return e;
}

/* p's low and high watermarks. librdkafka's query asks for each mark in a
 * request of its own, and when one of the two answers an error for the
 * partition it gives the other mark for both, with no error (its reading
 * of an empty partition): a start at earliest was pinned past every
 * message of the partition, seen in test_kafka_faults as ListOffsets came
 * back. One mark for both is asked again, once: an empty partition
 * answers the same. */
static rd_kafka_resp_err_t watermarks(const struct kafka_src *k, const struct part *p, int64_t *lo,
                                      int64_t *hi, int wait_ms)
{
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(k->rk, p->topic, p->partition, lo, hi, wait_ms);
    if (!e && *lo == *hi)
        e = rd_kafka_query_watermark_offsets(k->rk, p->topic, p->partition, lo, hi, wait_ms);
    return e;
}

/* Where p starts, from the group's committed offset of it (ctp, as
 * rd_kafka_committed() answered): the group's offset (another member's
 * progress) or the state's, whichever is newer, else startingOffsets; a
 * claim of this query's own that the state does not hold starts again at
 * its FROM. Where that differs from the group's offset, fix gets a claim
 * of it, to tell the group. A start at latest, or at the first message of
 * a new topic, is pinned to the high or low watermark (asked for, up to
 * wait_ms; else librdkafka resolves it) and claimed: the state records a
 * partition only once a batch reads from it, so a restart would otherwise
 * start a partition that got nothing meanwhile at latest again, past what
 * arrived while the query was down. */
static int64_t start_offset(struct kafka_src *k, struct part *p,
                            const rd_kafka_topic_partition_t *ctp,
                            rd_kafka_topic_partition_list_t *fix, int wait_ms)
{
    int64_t c = ctp->offset; /* RD_KAFKA_OFFSET_INVALID: none */
    int64_t from = own_claim(k, ctp);
    int64_t best = p->restored > c ? p->restored : c;
    if (from >= 0) /* ours: the state says how much of it was counted */
        best = p->restored > from ? p->restored : from;
    int64_t start = starting_at(k, p->topic);
    p->claimed = c;
    if (best < 0 && (start == RD_KAFKA_OFFSET_END || new_topic(k, p->topic))) {
        int64_t lo, hi;
        if (watermarks(k, p, &lo, &hi, wait_ms) || hi < 0 || lo < 0)
            return start; /* librdkafka resolves it, unclaimed */
        int64_t at = start == RD_KAFKA_OFFSET_END ? hi : lo;
        if (k->available_now) /* read to its end (pin_to_end) */
            p->next = at;
        add_claim(k, fix, p, at, at);
        return at;
    }
    if (best < 0)
        return start;
    p->next = p->restored = best;
    if (best != c)
        add_claim(k, fix, p, best, best);
    return best;
}

/* Commit fix's claims (see start_offset); a later hand-over tries again if
 * that fails (see commit_to_kafka). Frees fix. */
static void tell_group(struct kafka_src *k, rd_kafka_topic_partition_list_t *fix)
{
    if (fix->cnt && commit_sync(k, fix) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < fix->cnt; i++) {
            struct part *p = find_part(k, fix->elems[i].topic, fix->elems[i].partition, false);
            if (p)
                p->claimed = fix->elems[i].offset;
        }
    rd_kafka_topic_partition_list_destroy(fix);
}

static const char *offset_name(int64_t offset)
{
    return offset == RD_KAFKA_OFFSET_BEGINNING ? "earliest "
           : offset == RD_KAFKA_OFFSET_END     ? "latest "
                                               : "";
}

/* available-now reads p up to its end: the high watermark when first
 * known. A start at earliest or latest (*at < 0) is pinned to the low mark
 * or that end, so p is finished once read there. A start past that end
 * (the topic was recreated or truncated) is data loss, as a fetch there
 * would say: fatal with failOnDataLoss, else p starts at the low mark. An
 * error when the watermarks cannot be read: p is not read until they can
 * be. */
static rd_kafka_resp_err_t pin_to_end(struct kafka_src *k, struct part *p, int64_t *at, int wait_ms)
{
    int64_t lo, hi;
    if (!k->available_now || (p->end >= 0 && *at >= 0))
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t e = watermarks(k, p, &lo, &hi, wait_ms);
    if (e)
        return e;
    if (p->end < 0)
        p->end = hi;
    if (*at > hi && hi >= 0) { /* the topic was recreated or truncated since */
        char what[400];
        snprintf(what, sizeof(what),
                 "offset %" PRId64 " of %s/%" PRId32 " is past its end %" PRId64, *at, p->topic,
                 p->partition, hi);
        if (k->fail_on_data_loss)
            set_fatal(k,
                      "%s: stored offsets are no longer on the broker (%s); data was lost. "
                      "Use failOnDataLoss=false to go on from the earliest offset",
                      k->desc, what);
        else
            *at = p->next = lo;
    }
    if (*at < 0)
        *at = p->next = *at == RD_KAFKA_OFFSET_BEGINNING ? lo : p->end;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Set each newly assigned partition's start (start_offset). When the
 * group's offsets (or, for available-now, the watermarks) cannot be read,
 * the partitions are assigned where the state has them, to be paused
 * (pause_unsettled) until a pull reads them (settle). */
static void choose_offsets(rd_kafka_t *rk, struct kafka_src *k,
                           rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(list);
    rd_kafka_topic_partition_list_t *fix = rd_kafka_topic_partition_list_new(list->cnt + 1);
    rd_kafka_resp_err_t ce = rd_kafka_committed(rk, committed, 10000);
    if (ce)
        wcs_warn("%s: cannot read the group's committed offsets (%s); not reading the "
                 "partitions assigned until they can be read",
                 k->desc, rd_kafka_err2str(ce));
    for (int i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &list->elems[i];
        struct part *p = find_part(k, tp->topic, tp->partition, true);
        if (!p) /* out of memory: librdkafka reads the group's offset */
            continue;
        rd_kafka_resp_err_t pe = ce ? ce : committed->elems[i].err;
        if (pe && !ce)
            wcs_warn("%s: cannot read the group's committed offset of %s/%" PRId32
                     " (%s); not reading it until it can be read",
                     k->desc, tp->topic, tp->partition, rd_kafka_err2str(pe));
        p->assigned = true;
        p->unsettled = pe != RD_KAFKA_RESP_ERR_NO_ERROR;
        p->claimed = -1;
        int64_t at = p->unsettled ? 0 : start_offset(k, p, &committed->elems[i], fix, 2000);
        int64_t pinned = at; /* tp keeps a logical start: librdkafka resolves it */
        rd_kafka_resp_err_t we =
            p->unsettled ? RD_KAFKA_RESP_ERR_NO_ERROR : pin_to_end(k, p, &pinned, 10000);
        if (at >= 0) /* moved to the low mark when past the end (pin_to_end) */
            at = pinned;
        if (we) {
            wcs_warn("%s: cannot read the watermarks of %s/%" PRId32
                     " (%s); not reading it until they can be read",
                     k->desc, tp->topic, tp->partition, rd_kafka_err2str(we));
            p->unsettled = true;
        }
        tp->offset = !p->unsettled      ? at
                     : p->restored >= 0 ? p->restored
                                        : starting_at(k, tp->topic);
        if (!p->unsettled)
            wcs_info("%s: assigned %s/%" PRId32 " from offset %s%" PRId64, k->desc, tp->topic,
                     tp->partition, offset_name(tp->offset), tp->offset < 0 ? 0 : tp->offset);
    }
    rd_kafka_topic_partition_list_destroy(committed);
    tell_group(k, fix);
}

/* The partitions assigned whose group offsets are not known, or NULL. */
static rd_kafka_topic_partition_list_t *unsettled(const struct kafka_src *k)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].assigned && k->parts[i].unsettled) {
            if (!l)
                l = rd_kafka_topic_partition_list_new(4);
            rd_kafka_topic_partition_list_add(l, k->parts[i].topic, k->parts[i].partition);
        }
    return l;
}

/* After an assignment of list: its partitions are read unless unsettled.
 * A pause of this client's outlives a revocation, so one left from an
 * earlier assignment (unsettled then, or held at a share or an end) is
 * lifted here. */
static void pause_unsettled(struct kafka_src *k, const rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_topic_partition_list_t *go = rd_kafka_topic_partition_list_new(list->cnt + 1);
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = find_part(k, list->elems[i].topic, list->elems[i].partition, false);
        if (!p || !p->unsettled)
            rd_kafka_topic_partition_list_add(go, list->elems[i].topic, list->elems[i].partition);
    }
    if (go->cnt)
        rd_kafka_resume_partitions(k->rk, go);
    rd_kafka_topic_partition_list_destroy(go);
    rd_kafka_topic_partition_list_t *l = unsettled(k);
    if (l) {
        rd_kafka_pause_partitions(k->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* Ask the group again for the offsets of the unsettled partitions; once it
 * answers they start where start_offset() says and are read. The engine's
 * thread waits for the answer, up to SETTLE_WAIT_MS at first, doubling
 * with each failure up to a second, with a second between tries, so a
 * coordinator that stays away slows the other sources of the query as
 * little as it can. */
#define SETTLE_WAIT_MS     100
#define SETTLE_WAIT_MAX_MS 1000
static void settle(struct kafka_src *k)
{
    rd_kafka_topic_partition_list_t *l = wcs_now_ns() >= k->settle_at_ns ? unsettled(k) : NULL;
    if (!l)
        return;
    int wait = k->settle_wait_ms ? k->settle_wait_ms : SETTLE_WAIT_MS;
    rd_kafka_resp_err_t e = rd_kafka_committed(k->rk, l, wait);
    rd_kafka_topic_partition_list_t *go = rd_kafka_topic_partition_list_new(l->cnt);
    rd_kafka_topic_partition_list_t *fix = rd_kafka_topic_partition_list_new(l->cnt);
    for (int i = 0; !e && i < l->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &l->elems[i];
        struct part *p = find_part(k, tp->topic, tp->partition, false);
        int64_t at;
        if (tp->err)
            continue;
        at = start_offset(k, p, tp, fix, wait);
        if (pin_to_end(k, p, &at, wait)) /* numeric: seek() takes no logical offsets */
            continue;
        rd_kafka_topic_partition_list_add(go, tp->topic, tp->partition)->offset = at;
    }
    rd_kafka_error_t *se = go->cnt ? rd_kafka_seek_partitions(k->rk, go, 5000) : NULL;
    if (se)
        rd_kafka_error_destroy(se);
    rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(go->cnt + 1);
    for (int i = 0; !se && i < go->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &go->elems[i];
        struct part *p = find_part(k, tp->topic, tp->partition, false);
        if (tp->err) /* stays paused: the next try seeks again */
            continue;
        p->unsettled = false;
        rd_kafka_topic_partition_list_add(resume, tp->topic, tp->partition);
        wcs_info("%s: read the group's offset of %s/%" PRId32 "; starting from offset %s%" PRId64,
                 k->desc, tp->topic, tp->partition, offset_name(tp->offset),
                 tp->offset < 0 ? 0 : tp->offset);
    }
    if (resume->cnt)
        rd_kafka_resume_partitions(k->rk, resume);
    rd_kafka_topic_partition_list_destroy(resume);
    rd_kafka_topic_partition_list_destroy(go);
    rd_kafka_topic_partition_list_destroy(l);
    tell_group(k, fix);
    bool left = false;
    for (size_t i = 0; i < k->nparts; i++)
        left |= k->parts[i].assigned && k->parts[i].unsettled;
    k->settle_wait_ms = !left ? 0 : wait * 2 < SETTLE_WAIT_MAX_MS ? wait * 2 : SETTLE_WAIT_MAX_MS;
    k->settle_at_ns = wcs_now_ns() + (left ? 1000000000 : 0);
}

/* Before a hand-over: where the group's offset of one of `list`'s
 * partitions is not the state's (a claim whose batch was never committed,
 * or an assignment the group was not told of), commit the state's and wait
 * for it. The next owner starts from the group's offsets. */
static void commit_to_kafka(struct kafka_src *k, const rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(list->cnt + 1);
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = find_part(k, list->elems[i].topic, list->elems[i].partition, false);
        if (p && !p->unsettled && p->restored >= 0 && p->restored != p->claimed)
            add_claim(k, l, p, p->restored, p->restored);
    }
    rd_kafka_resp_err_t e = l->cnt ? commit_sync(k, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    if (e)
        wcs_warn("%s: committing offsets before a hand-over: %s", k->desc, rd_kafka_err2str(e));
    for (int i = 0; !e && i < l->cnt; i++) {
        struct part *p = find_part(k, l->elems[i].topic, l->elems[i].partition, false);
        p->claimed = p->restored;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Hand `list`'s partitions back to the group. */
static void give_up(rd_kafka_t *rk, struct kafka_src *k, rd_kafka_topic_partition_list_t *list)
{
    commit_to_kafka(k, list);
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = find_part(k, list->elems[i].topic, list->elems[i].partition, false);
        if (p)
            p->assigned = p->unsettled = false;
    }
    if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, list);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    struct kafka_src *k = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        choose_offsets(rk, k, list);
        k->assigned = true;
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, list);
            if (e)
                rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, list);
        }
        pause_unsettled(k, list);
        return;
    }
    k->assigned = false; /* revoked or lost: an assignment (perhaps empty) follows */
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        bool held = false;
        for (int i = 0; i < list->cnt; i++) {
            struct part *p = find_part(k, list->elems[i].topic, list->elems[i].partition, false);
            held |= p && p->dirty;
        }
        if (held && !k->revoke) { /* the batch in hand read them: commit it first */
            k->revoke = rd_kafka_topic_partition_list_copy(list);
            wcs_info("%s: partitions revoked; handing them over after the batch in hand", k->desc);
            return;
        }
        give_up(rk, k, list);
        return;
    }
    wcs_warn("%s: rebalance failed: %s", k->desc, rd_kafka_err2str(err));
    for (size_t i = 0; i < k->nparts; i++)
        k->parts[i].assigned = k->parts[i].unsettled = false;
    rd_kafka_assign(rk, NULL);
}

/* Errors that say a topic or partition is not in the cluster's metadata. */
static bool gone_error(int err)
{
    return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
           err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

/* A topic the query has read from is gone: with failOnDataLoss, stop. */
static void topic_lost(struct kafka_src *k, const char *topic)
{
    set_fatal(k,
              "%s: topic %s no longer exists, so what it held is lost. "
              "Use failOnDataLoss=false to wait for it to come back",
              k->desc, topic);
}

/* Whether this query has read from topic (its offsets are in the state). */
static bool had_topic(const struct kafka_src *k, const char *topic)
{
    for (size_t i = 0; i < k->nparts; i++)
        if ((k->parts[i].next >= 0 || k->parts[i].restored >= 0) &&
            strcmp(k->parts[i].topic, topic) == 0)
            return true;
    return false;
}

/* Client-level errors (brokers down, authentication): once per change. */
static void on_client_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kafka_src *k = opaque;
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL || err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        set_fatal(k, "%s: %s", k->desc, reason);
        return;
    }
    if (gone_error(err) && k->fail_on_data_loss) {
        /* librdkafka names the partition first: "TOPIC [N]: ..." */
        for (size_t i = 0; i < k->nparts; i++) {
            size_t n = strlen(k->parts[i].topic);
            if (strncmp(reason, k->parts[i].topic, n) == 0 && reason[n] == ' ' &&
                had_topic(k, k->parts[i].topic)) {
                topic_lost(k, k->parts[i].topic);
                return;
            }
        }
    }
    if ((rd_kafka_resp_err_t)err != k->last_err) {
        k->last_err = (rd_kafka_resp_err_t)err;
        wcs_warn("%s: %s; retrying", k->desc, reason);
    }
}

/* "kafka:" + topic, malloc'd; NULL when out of memory. */
static char *offsets_key(const char *topic)
{
    size_t len = strlen(topic) + sizeof("kafka:");
    char *key = malloc(len);
    if (key)
        snprintf(key, len, "kafka:%s", topic);
    return key;
}

/* Offsets belong to each topic: moving brokers, changing options, or
 * adding, dropping or reordering topics must not lose them. A partition's
 * are kept under "kafka:TOPIC", src->keys (wcs_kafka_target() checked the
 * names). 0, WCS_EUSAGE for a topic named twice (which librdkafka would
 * refuse to subscribe, as an invalid argument), or -1. */
static int topic_keys(struct wcs_source *src, const char *topics, char *err, size_t errlen)
{
    size_t n = 2; /* one topic more than commas, and the NULL */
    for (const char *c = topics; *c; c++)
        n += *c == ',';
    char *copy = strdup(topics);
    if (!copy || !(src->keys = calloc(n, sizeof(char *)))) {
        free(copy);
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    int r = 0;
    n = 0;
    for (char *save, *tp = strtok_r(copy, ",", &save); tp && r == 0;
         tp = strtok_r(NULL, ",", &save)) {
        if (!(src->keys[n] = offsets_key(tp))) {
            wcs_err(err, errlen, "out of memory");
            r = -1;
        } else {
            for (size_t i = 0; i < n && r == 0; i++)
                if (strcmp(src->keys[i], src->keys[n]) == 0) {
                    wcs_err(err, errlen, "%s: topic %s is named twice", src->desc, tp);
                    r = WCS_EUSAGE;
                }
            n++;
        }
    }
    free(copy);
    return r;
}

static int kafka_init(struct wcs_source *src, struct wcs_uri *uri, const struct wcs_source_env *env,
                      char *err, size_t errlen)
{
    struct kafka_src *k = calloc(1, sizeof(*k));
    if (!k) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    src->ctx = k;
    k->desc = strdup(src->desc); /* its own: callbacks may outlive src (close_within) */
    if (!k->desc) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    k->available_now = env->available_now;
    k->query_id = strdup(env->query_id ? env->query_id : "");
    if (!k->query_id) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    k->fail_on_data_loss = true;
    k->ts_min = k->ts_max = -1;
    wcs_framer_init(&k->fr, env->max_line);

    struct wcs_kafka_target t;
    int r = wcs_kafka_target(uri, &t, err, errlen);
    if (r < 0)
        return r;
    if ((r = topic_keys(src, t.topics, err, errlen)) < 0)
        return r;

    const char *starting = wcs_uri_get(uri, "startingOffsets");
    if (starting && strcasecmp(starting, "earliest") != 0 && strcasecmp(starting, "latest") != 0) {
        wcs_err(err, errlen, "%s: startingOffsets must be earliest or latest, not '%s'", src->desc,
                starting);
        return WCS_EUSAGE;
    }
    k->starting = starting && strcasecmp(starting, "earliest") == 0 ? RD_KAFKA_OFFSET_BEGINNING
                                                                    : RD_KAFKA_OFFSET_END;
    size_t max = 0;
    if ((r = wcs_uri_get_size(uri, "maxOffsetsPerTrigger", 1, INT64_MAX, &max, err, errlen)) < 0 ||
        (r = wcs_uri_get_bool(uri, "failOnDataLoss", &k->fail_on_data_loss, err, errlen)) < 0)
        return r;
    k->max_per_trigger = (int64_t)max;

    /* The default group is stable per query: two queries never share one
     * by accident, and a restart rejoins its own. */
    const char *group = wcs_uri_get(uri, "group");
    group = group ? group : env->query_id;

    /* clang-format off */
    const char *const defaults[] = {"group.id", group, NULL};
    const char *const fixed[] = {
        "enable.auto.commit", "false", "offsets are committed after the state",
        "enable.auto.offset.store", "false", "offsets are committed after the state",
        "enable.partition.eof", "true", "available-now needs to know a partition's end",
        /* Stored offsets gone from the broker: an error, or the earliest. */
        "auto.offset.reset", k->fail_on_data_loss ? "error" : "earliest",
        "failOnDataLoss says what happens when stored offsets are gone",
        NULL,
    };
    /* clang-format on */
    rd_kafka_conf_t *conf = wcs_kafka_conf(uri, t.brokers, defaults, fixed, k, &r, err, errlen);
    if (!conf)
        return r;
    char id[2];
    size_t idlen = sizeof(id); /* the group, as kafka.group.id may have set it; "" is unset */
    if (rd_kafka_conf_get(conf, "group.id", id, &idlen) != RD_KAFKA_CONF_OK || idlen <= 1) {
        wcs_err(err, errlen, "%s: the consumer group must not be empty", src->desc);
        rd_kafka_conf_destroy(conf);
        return WCS_EUSAGE;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_client_error);
    char why[512];
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!k->rk) {
        wcs_err(err, errlen, "%s: %s", src->desc, why);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_poll_set_consumer(k->rk);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(k->rk);
    static const uint64_t one = 1; /* an eventfd takes 8-byte writes */
    rd_kafka_queue_io_event_enable(q, wcs_notify_fd(env->notify), &one, sizeof(one));
    rd_kafka_queue_destroy(q);

    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(4);
    for (char *save, *tp = strtok_r(t.topics, ",", &save); tp; tp = strtok_r(NULL, ",", &save))
        rd_kafka_topic_partition_list_add(subs, tp, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k->rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        wcs_err(err, errlen, "%s: cannot subscribe: %s", src->desc, rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

static int kafka_restore(struct wcs_source *src, const char *partition, int64_t offset, char *err,
                         size_t errlen)
{
    struct kafka_src *k = src->ctx;
    const char *slash = strrchr(partition, '/');
    char topic[256];
    if (!slash || (size_t)(slash - partition) >= sizeof(topic)) {
        wcs_err(err, errlen, "%s: bad partition '%s' in the state", src->desc, partition);
        return -1;
    }
    memcpy(topic, partition, (size_t)(slash - partition));
    topic[slash - partition] = '\0';
    struct part *p = find_part(k, topic, (int32_t)atoi(slash + 1), true);
    if (!p) {
        wcs_err(err, errlen, "out of memory");
        return -1;
    }
    p->restored = offset;
    p->next = offset;
    return 0;
}

/* Put one partition back to `offset` and stop reading it for now. */
static void hold(struct kafka_src *k, struct part *p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = offset;
    rd_kafka_pause_partitions(k->rk, l);
    rd_kafka_error_t *e = rd_kafka_seek_partitions(k->rk, l, 5000);
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Remember that topic was missing (see starting_at()). Out of memory it is
 * not remembered: it starts at startingOffsets. */
static void note_new_topic(struct kafka_src *k, const char *topic)
{
    if (!*topic || new_topic(k, topic))
        return;
    char **v = realloc(k->new_topics, (k->n_new_topics + 1) * sizeof(*v));
    if (!v)
        return;
    k->new_topics = v;
    if ((v[k->n_new_topics] = strdup(topic)) != NULL)
        k->n_new_topics++;
}

/* A consumer error: log once per change; some end the query. */
static void on_error(struct kafka_src *k, const rd_kafka_message_t *m)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        set_fatal(k,
                  "%s: stored offsets are no longer on the broker (%s); data was lost. "
                  "Use failOnDataLoss=false to go on from the earliest offset",
                  k->desc, rd_kafka_message_errstr(m));
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
        m->err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
        m->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
        set_fatal(k, "%s: %s", k->desc, rd_kafka_message_errstr(m));
        return;
    }
    bool unknown = gone_error(m->err);
    if (unknown && k->fail_on_data_loss && had_topic(k, topic)) {
        topic_lost(k, topic);
        return;
    }
    if (unknown && !had_topic(k, topic))
        note_new_topic(k, topic);
    if (m->err != k->last_err) {
        k->last_err = m->err;
        if (unknown)
            wcs_warn("%s: topic %s does not exist (yet); waiting for it", k->desc, topic);
        else
            wcs_warn("%s: %s; retrying", k->desc, rd_kafka_message_errstr(m));
    }
}

static cJSON *offsets_json(struct kafka_src *k, bool start)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        if (!p->dirty)
            continue;
        cJSON *t = cJSON_GetObjectItemCaseSensitive(o, p->topic);
        if (!t)
            cJSON_AddItemToObject(o, p->topic, t = cJSON_CreateObject());
        char key[16];
        snprintf(key, sizeof(key), "%" PRId32, p->partition);
        cJSON_AddNumberToObject(t, key, (double)(start ? p->restored : p->next));
    }
    return o;
}

/* Consumer lag per assigned partition, from the watermarks librdkafka last
 * saw (no broker round trip), as Spark's Kafka source reports it. */
static cJSON *lag_metrics(struct kafka_src *k)
{
    cJSON *m = cJSON_CreateObject(), *per = cJSON_CreateObject();
    int64_t max = -1, sum = 0, n = 0;
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        int64_t lo, hi;
        if (!p->assigned || p->next < 0 ||
            rd_kafka_get_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi) || hi < 0)
            continue;
        int64_t lag = hi > p->next ? hi - p->next : 0;
        char key[300];
        snprintf(key, sizeof(key), "%s/%" PRId32, p->topic, p->partition);
        cJSON_AddNumberToObject(per, key, (double)lag);
        max = lag > max ? lag : max;
        sum += lag;
        n++;
    }
    cJSON_AddItemToObject(m, "offsetsBehindLatest", per);
    if (n) {
        cJSON_AddNumberToObject(m, "maxOffsetsBehindLatest", (double)max);
        cJSON_AddNumberToObject(m, "avgOffsetsBehindLatest", (double)sum / (double)n);
    }
    if (k->last_err)
        cJSON_AddStringToObject(m, "lastError", rd_kafka_err2str(k->last_err));
    if (k->ts_min >= 0) {
        cJSON *et = cJSON_CreateObject();
        cJSON_AddNumberToObject(et, "min", (double)k->ts_min);
        cJSON_AddNumberToObject(et, "max", (double)k->ts_max);
        cJSON_AddItemToObject(m, "eventTimeMs", et);
    }
    return m;
}

/* Split maxOffsetsPerTrigger over the assigned partitions in proportion to
 * their lag, as Spark does, so that a deep partition cannot starve the
 * others; the shares add up to maxOffsetsPerTrigger. Lags
 * come from the watermarks librdkafka last saw, or asks for once; while any
 * is unknown the batch has the total bound only. Shares are set once a
 * batch, by its first pull; within the bound there are none. */
#define WATERMARK_WAIT_MS 1000
static void set_quotas(struct kafka_src *k)
{
    int64_t total = 0, left = k->max_per_trigger;
    bool known = true;

    for (size_t i = 0; i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        int64_t lo = -1, hi = -1, at;
        p->quota = p->lag = -1;
        p->took = 0;
        if (!p->assigned || p->unsettled || !known) /* one unknown lag is enough */
            continue;
        /* The watermarks librdkafka cached from its fetches; a partition
         * not fetched yet (or whose low mark was not reported) is asked. */
        if (rd_kafka_get_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi) || hi < 0 ||
            (lo < 0 && p->next < 0 && p->restored < 0))
            if (watermarks(k, p, &lo, &hi, WATERMARK_WAIT_MS) || hi < 0)
                known = false;
        if (p->end >= 0 && hi > p->end) /* available-now reads no further */
            hi = p->end;
        /* A partition not read yet starts where its assignment pinned and
         * claimed it (start_offset), else at startingOffsets: the earliest
         * is the low mark, the latest is not known. (Its end now would give
         * it no lag, so no share: it waited for the others to catch up.) */
        at = p->next >= 0                                            ? p->next
             : p->restored >= 0                                      ? p->restored
             : p->claimed >= 0                                       ? p->claimed
             : starting_at(k, p->topic) == RD_KAFKA_OFFSET_BEGINNING ? lo
                                                                     : -1;
        known = known && at >= 0;
        p->lag = hi > at ? hi - at : 0;
        total += p->lag;
    }
    /* Within the bound everyone takes all it has, and whatever arrives
     * meanwhile: no shares. */
    known = known && total > k->max_per_trigger;
    for (size_t i = 0; known && i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        if (p->lag < 0)
            continue;
        p->quota = (int64_t)((double)k->max_per_trigger * (double)p->lag / (double)total);
        left -= p->quota;
    }
    for (size_t i = 0; known && i < k->nparts && left > 0; i++) { /* what rounding left */
        struct part *p = &k->parts[i];
        if (p->quota >= 0 && p->quota < p->lag) {
            p->quota++;
            left--;
        }
    }
    k->quotas_set = known; /* else planned again by the next pull that finds none taken */
}

/* Forget the shares: the next batch gets new ones, and the partitions that
 * used theirs up go on. */
static void release_quotas(struct kafka_src *k)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        if (p->over_quota)
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
        p->over_quota = false;
        p->quota = -1;
    }
    if (l->cnt)
        rd_kafka_resume_partitions(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    k->quotas_set = false;
    k->idle_pulls = 0;
}

/* Every partition with a share has taken it: the batch in hand is full. */
static bool quotas_full(const struct kafka_src *k)
{
    bool any = false;
    for (size_t i = 0; i < k->nparts; i++) {
        const struct part *p = &k->parts[i];
        if (p->quota >= 0) {
            if (p->took < p->quota)
                return false;
            any = true;
        }
    }
    return any;
}

#define IDLE_PULLS_MAX 50 /* the engine waits 100 ms between empty pulls */

/* Tell the group that the partitions the pull in progress read are read up
 * to their next offsets, before the batch counts them. 0, or -1 when the
 * group did not take it (logged once per change). With the brokers down,
 * librdkafka holds a commit for up to session.timeout.ms before failing
 * it: a pull that took messages just before an outage waits that long
 * (once; its partitions go back and nothing new arrives meanwhile). */
static int claim(struct kafka_src *k)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].pull_first >= 0)
            add_claim(k, l, &k->parts[i], k->parts[i].next, k->parts[i].restored);
    rd_kafka_resp_err_t e = commit_sync(k, l);
    /* A refused commit may have been applied all the same (a timeout, a
     * lost answer, some partitions of it): the group's offset is then not
     * known, and a hand-over puts the state's back. */
    for (size_t i = 0; i < k->nparts; i++)
        if (k->parts[i].pull_first >= 0)
            k->parts[i].claimed = e ? -1 : k->parts[i].next;
    rd_kafka_topic_partition_list_destroy(l);
    if (e && e != k->claim_err)
        wcs_warn("%s: the group did not take the offsets just read (%s); reading them again later",
                 k->desc, rd_kafka_err2str(e));
    else if (!e && k->claim_err)
        wcs_info("%s: the group takes offsets again", k->desc);
    k->claim_err = e;
    return e ? -1 : 0;
}

/* The group refused the pull's claim: take back what the pull added to the
 * batch and read it again later. The batch keeps what earlier pulls
 * claimed. */
static void undo_pull(struct kafka_src *k, struct wcs_pull *p, size_t text_len, uint64_t cuts,
                      int64_t taken, int64_t ts_min, int64_t ts_max)
{
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *q = &k->parts[i];
        if (q->pull_first < 0)
            continue;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, q->topic, q->partition)->offset = q->pull_first;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(k->rk, l, 5000);
        if (e)
            rd_kafka_error_destroy(e);
        if (!q->over_quota) /* held at its available-now end by this pull */
            rd_kafka_resume_partitions(k->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        q->next = q->before.next;
        q->took = q->before.took;
        q->restored = q->before.restored;
        q->dirty = q->before.dirty;
        q->pull_first = -1;
    }
    p->text->len = text_len;
    p->rows = p->bytes = 0;
    k->fr.cuts = cuts;
    k->taken = taken;
    k->ts_min = ts_min;
    k->ts_max = ts_max;
}

/* offset (a message's, or a PARTITION_EOF's) is at or past p's
 * available-now end: everything before the end is read, though the
 * offsets just before it may be transaction markers no message carries. */
static void reached(struct part *p, int64_t offset)
{
    if (!p->unsettled && p->end >= 0 && offset >= p->end && p->next < p->end)
        p->next = p->end;
}

static int kafka_pull(struct wcs_source *src, struct wcs_pull *p, char *err, size_t errlen)
{
    struct kafka_src *k = src->ctx;
    int64_t taken_before = k->taken, ts_min = k->ts_min, ts_max = k->ts_max;
    size_t text_before = p->text->len;
    uint64_t cuts_before = k->fr.cuts;
    p->start = NULL;
    settle(k);
    if (k->max_per_trigger && k->taken == 0 && !k->quotas_set && !k->unshared)
        set_quotas(k);
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *q = &k->parts[i];
        q->pull_first = -1;
        q->before.next = q->next;
        q->before.took = q->took;
        q->before.restored = q->restored;
        q->before.dirty = q->dirty;
    }
    while (!k->revoke && p->bytes < p->budget &&
           (!k->max_per_trigger || k->taken < k->max_per_trigger)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
        if (!m)
            break;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            struct part *pe = find_part(k, rd_kafka_topic_name(m->rkt), m->partition, false);
            if (pe)
                reached(pe, m->offset);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            on_error(k, m);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (k->last_err) {
            wcs_info("%s: reading again", k->desc);
            k->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        struct part *pt = find_part(k, rd_kafka_topic_name(m->rkt), m->partition, true);
        if (!pt) {
            rd_kafka_message_destroy(m);
            wcs_err(err, errlen, "%s: out of memory", src->desc);
            return -1;
        }
        /* Fetched before its pause took effect, or past the available-now end. */
        if (pt->unsettled || (pt->end >= 0 && m->offset >= pt->end)) {
            reached(pt, m->offset);
            hold(k, pt, m->offset);
            rd_kafka_message_destroy(m);
            continue;
        }
        if (pt->quota >= 0 && pt->took >= pt->quota) { /* its share is taken */
            hold(k, pt, m->offset);
            pt->over_quota = true;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (!pt->dirty) {
            pt->dirty = true;
            pt->restored = m->offset; /* the batch's start offset */
        }
        if (pt->pull_first < 0)
            pt->pull_first = m->offset;
        int64_t ts = rd_kafka_message_timestamp(m, NULL);
        if (ts >= 0) { /* event time, kept for windowing */
            k->ts_min = k->ts_min < 0 || ts < k->ts_min ? ts : k->ts_min;
            k->ts_max = ts > k->ts_max ? ts : k->ts_max;
        }
        size_t before = p->text->len;
        int r = m->len ? wcs_framer_feed(&k->fr, m->payload, m->len, p->text, &p->rows) : 0;
        if (r == 0)
            r = wcs_framer_flush(&k->fr, p->text, &p->rows);
        pt->next = m->offset + 1;
        k->taken++;
        pt->took++;
        p->bytes += p->text->len - before;
        rd_kafka_message_destroy(m);
        if (r < 0) {
            wcs_err(err, errlen, "%s: out of memory", src->desc);
            return -1;
        }
        if (pt->end >= 0 && pt->next >= pt->end)
            hold(k, pt, pt->next);
    }
    if (k->fatal) {
        wcs_err(err, errlen, "%s", k->fatal);
        return -1;
    }
    bool refused = k->taken > taken_before && claim(k) < 0;
    if (refused) {
        undo_pull(k, p, text_before, cuts_before, taken_before, ts_min, ts_max);
        if (k->taken == 0) { /* nothing in hand: no commit will come to free these */
            release_quotas(k);
            if (k->revoke) {
                give_up(k->rk, k, k->revoke);
                rd_kafka_topic_partition_list_destroy(k->revoke);
                k->revoke = NULL;
            }
        }
    }
    /* Shares from lags that overstate what is there (transaction markers,
     * compaction) could hold the batch open for ever: after about five
     * seconds of pulls that find nothing, the batch ends with what it has
     * (a paused partition's refetch takes well under that, even loaded). */
    k->idle_pulls = k->quotas_set && k->taken == taken_before ? k->idle_pulls + 1 : 0;
    if (k->taken == 0 && k->idle_pulls >= IDLE_PULLS_MAX) { /* the same plan would stall again */
        release_quotas(k);
        k->unshared = true;
    }
    for (size_t i = 0; i < k->nparts; i++) {
        char key[300];
        if (!k->parts[i].dirty)
            continue;
        char topic_key[300];
        snprintf(key, sizeof(key), "%s/%" PRId32, k->parts[i].topic, k->parts[i].partition);
        snprintf(topic_key, sizeof(topic_key), "kafka:%s", k->parts[i].topic);
        if (wcs_pull_offset_in(p, topic_key, key, k->parts[i].next) < 0) {
            wcs_err(err, errlen, "%s: out of memory", src->desc);
            return -1;
        }
    }
    p->start = offsets_json(k, true);
    p->end = offsets_json(k, false);
    p->metrics = lag_metrics(k);
    p->lines_cut = k->fr.cuts;
    /* A rebalance waiting for this batch, or maxOffsetsPerTrigger reached
     * (or every share of it): the batch in hand is complete. */
    p->end_batch = k->revoke || (refused && k->taken > 0) ||
                   (k->max_per_trigger && (k->taken >= k->max_per_trigger || quotas_full(k) ||
                                           (k->taken > 0 && k->idle_pulls >= IDLE_PULLS_MAX)));
    return 0;
}

static bool kafka_finished(struct wcs_source *src)
{
    struct kafka_src *k = src->ctx;
    /* Not while partitions change hands: between a revocation (a member
     * joining, or the group losing this one in an outage) and the next
     * assignment, having no partition does not mean having read them. */
    if (!k->available_now || !k->assigned || k->revoke || k->fatal) /* the pull reports it */
        return false;
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        if (p->assigned && (p->unsettled || p->end < 0 || p->next < p->end))
            return false;
    }
    return true;
}

static void kafka_commit(struct wcs_source *src)
{
    struct kafka_src *k = src->ctx;
    /* The group has had these offsets since the pulls claimed them. */
    for (size_t i = 0; i < k->nparts; i++) {
        struct part *p = &k->parts[i];
        p->dirty = false;
        if (!p->unsettled) /* else where it starts is not known yet */
            p->restored = p->next;
    }
    release_quotas(k);
    k->unshared = false; /* the next batch is planned afresh */
    k->taken = 0;
    k->ts_min = k->ts_max = -1;
    if (k->revoke) {
        give_up(k->rk, k, k->revoke);
        rd_kafka_topic_partition_list_destroy(k->revoke);
        k->revoke = NULL;
    }
}

/* A consumer being closed on a thread of its own, so that a close that
 * never ends cannot hold the process: librdkafka 2.0 can wait for ever in
 * rd_kafka_destroy() (seen after a subscribed topic was deleted). */
struct closing {
    rd_kafka_t *rk;
    bool leave_group; /* consumer_close: commit, leave the group */
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void finish(rd_kafka_t *rk, bool leave_group)
{
    if (leave_group) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    } else {
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
}

static void *close_consumer(void *arg)
{
    struct closing *c = arg;
    finish(c->rk, c->leave_group);
    pthread_mutex_lock(&c->mu);
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Close rk within CLOSE_WAIT_S; false when it had to be left behind (its
 * callbacks may still run: the caller must not free what they use). */
#define CLOSE_WAIT_S 10
static bool close_within(rd_kafka_t *rk, bool leave_group, const char *desc)
{
    struct closing *c = malloc(sizeof(*c));
    pthread_t t;
    if (c) {
        *c = (struct closing){.rk = rk, .leave_group = leave_group};
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, NULL);
    }
    if (!c || wcs_inbox_thread(&t, close_consumer, c) != 0) { /* signals blocked: main takes them */
        free(c);
        finish(rk, leave_group); /* no thread: here, however long it takes */
        return true;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CLOSE_WAIT_S;
    pthread_mutex_lock(&c->mu);
    while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
        ;
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    if (!done) {
        wcs_warn("%s: the Kafka client did not close within %d s; leaving it behind", desc,
                 CLOSE_WAIT_S);
        pthread_detach(t);
        return false; /* c stays with the thread */
    }
    pthread_join(t, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    return true;
}

static void kafka_destroy(struct wcs_source *src)
{
    struct kafka_src *k = src->ctx;
    if (!k)
        return;
    src->ctx = NULL;
    if (k->rk) {
        /* What was read and not committed is read again from the state's
         * offsets next time: nothing may hold the close's revocation, and
         * the hand-over puts the group's offsets back to the state's. */
        for (size_t i = 0; i < k->nparts; i++)
            k->parts[i].dirty = false;
        if (k->revoke) {
            give_up(k->rk, k, k->revoke);
            rd_kafka_topic_partition_list_destroy(k->revoke);
            k->revoke = NULL;
        }
        /* After a fatal error (a topic gone, authentication refused) the
         * group is past helping: leave it to the session timeout. */
        if (!close_within(k->rk, !k->fatal, k->desc))
            return; /* its callbacks may still use k: the process is ending */
    }
    for (size_t i = 0; i < k->nparts; i++)
        free(k->parts[i].topic);
    free(k->parts);
    for (size_t i = 0; i < k->n_new_topics; i++)
        free(k->new_topics[i]);
    free(k->new_topics);
    free(k->fatal);
    free(k->query_id);
    free(k->desc);
    wcs_framer_free(&k->fr);
    free(k);
}

const struct wcs_source_plugin wcs_source_kafka = {
    .scheme = "kafka",
    .usage = "kafka://BROKERS/TOPICS a consumer group member; exact restarts",
    .init = kafka_init,
    .restore = kafka_restore,
    .pull = kafka_pull,
    .finished = kafka_finished,
    .commit = kafka_commit,
    .destroy = kafka_destroy,
};
