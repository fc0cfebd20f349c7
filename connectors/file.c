/*
 * file.c - the file:// and stdin sources.
 *
 * file://PATH reads a file, or every file of a directory in name order
 * (names starting with '.' or '_' are skipped, as Spark does), and keeps
 * watching: bytes appended to a file and new files are read on later
 * triggers. It is replayable: the byte offset of every file goes into the
 * state with the batch's counts, and a restart resumes exactly where the
 * last committed batch ended. Reading happens in the engine's pull(), as
 * regular files never block. Like Spark, a file is taken to be complete
 * when it appears (write it elsewhere and rename it in): its last line
 * counts even without a trailing newline. The service's own files (the
 * state and SQLite's files beside it, the progress log, jsonl sinks'
 * files) are never read: each batch would feed the next.
 *
 * stdin (also "-") reads standard input on a thread of its own (it may be
 * a pipe or a terminal) and ends at end of input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wcstream/framer.h"
#include "wcstream/inbox.h"
#include "wcstream/log.h"
#include "wcstream/progress.h"
#include "wcstream/source.h"
#include "wcstream/state.h"

#define READ_CHUNK (256 * 1024)
#define GONE_NS    ((int64_t)10 * 1000000000) /* a file missing this long is forgotten */

struct file_entry {
    char *name;         /* path as opened; the partition key in the state */
    int64_t offset;     /* bytes consumed into committed or pending batches */
    int failing;        /* the errno it was skipped for last (logged once), or 0 */
    bool stored;        /* it may have an offset in the state */
    bool listed;        /* in the directory at this scan */
    int64_t missing_ns; /* since when the scans have not listed it, or 0 */
};

/* A file this process writes (it may not exist yet). */
struct own_file {
    struct wcs_file_place at;
    bool state; /* SQLite's state: its -wal, -shm and -journal too */
};

struct file_src {
    char *path;
    bool is_dir;
    bool available_now;
    bool scanned; /* available-now: the file list is taken once */
    bool drained; /* the last pull found nothing left to read */
    bool rekey;   /* offsets may be kept under the URI as given: rekey() */
    int scan_err; /* the errno the directory's last scan failed with, or 0 */
    struct file_entry *files;
    size_t nfiles, cap;
    /* Stored files gone from the directory, whose offsets the state still
     * holds: forgotten with the next batch that moves an offset. */
    char **gone;
    size_t ngone, gone_cap;
    struct wcs_framer fr;
    char *chunk;
    struct own_file *own;
    size_t nown;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct file_entry *)a)->name, ((const struct file_entry *)b)->name);
}

/* The entry of name among the first n (sorted) of f->files, or NULL. */
static struct file_entry *find_in(struct file_src *f, size_t n, const char *name)
{
    struct file_entry key = {.name = (char *)name};
    return n ? bsearch(&key, f->files, n, sizeof(key), cmp_entry) : NULL;
}

static struct file_entry *find(struct file_src *f, const char *name)
{
    return find_in(f, f->nfiles, name);
}

/* Append name (copied) with offset, out of order. NULL on OOM. */
static struct file_entry *append(struct file_src *f, const char *name, int64_t offset)
{
    if (f->nfiles == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct file_entry *v = realloc(f->files, cap * sizeof(*v));
        if (!v)
            return NULL;
        f->files = v;
        f->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    f->files[f->nfiles] = (struct file_entry){.name = copy, .offset = offset};
    return &f->files[f->nfiles++];
}

/* Add name (copied) with offset, keeping the list sorted: the state's
 * offsets come in key order, each at the end. NULL on OOM. */
static struct file_entry *add(struct file_src *f, const char *name, int64_t offset)
{
    struct file_entry *e = find(f, name);
    if (e || !(e = append(f, name, offset)))
        return e;
    struct file_entry added = *e;
    size_t i = f->nfiles - 1;
    for (; i > 0 && strcmp(f->files[i - 1].name, name) > 0; i--)
        f->files[i] = f->files[i - 1];
    f->files[i] = added;
    return &f->files[i];
}

/* Sort the entries a scan appended after the first n into place. A
 * directory changed while it is read may list a name twice: kept once. */
static void sort_appended(struct file_src *f, size_t n)
{
    if (f->nfiles == n)
        return;
    qsort(f->files, f->nfiles, sizeof(*f->files), cmp_entry);
    size_t k = 0;
    for (size_t i = 0; i < f->nfiles; i++) {
        if (k && strcmp(f->files[k - 1].name, f->files[i].name) == 0)
            free(f->files[i].name); /* both appended: neither has an offset yet */
        else
            f->files[k++] = f->files[i];
    }
    f->nfiles = k;
}

/* The own file that `name` in directory (dev, ino) is, or NULL. */
static const struct own_file *own_file(const struct file_src *f, dev_t dev, ino_t ino,
                                       const char *name)
{
    for (size_t i = 0; i < f->nown; i++)
        if (wcs_file_place_is(&f->own[i].at, f->own[i].state, dev, ino, name))
            return &f->own[i];
    return NULL;
}

/* The own file that path names, or NULL. */
static const struct own_file *own_path(const struct file_src *f, const char *path)
{
    struct wcs_file_place at;
    if (!f->nown || wcs_file_place(path, &at) < 0)
        return NULL;
    const struct own_file *o = own_file(f, at.dev, at.ino, at.base);
    free(at.base);
    return o;
}

/* Forget the files that the directory has not listed for GONE_NS (deleted,
 * or renamed away): a service watching a directory for months, whose files
 * come and go, must not keep, stat() at every pull and store the names of
 * all the files it ever saw. A name back within GONE_NS is the file it was
 * (replaced: rm and create), one back later a new file. An available-now
 * run lists the directory once and sees none come back: a name missing
 * then is gone at once. The stored ones wait in f->gone until a batch
 * deletes their offsets. 0 or -ENOMEM. */
static int forget_gone(struct file_src *f)
{
    int64_t now = wcs_now_ns();
    size_t n = f->ngone;
    for (size_t i = 0; i < f->nfiles; i++) {
        struct file_entry *e = &f->files[i];
        if (e->listed)
            e->missing_ns = 0;
        else if (!e->missing_ns)
            e->missing_ns = now;
        e->listed = e->listed || (!f->available_now && now - e->missing_ns < GONE_NS); /* kept */
        n += !e->listed && e->stored;
    }
    if (n > f->gone_cap) {
        char **v = realloc(f->gone, n * sizeof(*v));
        if (!v)
            return -ENOMEM;
        f->gone = v;
        f->gone_cap = n;
    }
    size_t k = 0;
    for (size_t i = 0; i < f->nfiles; i++) {
        struct file_entry *e = &f->files[i];
        if (e->listed) {
            e->listed = false;
            f->files[k++] = *e;
        } else if (e->stored) {
            f->gone[f->ngone++] = e->name;
        } else {
            free(e->name);
        }
    }
    f->nfiles = k;
    return 0;
}

/* Learn the directory's files (or the one file). While watching, a
 * directory that is gone or cannot be read (no descriptor left, no
 * permission) is waited for, as a missing file is; with available-now that
 * ends the run. 0, or -1 with err. */
static int scan(struct file_src *f, const char *desc, char *err, size_t errlen)
{
    if (!f->is_dir)
        return add(f, f->path, 0) ? 0 : (snprintf(err, errlen, "out of memory"), -1);
    DIR *d = opendir(f->path);
    if (!d && (f->available_now || errno == ENOMEM)) {
        snprintf(err, errlen, "%s: cannot read directory %s: %s", desc, f->path, strerror(errno));
        return -1;
    }
    if (!d) {
        int e_no = errno; /* wcs_warn() may change errno */
        if (e_no != f->scan_err)
            wcs_warn("%s: cannot read directory %s: %s; waiting for it", desc, f->path,
                     e_no == ENOENT ? "it is gone" : strerror(e_no));
        f->scan_err = e_no;
        return 0;
    }
    if (f->scan_err)
        wcs_info("%s: directory %s can be read again", desc, f->path);
    f->scan_err = 0;
    struct dirent *de;
    char name[4096];
    struct stat dir;
    bool dir_known = f->nown && fstat(dirfd(d), &dir) == 0;
    size_t known = f->nfiles; /* sorted */
    int r = 0;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_' ||
            (dir_known && own_file(f, dir.st_dev, dir.st_ino, de->d_name)))
            continue;
        snprintf(name, sizeof(name), "%s/%s", f->path, de->d_name);
        /* A link is the file it leads to (a --state symlink beside it). */
        bool link = de->d_type == DT_LNK || de->d_type == DT_UNKNOWN;
        if (link && own_path(f, name))
            continue;
        /* A known name is listed whatever it is now (a FIFO in a file's
         * place is skipped by the pull, not forgotten). New ones are
         * appended and sorted once after the scan: one insertion each in
         * order cost a directory of 100,000 files 18 s. */
        struct file_entry *e = find_in(f, known, name);
        struct stat sb;
        if (!e && stat(name, &sb) == 0 && S_ISREG(sb.st_mode) && !(e = append(f, name, 0))) {
            snprintf(err, errlen, "out of memory");
            r = -1;
        }
        if (e)
            e->listed = true;
    }
    closedir(d);
    sort_appended(f, known);
    if (r == 0 && forget_gone(f) < 0) {
        snprintf(err, errlen, "out of memory");
        r = -1;
    }
    return r;
}

/* Record the files this process writes (env's state_path and written),
 * whose directories exist: a sink's that does not has failed its start.
 * A file source naming one of them is bad usage; a directory holding some
 * says once which it leaves alone. sb is f->path's stat. 0, or -1 or
 * WCS_EUSAGE with err. */
static int own_files(struct wcs_source *src, struct file_src *f, const struct wcs_source_env *env,
                     const struct stat *sb, char *err, size_t errlen)
{
    size_t n = env->state_path ? 1 : 0;
    for (size_t i = 0; env->written && env->written[i]; i++)
        n++;
    if (n && !(f->own = calloc(n, sizeof(*f->own)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char names[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        bool state = env->state_path && i == 0;
        const char *path = state ? env->state_path : env->written[i - (env->state_path ? 1 : 0)];
        struct own_file *o = &f->own[f->nown];
        if (wcs_file_place(path, &o->at) < 0)
            continue;
        o->state = state;
        f->nown++;
        if (f->is_dir && o->at.dev == sb->st_dev && o->at.ino == sb->st_ino && len < sizeof(names))
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s%s", len ? ", " : "",
                                    o->at.base, state ? " (and its -wal, -shm, -journal)" : "");
    }
    const struct own_file *o = f->is_dir ? NULL : own_path(f, f->path);
    if (o) {
        snprintf(err, errlen, "%s: %s is the service's own %s, not an input", src->desc, f->path,
                 o->state ? "state file" : "output file");
        return WCS_EUSAGE;
    }
    if (len)
        wcs_info("%s: not reading %s: the service's own files", src->desc, names);
    return 0;
}

/* The offsets belong to the path, not to how the URI spells it (a
 * trailing '/', the scheme's case, percent-escapes): a restart that spells
 * it otherwise must not read every file again. They are kept under
 * "file://PATH", and also restored from the URI as given, where earlier
 * versions kept them, until rekey() moves them. 0 or -1 (out of memory). */
static int offsets_keys(struct wcs_source *src, const char *path)
{
    size_t len = strlen(path) + sizeof("file://");
    if (!(src->key = malloc(len)))
        return -1;
    snprintf(src->key, len, "file://%s", path);
    if (strcmp(src->key, src->desc) == 0)
        return 0;
    struct file_src *f = src->ctx;
    f->rekey = true;
    if (!(src->keys = calloc(3, sizeof(char *))) || !(src->keys[0] = strdup(src->key)) ||
        !(src->keys[1] = strdup(src->desc)))
        return -1;
    return 0;
}

/* Move the offsets kept under the URI as given (offsets_keys()) to the
 * path's key, with the first batch that moves one, as the gone files'
 * are forgotten: once they are gone from there, a restart that spells the
 * URI otherwise finds them all. 0 or -ENOMEM. */
static int rekey(struct wcs_source *src, struct file_src *f, struct wcs_pull *p)
{
    for (size_t i = 0; i < f->nfiles; i++) {
        const struct file_entry *e = &f->files[i];
        if (e->stored && (wcs_pull_offset(p, e->name, e->offset) < 0 ||
                          wcs_pull_offset_in(p, src->desc, e->name, WCS_OFFSET_FORGET) < 0))
            return -ENOMEM;
    }
    for (size_t i = 0; i < f->ngone; i++)
        if (wcs_pull_offset_in(p, src->desc, f->gone[i], WCS_OFFSET_FORGET) < 0)
            return -ENOMEM;
    f->rekey = false;
    return 0;
}

static int file_init(struct wcs_source *src, struct wcs_uri *uri, const struct wcs_source_env *env,
                     char *err, size_t errlen)
{
    struct file_src *f = calloc(1, sizeof(*f));
    if (!f || !(f->chunk = malloc(READ_CHUNK)) || !(f->path = strdup(uri->target))) {
        if (f)
            free(f->chunk);
        free(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    src->ctx = f;
    f->available_now = env->available_now;
    wcs_framer_init(&f->fr, env->max_line);
    size_t len = strlen(f->path);
    while (len > 1 && f->path[len - 1] == '/')
        f->path[--len] = '\0';
    if (!*f->path) {
        snprintf(err, errlen, "%s: no path given; e.g. file:///var/log/app or stdin", src->desc);
        return WCS_EUSAGE;
    }
    struct stat sb;
    if (stat(f->path, &sb) < 0) {
        snprintf(err, errlen, "%s: cannot read %s: %s", src->desc, f->path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s: %s is neither a file nor a directory", src->desc, f->path);
        return -1;
    }
    f->is_dir = S_ISDIR(sb.st_mode);
    int r = offsets_keys(src, f->path);
    if (r < 0)
        snprintf(err, errlen, "out of memory");
    return r < 0 ? r : own_files(src, f, env, &sb, err, errlen);
}

static int file_restore(struct wcs_source *src, const char *partition, int64_t offset, char *err,
                        size_t errlen)
{
    struct file_src *f = src->ctx;
    if (own_path(f, partition))
        return 0; /* read by a version that did not leave it alone */
    struct file_entry *e = add(f, partition, offset);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->stored = true;
    return 0;
}

static void json_offset(cJSON **obj, const char *name, int64_t offset)
{
    if (!*obj)
        *obj = cJSON_CreateObject();
    cJSON_AddNumberToObject(*obj, name, (double)offset);
}

/* e cannot be read now (errno e_no; EINVAL: not a regular file). With
 * available-now, or out of memory, that ends the run (-1 with err); else e
 * is skipped until a later pull, with a warning the first time (0).
 * Closes fd if it is not -1. */
static int skip(struct file_src *f, struct file_entry *e, const struct wcs_pull *p, int e_no,
                int fd, char *err, size_t errlen)
{
    if (fd >= 0)
        close(fd);
    const char *why = e_no == EINVAL ? "not a regular file" : strerror(e_no);
    if (f->available_now || e_no == ENOMEM) {
        snprintf(err, errlen, "%s: cannot read %s: %s", p->source, e->name, why);
        return -1;
    }
    if (e->failing != e_no)
        wcs_warn("%s: cannot read %s: %s; skipping it for now", p->source, e->name, why);
    e->failing = e_no;
    return 0;
}

/* Whether t is less than a second from now, before or after. */
static bool within_a_second(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (t->tv_sec > now.tv_sec + 1 || t->tv_sec < now.tv_sec - 1)
        return false; /* far off: no nanoseconds to multiply out */
    int64_t ns = (int64_t)(now.tv_sec - t->tv_sec) * 1000000000 + (now.tv_nsec - t->tv_nsec);
    return ns < 1000000000 && ns >= -1000000000;
}

/* Read e from its offset into p->text until the budget or the end of the
 * file. At the end of the file its last line without a newline is a line
 * (files are taken to be complete, as in Spark), except while watching a
 * file that changed in the last second. A line not read whole (that one,
 * or one the budget stopped in) stays in the file: e->offset is its start
 * and the next pull reads it again, so the framer holds nothing from one
 * file to the next and no file waits for another. A file shorter than its
 * offset (truncated, or replaced by a shorter one) is read again from its
 * start. A file that cannot be opened or read (no permission, no
 * descriptor left, not a regular file any more) is skipped, with a
 * warning once, and tried again on later pulls; with available-now it ends
 * the run (-1 with err), as does running out of memory. */
static int read_file(struct file_src *f, struct file_entry *e, struct wcs_pull *p, char *err,
                     size_t errlen)
{
    /* O_NONBLOCK: a FIFO put in a file's place must not block the open. */
    int fd = open(e->name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    bool known = fd >= 0 && fstat(fd, &sb) == 0;
    if (fd < 0 && errno == ENOENT)
        return 0; /* deleted since the scan: nothing more to read */
    if (fd < 0 || (known && !S_ISREG(sb.st_mode)))
        return skip(f, e, p, fd < 0 ? errno : EINVAL, fd, err, errlen);
    /* Settled: unchanged for a second, or stamped in the future (clock
     * skew, an unpacked archive), when its time tells nothing. */
    bool settled = f->available_now || !known || !within_a_second(&sb.st_mtim);
    int64_t was = e->offset;
    if (known && sb.st_size < e->offset) {
        wcs_warn("%s: %s is shorter than the %" PRId64
                 " bytes read of it (truncated or replaced); reading it again from its start",
                 p->source, e->name, e->offset);
        e->offset = 0;
    }
    int64_t pos = e->offset;
    int r = 0;
    bool read_ok = true;
    json_offset(&p->start, e->name, e->offset);
    while (p->bytes < p->budget) {
        size_t want = p->budget - p->bytes;
        want = want < 4096 ? 4096 : want > READ_CHUNK ? READ_CHUNK : want;
        ssize_t n = pread(fd, f->chunk, want, pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) { /* what was read before stays read */
            read_ok = false;
            r = skip(f, e, p, errno, -1, err, errlen);
            break;
        }
        size_t before = p->text->len;
        /* A file that grew since the fstat() is not settled after all: the
         * bytes past its size may be half a line still being written. */
        settled &= !known || pos <= sb.st_size;
        int fr = n         ? wcs_framer_feed(&f->fr, f->chunk, (size_t)n, p->text, &p->rows)
                 : settled ? wcs_framer_flush(&f->fr, p->text, &p->rows)
                           : 0;
        if (fr < 0) {
            snprintf(err, errlen, "%s: out of memory", p->source);
            r = -1;
            break;
        }
        p->bytes += p->text->len - before;
        pos += n;
        if (n == 0)
            break;
    }
    close(fd);
    e->offset = pos - (int64_t)f->fr.part.len;
    f->fr.part.len = 0; /* read again from e->offset next time */
    if (read_ok && e->failing) {
        wcs_info("%s: %s can be read again", p->source, e->name);
        e->failing = 0;
    }
    if (r == 0) {
        json_offset(&p->end, e->name, e->offset);
        if (e->offset != was && wcs_pull_offset(p, e->name, e->offset) < 0) {
            snprintf(err, errlen, "%s: out of memory", p->source);
            r = -1;
        }
        e->stored |= e->offset != was;
    }
    return r;
}

static int file_pull(struct wcs_source *src, struct wcs_pull *p, char *err, size_t errlen)
{
    struct file_src *f = src->ctx;
    if (!f->scanned && scan(f, src->desc, err, errlen) < 0)
        return -1;
    f->scanned = f->available_now;
    bool read_any = false;
    size_t had = p->offs->n;
    for (size_t i = 0; i < f->nfiles && p->bytes < p->budget; i++) {
        struct file_entry *e = &f->files[i];
        struct stat sb;
        if (stat(e->name, &sb) < 0 || sb.st_size == e->offset)
            continue;
        read_any = true;
        if (read_file(f, e, p, err, errlen) < 0)
            return -1;
    }
    f->drained = !read_any;
    p->lines_cut = f->fr.cuts;
    /* The gone files' offsets go with a batch that moves one; a name back
     * since then gets its new offset instead. With no such batch they go
     * alone, in a batch of no rows, with the first pull that finds
     * nothing to read: only this run knows they are gone, and a file back
     * under such a name after a stop must be read whole. */
    bool carry = p->offs->n > had || (f->drained && f->ngone);
    if (f->rekey && carry && rekey(src, f, p) < 0) {
        snprintf(err, errlen, "%s: out of memory", p->source);
        return -1;
    }
    for (; f->ngone && carry; f->ngone--) {
        char *name = f->gone[f->ngone - 1];
        struct file_entry *e = find(f, name);
        if ((e ? wcs_pull_offset(p, name, e->offset) : wcs_pull_forget(p, name)) < 0) {
            snprintf(err, errlen, "%s: out of memory", p->source);
            return -1;
        }
        if (e)
            e->stored = true;
        free(name);
    }
    return 0;
}

static bool file_finished(struct wcs_source *src)
{
    struct file_src *f = src->ctx;
    return f->available_now && f->scanned && f->drained;
}

static void file_destroy(struct wcs_source *src)
{
    struct file_src *f = src->ctx;
    if (!f)
        return;
    for (size_t i = 0; i < f->nfiles; i++)
        free(f->files[i].name);
    free(f->files);
    for (size_t i = 0; i < f->ngone; i++)
        free(f->gone[i]);
    free(f->gone);
    for (size_t i = 0; i < f->nown; i++)
        free(f->own[i].at.base);
    free(f->own);
    free(f->path);
    free(f->chunk);
    wcs_framer_free(&f->fr);
    free(f);
    src->ctx = NULL;
}

const struct wcs_source_plugin wcs_source_file = {
    .scheme = "file",
    .usage = "file://PATH            a file or a directory of files, watched; exact restarts",
    .init = file_init,
    .restore = file_restore,
    .pull = file_pull,
    .finished = file_finished,
    .destroy = file_destroy,
};

/* ---- stdin -------------------------------------------------------------- */

struct stdin_src {
    struct wcs_inbox ib;
    struct wcs_framer fr;
    pthread_t tid;
    bool running;
};

static void *stdin_thread(void *arg)
{
    struct stdin_src *s = arg;
    char *chunk = malloc(READ_CHUNK);
    struct pollfd pf[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                           {.fd = s->ib.wake.fd, .events = POLLIN}};
    int error = chunk ? 0 : ENOMEM; /* the input did not reach its end: the run fails */
    while (!error && wcs_inbox_wait_space(&s->ib)) {
        if (poll(pf, 2, -1) < 0 && errno != EINTR) {
            error = errno;
            break;
        }
        if (pf[1].revents)
            continue; /* woken to stop: wait_space says so */
        if (!pf[0].revents)
            continue;
        ssize_t n = read(STDIN_FILENO, chunk, READ_CHUNK);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            error = errno;
        else if (n == 0)
            break;
        else
            error = -wcs_inbox_feed(&s->ib, &s->fr, chunk, (size_t)n);
    }
    if (!error) /* the stream's last line, without its '\n' */
        error = -wcs_inbox_feed(&s->ib, &s->fr, NULL, 0);
    free(chunk);
    wcs_inbox_close(&s->ib, error);
    return NULL;
}

static int stdin_init(struct wcs_source *src, struct wcs_uri *uri, const struct wcs_source_env *env,
                      char *err, size_t errlen)
{
    if (*uri->target) {
        snprintf(err, errlen, "%s: stdin takes no path; use file://PATH for files", src->desc);
        return WCS_EUSAGE;
    }
    struct stdin_src *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    src->ctx = s;
    wcs_framer_init(&s->fr, env->max_line);
    int r = wcs_inbox_init(&s->ib, env->max_bytes, env->notify);
    if (r == 0)
        r = wcs_inbox_thread(&s->tid, stdin_thread, s);
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot start its reader: %s", src->desc, strerror(-r));
        return -1;
    }
    s->running = true;
    return 0;
}

static int stdin_pull(struct wcs_source *src, struct wcs_pull *p, char *err, size_t errlen)
{
    struct stdin_src *s = src->ctx;
    return wcs_inbox_take(&s->ib, p, err, errlen);
}

static bool stdin_finished(struct wcs_source *src)
{
    struct stdin_src *s = src->ctx;
    return wcs_inbox_finished(&s->ib);
}

static void stdin_destroy(struct wcs_source *src)
{
    struct stdin_src *s = src->ctx;
    if (!s)
        return;
    if (s->running) {
        wcs_inbox_stop(&s->ib);
        pthread_join(s->tid, NULL);
    }
    wcs_inbox_destroy(&s->ib);
    wcs_framer_free(&s->fr);
    free(s);
    src->ctx = NULL;
}

const struct wcs_source_plugin wcs_source_stdin = {
    .scheme = "stdin",
    .usage = "stdin, -               standard input, until its end",
    .init = stdin_init,
    .pull = stdin_pull,
    .finished = stdin_finished,
    .destroy = stdin_destroy,
};
