/*
 * fuzz_http.c - libFuzzer target for the ws:// sink's request checks
 * (sinks/http.c): who may see the dashboard, the API and /metrics, and
 * which file a path may name.
 *
 * Input: one byte of flags (a token or not; which headers are too long to
 * copy, which query arguments are present), then '\n'-separated fields: the
 * path, Host, Origin, Authorization, Cookie, ?token=, ?n=, the server's
 * token and its host name. Every decision is compared with a reference
 * written differently (the cookie split into items, Host cut at its port,
 * Origin rebuilt from Host, ?n= read digit by digit, routes from a table),
 * so a request let in that should not be, or the reverse, aborts. The path
 * is also resolved in a scratch dashboard directory that has symlinks out
 * of it and a sibling whose name starts the same: whatever it resolves to
 * must be inside the directory, checked by walking up the parents by inode.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "wcstream/http.h"

enum {
    F_PATH,
    F_HOST,
    F_ORIGIN,
    F_AUTHORIZATION,
    F_COOKIE,
    F_TOKEN_ARG,
    F_N_ARG,
    F_TOKEN,
    F_OWN_HOST,
    NFIELDS
};

static char root[PATH_MAX], dash[PATH_MAX];
static struct stat dash_st;

/* ---- references ---- */

static bool ref_cookie(const char *cookie, const char *token)
{
    char *copy = strdup(cookie), *save = NULL, *want = NULL;
    bool found = false;

    FUZZ_CHECK(copy && asprintf(&want, "%s=%s", WCS_HTTP_COOKIE, token) >= 0, "out of memory");
    for (char *item = strtok_r(copy, "; ", &save); item; item = strtok_r(NULL, "; ", &save))
        found |= strcmp(item, want) == 0;
    free(copy);
    free(want);
    return found;
}

static enum wcs_http_auth ref_auth(const char *token, const struct wcs_http_request *rq)
{
    const char *a = rq->authorization;
    if (rq->token_arg && strcmp(rq->token_arg, token) == 0)
        return WCS_HTTP_AUTH_QUERY;
    if (a && strlen(a) >= 7 && strncasecmp(a, "bearer ", 7) == 0 && strcmp(a + 7, token) == 0)
        return WCS_HTTP_AUTH_BEARER;
    if (rq->cookie && ref_cookie(rq->cookie, token))
        return WCS_HTTP_AUTH_COOKIE;
    return WCS_HTTP_AUTH_NONE;
}

static bool ref_host(const struct wcs_http_policy *pol, const char *host)
{
    static const char *const loopback[] = {"127.0.0.1", "localhost", "[::1]"};

    if (!host)
        return false;
    if (!host[0] || pol->token)
        return true;
    const char *close = strchr(host, ']');
    if (host[0] == '[' && !close)
        return false;
    size_t len = host[0] == '[' ? (size_t)(close + 1 - host) : strcspn(host, ":");
    /* After the name: nothing, or ':' and a port of digits only. */
    const char *port = host + len;
    if (*port && *port++ != ':')
        return false;
    for (; *port; port++)
        if (*port < '0' || *port > '9')
            return false;
    char *name = strndup(host, len);
    FUZZ_CHECK(name, "out of memory");
    bool ok = strcasecmp(name, pol->host) == 0;
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        ok |= strcasecmp(name, loopback[i]) == 0;
    free(name);
    return ok;
}

static bool ref_origin(const char *origin, const char *host)
{
    bool ok = false;

    if (!origin || !host)
        return false;
    if (!origin[0])
        return true;
    if (!host[0])
        return false;
    for (int s = 0; s < 2; s++) {
        char *want = NULL;
        FUZZ_CHECK(asprintf(&want, "%s://%s", s ? "https" : "http", host) >= 0, "out of memory");
        ok |= strcasecmp(origin, want) == 0;
        free(want);
    }
    return ok;
}

/* Digits only (at least one), 1 up, capped at max; 0 when malformed. */
static size_t ref_count(const char *v, size_t dflt, size_t max)
{
    unsigned __int128 n = 0;
    if (!v)
        return dflt;
    if (!v[0])
        return 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        if ((n = n * 10 + (unsigned)(*p - '0')) > ~0ULL)
            n = (unsigned __int128)~0ULL + 1; /* however many digits: past max */
    }
    return n == 0 ? 0 : n > max ? max : (size_t)n;
}

static enum wcs_http_route ref_route(const char *path, const char **arg)
{
    static const struct {
        const char *path;
        enum wcs_http_route route;
    } exact[] = {
        {"/healthz", WCS_HTTP_HEALTHZ},        {"/metrics", WCS_HTTP_METRICS},
        {"/api/top", WCS_HTTP_API_TOP},        {"/api/progress", WCS_HTTP_API_PROGRESS},
        {"/api", WCS_HTTP_NO_ENDPOINT},        {"/ws", WCS_HTTP_NO_ENDPOINT},
        {"/api/words/", WCS_HTTP_NO_ENDPOINT}, {"/api/words", WCS_HTTP_API_WORD}, /* ?word= */
    };
    *arg = NULL;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcmp(path, exact[i].path) == 0)
            return exact[i].route;
    if (strlen(path) > 11 && memcmp(path, "/api/words/", 11) == 0) {
        *arg = path + 11;
        return WCS_HTTP_API_WORD;
    }
    if (strlen(path) >= 5 && memcmp(path, "/api/", 5) == 0)
        return WCS_HTTP_NO_ENDPOINT;
    *arg = strcmp(path, "/") == 0 ? "/index.html" : path;
    return WCS_HTTP_FILE;
}

/* ---- the dashboard directory ---- */

static void put(const char *name, const char *link_to)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/%s", root, name);
    if (link_to) {
        FUZZ_CHECK(symlink(link_to, p) == 0, "symlink %s", p);
    } else if (name[strlen(name) - 1] == '/') {
        FUZZ_CHECK(mkdir(p, 0700) == 0, "mkdir %s", p);
    } else {
        FILE *f = fopen(p, "w");
        FUZZ_CHECK(f, "create %s", p);
        fputs("x\n", f);
        fclose(f);
    }
}

static void remove_tree(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: could not remove %s\n", root);
}

/* Whether real lies inside the dashboard directory: one of its parents is
 * the directory itself (same device and inode). */
static bool under_dash(const char *real)
{
    char p[PATH_MAX];
    struct stat sb;

    snprintf(p, sizeof(p), "%s", real);
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            return false;
        *slash = '\0';
        if (stat(p, &sb) == 0 && sb.st_dev == dash_st.st_dev && sb.st_ino == dash_st.st_ino)
            return true;
    }
}

static void check_dir_file(const char *path)
{
    char real[PATH_MAX];

    if (wcs_http_dir_file(dash, path, real, sizeof(real)) < 0)
        return;
    FUZZ_CHECK(under_dash(real), "'%s' resolved to '%s', outside the dashboard", path, real);
    char again[PATH_MAX];
    FUZZ_CHECK(realpath(real, again) && strcmp(again, real) == 0, "'%s' is not canonical", real);
}

/* ---- the target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[256];
    snprintf(tmpl, sizeof(tmpl), "%s/wcs-fuzz-http.XXXXXX",
             tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(tmpl), "cannot make a scratch directory in %s", tmpl);
    FUZZ_CHECK(realpath(tmpl, root), "realpath");
    atexit(remove_tree);
    put("dash/", NULL);
    put("dash/sub/", NULL);
    put("dashboard/", NULL);
    put("dash/index.html", NULL);
    put("dash/sub/x.css", NULL);
    put("outside.txt", NULL);
    put("dashboard/secret.txt", NULL);
    put("dash/link.txt", "../outside.txt");
    put("dash/sub/deep.txt", "../../dashboard/secret.txt");
    put("dash/up", "..");
    put("dash/inner.html", "index.html");
    put("dash/loop", "loop");
    put("dash/abs", "/etc");
    snprintf(dash, sizeof(dash), "%s/dash", root);
    FUZZ_CHECK(stat(dash, &dash_st) == 0, "stat %s", dash);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = in[0];
    char *copy = malloc(size);
    const char *field[NFIELDS];

    FUZZ_CHECK(copy, "out of memory");
    memcpy(copy, in + 1, size - 1);
    copy[size - 1] = '\0';
    char *p = copy;
    for (int i = 0; i < NFIELDS; i++) {
        field[i] = p;
        char *nl = p ? strchr(p, '\n') : NULL;
        if (nl)
            *nl = '\0';
        p = nl ? nl + 1 : NULL;
        if (!field[i])
            field[i] = "";
    }

    const struct wcs_http_policy pol = {
        .host = field[F_OWN_HOST][0] ? field[F_OWN_HOST] : "127.0.0.1",
        .token = !(flags & 1)        ? NULL
                 : field[F_TOKEN][0] ? field[F_TOKEN]
                                     : "s3cr3t",
    };
    const struct wcs_http_request rq = {
        .path = flags & 0x80 ? NULL : field[F_PATH],
        .host = flags & 0x02 ? NULL : field[F_HOST],
        .origin = flags & 0x04 ? NULL : field[F_ORIGIN],
        .authorization = flags & 0x08 ? NULL : field[F_AUTHORIZATION],
        .cookie = flags & 0x10 ? NULL : field[F_COOKIE],
        .token_arg = flags & 0x20 ? field[F_TOKEN_ARG] : NULL,
    };
    const char *n_arg = flags & 0x40 ? field[F_N_ARG] : NULL;

    /* Secrets compare like strcmp. */
    FUZZ_CHECK(wcs_http_equal_secret(field[F_COOKIE], field[F_TOKEN]) ==
                   (strcmp(field[F_COOKIE], field[F_TOKEN]) == 0),
               "equal_secret disagrees with strcmp");

    /* Who is let in. */
    const char *token = pol.token ? pol.token : "s3cr3t";
    enum wcs_http_auth auth = wcs_http_auth(token, &rq), want_auth = ref_auth(token, &rq);
    FUZZ_CHECK(auth == want_auth, "auth %d, the reference says %d", (int)auth, (int)want_auth);
    bool host_ok = wcs_http_host_allowed(&pol, rq.host);
    FUZZ_CHECK(host_ok == ref_host(&pol, rq.host), "Host '%s' (own '%s', token %d): %d",
               rq.host ? rq.host : "(too long)", pol.host, pol.token != NULL, host_ok);
    bool origin_ok = wcs_http_origin_allowed(rq.origin, rq.host);
    FUZZ_CHECK(origin_ok == ref_origin(rq.origin, rq.host), "Origin '%s' Host '%s': %d",
               rq.origin ? rq.origin : "(too long)", rq.host ? rq.host : "(too long)", origin_ok);

    enum wcs_http_auth how;
    unsigned get = wcs_http_check_get(&pol, &rq, &how);
    unsigned want_get = !host_ok ? 403 : pol.token && !want_auth ? 401 : 0;
    FUZZ_CHECK(get == want_get, "GET answered %u, the reference says %u", get, want_get);
    FUZZ_CHECK(how == (get == 0 && pol.token ? want_auth : WCS_HTTP_AUTH_NONE),
               "GET reports auth %d", (int)how);
    unsigned up = wcs_http_check_upgrade(&pol, &rq);
    unsigned want_up = !rq.path || strcmp(rq.path, "/ws") ? 404
                       : !host_ok || !origin_ok           ? 403
                       : pol.token && !want_auth          ? 401
                                                          : 0;
    FUZZ_CHECK(up == want_up, "upgrade answered %u, the reference says %u", up, want_up);

    /* What is asked for. */
    size_t n = wcs_http_count_arg(n_arg, 20, 1000), want_n = ref_count(n_arg, 20, 1000);
    FUZZ_CHECK(n == want_n, "?n=%s gives %zu, the reference says %zu", n_arg ? n_arg : "(none)", n,
               want_n);
    if (rq.path) {
        const char *arg, *want_arg;
        enum wcs_http_route r = wcs_http_route(rq.path, &arg);
        FUZZ_CHECK(r == ref_route(rq.path, &want_arg), "'%s' routed to %d", rq.path, (int)r);
        /* The argument points into the path, but for "/" (a literal). */
        FUZZ_CHECK(arg == want_arg ||
                       (arg && want_arg && strcmp(rq.path, "/") == 0 && strcmp(arg, want_arg) == 0),
                   "'%s': the wrong argument", rq.path);
        if (r == WCS_HTTP_FILE) {
            const char *type = wcs_http_content_type(arg);
            FUZZ_CHECK(type && type[0], "no content type for '%s'", arg);
        }
        check_dir_file(rq.path);
    }
    free(copy);
    return 0;
}
