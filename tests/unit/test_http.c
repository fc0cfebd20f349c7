/*
 * test_http.c - unit tests for the ws:// sink's request checks
 * (sinks/http.c), which decide without a server what a request may see.
 *
 * Covers: the token in the query, a Bearer header or the cookie (and the
 * near misses: another cookie's value, a prefix, a wrong case); Host names
 * with and without a token (DNS rebinding, bracketed IPv6, too long);
 * Origin against Host; the order of the GET and upgrade checks; routing;
 * ?n= parsing; content types; and dashboard files that stay inside their
 * directory whatever the path or symlinks say.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "wcstream/http.h"

static const struct wcs_http_policy open_pol = {.host = "127.0.0.1", .token = NULL};
static const struct wcs_http_policy token_pol = {.host = "0.0.0.0", .token = "s3cr3t"};

/* A request with every header absent. */
static struct wcs_http_request req(const char *path)
{
    return (struct wcs_http_request){
        .path = path, .host = "", .origin = "", .authorization = "", .cookie = ""};
}

Test(http, equal_secret)
{
    cr_assert(wcs_http_equal_secret("", ""));
    cr_assert(wcs_http_equal_secret("abc", "abc"));
    cr_assert_not(wcs_http_equal_secret("abc", "abd"));
    cr_assert_not(wcs_http_equal_secret("abc", "ab"));
    cr_assert_not(wcs_http_equal_secret("ab", "abc"));
    cr_assert_not(wcs_http_equal_secret("", "a"));
}

Test(http, auth_query_bearer_cookie)
{
    struct wcs_http_request rq = req("/");

    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_NONE);
    rq.token_arg = "s3cr3t";
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_QUERY);
    rq.token_arg = "s3cr3";
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_NONE);

    rq = req("/");
    rq.authorization = "Bearer s3cr3t";
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_BEARER);
    rq.authorization = "bearer s3cr3t"; /* the scheme is case-insensitive */
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_BEARER);
    rq.authorization = "Bearer S3CR3T"; /* the token is not */
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_NONE);
    rq.authorization = "Basic s3cr3t";
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_NONE);
    rq.authorization = NULL; /* too long */
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_NONE);

    /* A query token wins over the header: the dashboard then gets its cookie. */
    rq = req("/");
    rq.token_arg = "s3cr3t";
    rq.authorization = "Bearer s3cr3t";
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_QUERY);
}

Test(http, auth_cookie)
{
    static const char *const good[] = {
        WCS_HTTP_COOKIE "=s3cr3t",
        "theme=dark; " WCS_HTTP_COOKIE "=s3cr3t",
        "theme=dark;" WCS_HTTP_COOKIE "=s3cr3t",
        WCS_HTTP_COOKIE "=wrong; " WCS_HTTP_COOKIE "=s3cr3t",
        WCS_HTTP_COOKIE "=s3cr3t; theme=dark",
    };
    static const char *const bad[] = {
        "",
        WCS_HTTP_COOKIE "=",
        WCS_HTTP_COOKIE "=s3cr3",
        WCS_HTTP_COOKIE "=s3cr3tt",
        "x" WCS_HTTP_COOKIE "=s3cr3t",  /* another cookie's name ends the same */
        "a=" WCS_HTTP_COOKIE "=s3cr3t", /* inside another cookie's value */
        WCS_HTTP_COOKIE "x=s3cr3t",
        "WCSTREAM_TOKEN=s3cr3t",
    };
    struct wcs_http_request rq = req("/");

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        rq.cookie = good[i];
        cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_COOKIE, "%s", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rq.cookie = bad[i];
        cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_NONE, "%s", bad[i]);
    }
    rq.cookie = NULL;
    cr_assert_eq(wcs_http_auth("s3cr3t", &rq), WCS_HTTP_AUTH_NONE);
}

Test(http, host_without_token)
{
    static const char *const good[] = {
        "", "127.0.0.1", "127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]", "[::1]:80",
    };
    static const char *const bad[] = {
        "evil.example",
        "evil.example:8080",
        "localhost.evil.example",
        "127.0.0.2:80",
        "[::2]:80",
        "[::1",
        "[::1]evil:80",
        "[::1]evil.example",
        "localhost:80x",
        ":8080",
        "127.0.0.1.nip.io:80",
        "local",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(wcs_http_host_allowed(&open_pol, good[i]), "%s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(wcs_http_host_allowed(&open_pol, bad[i]), "%s", bad[i]);
    cr_assert_not(wcs_http_host_allowed(&open_pol, NULL));

    /* The name the server was given is its own, whatever it is. */
    const struct wcs_http_policy named = {.host = "box.local", .token = NULL};
    cr_assert(wcs_http_host_allowed(&named, "box.local:9000"));
    cr_assert(wcs_http_host_allowed(&named, "localhost:9000"));
    cr_assert_not(wcs_http_host_allowed(&named, "box.local.evil:9000"));
}

Test(http, host_with_token)
{
    cr_assert(wcs_http_host_allowed(&token_pol, "evil.example"));
    cr_assert(wcs_http_host_allowed(&token_pol, ""));
    cr_assert_not(wcs_http_host_allowed(&token_pol, NULL));
}

Test(http, origin)
{
    cr_assert(wcs_http_origin_allowed("", "127.0.0.1:8080"));
    cr_assert(wcs_http_origin_allowed("", ""));
    cr_assert(wcs_http_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080"));
    cr_assert(wcs_http_origin_allowed("HTTPS://LOCALHOST:8080", "localhost:8080"));
    cr_assert_not(wcs_http_origin_allowed("http://evil.example", "127.0.0.1:8080"));
    cr_assert_not(wcs_http_origin_allowed("http://127.0.0.1:8081", "127.0.0.1:8080"));
    cr_assert_not(wcs_http_origin_allowed("http://127.0.0.1:8080/x", "127.0.0.1:8080"));
    cr_assert_not(wcs_http_origin_allowed("ftp://127.0.0.1:8080", "127.0.0.1:8080"));
    cr_assert_not(wcs_http_origin_allowed("http://", ""));
    cr_assert_not(wcs_http_origin_allowed("null", "127.0.0.1:8080"));
    cr_assert_not(wcs_http_origin_allowed(NULL, "127.0.0.1:8080"));
    cr_assert_not(wcs_http_origin_allowed("http://127.0.0.1:8080", NULL));
}

Test(http, check_get)
{
    enum wcs_http_auth auth;
    struct wcs_http_request rq = req("/api/top");

    cr_assert_eq(wcs_http_check_get(&open_pol, &rq, &auth), 0);
    cr_assert_eq(auth, WCS_HTTP_AUTH_NONE);
    rq.host = "evil.example";
    cr_assert_eq(wcs_http_check_get(&open_pol, &rq, &auth), 403);

    rq = req("/api/top");
    cr_assert_eq(wcs_http_check_get(&token_pol, &rq, &auth), 401);
    rq.token_arg = "s3cr3t";
    cr_assert_eq(wcs_http_check_get(&token_pol, &rq, &auth), 0);
    cr_assert_eq(auth, WCS_HTTP_AUTH_QUERY);
    rq.host = NULL; /* Host is checked before the token */
    cr_assert_eq(wcs_http_check_get(&token_pol, &rq, &auth), 403);
    cr_assert_eq(auth, WCS_HTTP_AUTH_NONE);
}

Test(http, check_upgrade)
{
    struct wcs_http_request rq = req("/ws");

    cr_assert_eq(wcs_http_check_upgrade(&open_pol, &rq), 0);
    rq.path = "/elsewhere";
    cr_assert_eq(wcs_http_check_upgrade(&open_pol, &rq), 404);
    rq.path = NULL;
    cr_assert_eq(wcs_http_check_upgrade(&open_pol, &rq), 404);

    rq = req("/ws");
    rq.host = "127.0.0.1:8080";
    rq.origin = "http://127.0.0.1:8080";
    cr_assert_eq(wcs_http_check_upgrade(&open_pol, &rq), 0);
    rq.origin = "http://evil.example";
    cr_assert_eq(wcs_http_check_upgrade(&open_pol, &rq), 403);
    rq.origin = NULL;
    cr_assert_eq(wcs_http_check_upgrade(&open_pol, &rq), 403);

    /* With a token a foreign Host passes, a foreign Origin does not. */
    rq = req("/ws");
    rq.host = "box.example:8080";
    rq.origin = "http://box.example:8080";
    cr_assert_eq(wcs_http_check_upgrade(&token_pol, &rq), 401);
    rq.cookie = WCS_HTTP_COOKIE "=s3cr3t";
    cr_assert_eq(wcs_http_check_upgrade(&token_pol, &rq), 0);
    rq.origin = "http://evil.example";
    cr_assert_eq(wcs_http_check_upgrade(&token_pol, &rq), 403);
}

Test(http, subprotocol)
{
    const char *ok[] = {"",
                        "wcstream.v1",
                        "chat, wcstream.v1",
                        "wcstream.v1,chat",
                        " \t wcstream.v1 \t,x",
                        ",,wcstream.v1",
                        " ",
                        ","};
    const char *bad[] = {"chat", "wcstream.v2", "wcstream.v1x", "xwcstream.v1", "wcstream", "a, b"};

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect(wcs_http_subprotocol_ok(ok[i], "wcstream.v1"), "'%s'", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect(!wcs_http_subprotocol_ok(bad[i], "wcstream.v1"), "'%s'", bad[i]);
    cr_expect(!wcs_http_subprotocol_ok(NULL, "wcstream.v1"), "too long to check");
}

Test(http, route)
{
    const char *arg;

    cr_assert_eq(wcs_http_route("/healthz", &arg), WCS_HTTP_HEALTHZ);
    cr_assert_null(arg);
    cr_assert_eq(wcs_http_route("/metrics", &arg), WCS_HTTP_METRICS);
    cr_assert_eq(wcs_http_route("/api/top", &arg), WCS_HTTP_API_TOP);
    cr_assert_eq(wcs_http_route("/api/progress", &arg), WCS_HTTP_API_PROGRESS);
    cr_assert_eq(wcs_http_route("/api/words/naïve", &arg), WCS_HTTP_API_WORD);
    cr_assert_str_eq(arg, "naïve");
    cr_assert_eq(wcs_http_route("/api/words/a/b", &arg), WCS_HTTP_API_WORD);
    cr_assert_str_eq(arg, "a/b");
    cr_assert_eq(wcs_http_route("/api/words/", &arg), WCS_HTTP_NO_ENDPOINT);
    cr_assert_null(arg);
    cr_assert_eq(wcs_http_route("/api/words", &arg), WCS_HTTP_API_WORD); /* ?word= */
    cr_assert_null(arg);
    cr_assert_eq(wcs_http_route("/api", &arg), WCS_HTTP_NO_ENDPOINT);
    cr_assert_eq(wcs_http_route("/api/nothing", &arg), WCS_HTTP_NO_ENDPOINT);
    cr_assert_eq(wcs_http_route("/ws", &arg), WCS_HTTP_NO_ENDPOINT);
    cr_assert_eq(wcs_http_route("/", &arg), WCS_HTTP_FILE);
    cr_assert_str_eq(arg, "/index.html");
    cr_assert_eq(wcs_http_route("/app.js", &arg), WCS_HTTP_FILE);
    cr_assert_str_eq(arg, "/app.js");
    cr_assert_eq(wcs_http_route("/apix", &arg), WCS_HTTP_FILE);
    cr_assert_eq(wcs_http_route("/healthz/", &arg), WCS_HTTP_FILE);
}

Test(http, count_arg)
{
    cr_assert_eq(wcs_http_count_arg(NULL, 20, 1000), 20);
    cr_assert_eq(wcs_http_count_arg("5", 20, 1000), 5);
    cr_assert_eq(wcs_http_count_arg("1000", 20, 1000), 1000);
    cr_assert_eq(wcs_http_count_arg("1001", 20, 1000), 1000);
    cr_assert_eq(wcs_http_count_arg("99999999999999999999999", 20, 1000), 1000);
    cr_assert_eq(wcs_http_count_arg("0000000000000000000000000000000000000000007", 20, 1000), 7);
    cr_assert_eq(wcs_http_count_arg("0", 20, 1000), 0);
    cr_assert_eq(wcs_http_count_arg("", 20, 1000), 0);
    cr_assert_eq(wcs_http_count_arg("-5", 20, 1000), 0);
    cr_assert_eq(wcs_http_count_arg("5x", 20, 1000), 0);
    cr_assert_eq(wcs_http_count_arg("abc", 20, 1000), 0);
    /* Found by fuzzing: strtoull skips spaces and takes a sign. */
    cr_assert_eq(wcs_http_count_arg(" 5", 20, 1000), 0);
    cr_assert_eq(wcs_http_count_arg("+5", 20, 1000), 0);
    cr_assert_eq(wcs_http_count_arg(" -5", 20, 1000), 0);
    cr_assert_eq(wcs_http_count_arg("\r1", 20, 1000), 0);
}

Test(http, content_type)
{
    cr_assert_str_eq(wcs_http_content_type("/index.html"), "text/html; charset=utf-8");
    cr_assert_str_eq(wcs_http_content_type("/a/b.c/x.css"), "text/css; charset=utf-8");
    cr_assert_str_eq(wcs_http_content_type("/app.js.map"), "application/octet-stream");
    cr_assert_str_eq(wcs_http_content_type("/README"), "application/octet-stream");
    cr_assert_str_eq(wcs_http_content_type("/x.HTML"), "application/octet-stream");
}

/* A dashboard directory with a file, a subdirectory, a sibling whose name
 * starts the same, and symlinks out of it. */
static char root[PATH_MAX], dash[PATH_MAX + 8];

static void touch(const char *dir, const char *name)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs("x\n", f);
    fclose(f);
}

static void make_tree(void)
{
    char tmpl[] = "/tmp/wcs_http_XXXXXX", p[PATH_MAX + 32];
    cr_assert_not_null(mkdtemp(tmpl));
    cr_assert_not_null(realpath(tmpl, root));
    snprintf(dash, sizeof(dash), "%s/dash", root);
    cr_assert_eq(mkdir(dash, 0700), 0);
    snprintf(p, sizeof(p), "%s/sub", dash);
    cr_assert_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/dashboard", root);
    cr_assert_eq(mkdir(p, 0700), 0);
    touch(dash, "index.html");
    touch(dash, "sub/x.css");
    touch(root, "outside.txt");
    touch(root, "dashboard/secret.txt");
    snprintf(p, sizeof(p), "%s/link.txt", dash);
    cr_assert_eq(symlink("../outside.txt", p), 0);
    snprintf(p, sizeof(p), "%s/up", dash);
    cr_assert_eq(symlink("..", p), 0);
    snprintf(p, sizeof(p), "%s/inner.html", dash);
    cr_assert_eq(symlink("index.html", p), 0);
}

static void remove_tree(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

Test(http, dir_file, .init = make_tree, .fini = remove_tree)
{
    static const char *const inside[] = {"/index.html", "/sub/x.css", "/sub/../index.html",
                                         "/inner.html", "/sub",       "//index.html"};
    static const char *const outside[] = {
        "/../outside.txt",
        "/link.txt",
        "/up/outside.txt",
        "/../dashboard/secret.txt",
        "/sub/../../outside.txt",
        "/missing",
        "/",
        "/.",
        "/../dash/../outside.txt",
        "/up/dash/..",
    };
    char real[PATH_MAX], want[PATH_MAX + 32];

    for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++)
        cr_assert_eq(wcs_http_dir_file(dash, inside[i], real, sizeof(real)), 0, "%s", inside[i]);
    cr_assert_eq(wcs_http_dir_file(dash, "/sub/../index.html", real, sizeof(real)), 0);
    snprintf(want, sizeof(want), "%s/index.html", dash);
    cr_assert_str_eq(real, want);
    cr_assert_eq(wcs_http_dir_file(dash, "/inner.html", real, sizeof(real)), 0);
    cr_assert_str_eq(real, want); /* the symlink resolved */
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
        cr_assert_eq(wcs_http_dir_file(dash, outside[i], real, sizeof(real)), -1, "%s", outside[i]);
    /* Too small a buffer is a refusal, not a truncated name. */
    cr_assert_eq(wcs_http_dir_file(dash, "/index.html", real, 4), -1);
    /* A path longer than PATH_MAX is refused. */
    char *long_path = malloc(PATH_MAX + 2);
    cr_assert_not_null(long_path);
    memset(long_path, '/', PATH_MAX + 1);
    long_path[PATH_MAX + 1] = '\0';
    cr_assert_eq(wcs_http_dir_file(dash, long_path, real, sizeof(real)), -1);
    free(long_path);
}
