/*
 * test_uri.c - unit tests for the URIs that name sources and sinks
 * (src/uri.c), the CLI boundary every --source and --sink goes through.
 *
 * Covers the scheme forms (scheme://target, bare names with parameters,
 * "stdin" and "-", file:// with absolute and relative paths), percent
 * decoding, malformed input (no scheme, bad escapes, duplicate keys, keys
 * without '='), the typed lookups and the unknown-key check, HOST:PORT
 * splitting, and the size and duration parsers.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wcstream/uri.h"

/* Parse text, which must succeed. */
static struct wcs_uri *uri_ok(const char *text)
{
    char err[256] = "";
    struct wcs_uri *uri = wcs_uri_parse(text, err, sizeof(err));
    cr_assert_not_null(uri, "'%s' should parse, got: %s", text, err);
    return uri;
}

/* Parse text, which must fail with a sentence containing `needle`. */
static void uri_bad(const char *text, const char *needle)
{
    char err[256] = "";
    struct wcs_uri *uri = wcs_uri_parse(text, err, sizeof(err));
    cr_expect_null(uri, "'%s' should be refused", text);
    wcs_uri_free(uri);
    cr_expect_neq(err[0], '\0', "'%s': refusal without a sentence", text);
    if (needle)
        cr_expect_not_null(strstr(err, needle), "'%s': error '%s' should mention '%s'", text, err,
                           needle);
}

/* ---- schemes and targets ----------------------------------------------- */

Test(uri, socket_scheme_and_target)
{
    struct wcs_uri *uri = uri_ok("socket://h:1");
    cr_expect_str_eq(uri->text, "socket://h:1");
    cr_expect_str_eq(uri->scheme, "socket");
    cr_expect_str_eq(uri->target, "h:1");
    cr_expect_eq(uri->nparams, 0);
    wcs_uri_free(uri);
}

Test(uri, bare_name_with_params)
{
    struct wcs_uri *uri = uri_ok("console?numRows=5&truncate=false");
    cr_expect_str_eq(uri->scheme, "console");
    cr_expect_str_eq(uri->target, "");
    cr_assert_eq(uri->nparams, 2);
    cr_expect_str_eq(uri->params[0].key, "numRows");
    cr_expect_str_eq(uri->params[0].value, "5");
    cr_expect_str_eq(uri->params[1].key, "truncate");
    cr_expect_str_eq(uri->params[1].value, "false");
    cr_expect_not(uri->params[0].used);
    cr_expect_not(uri->params[1].used);
    wcs_uri_free(uri);
}

Test(uri, secrets_are_redacted_in_the_text_only)
{
    struct wcs_uri *uri = uri_ok("kafka://b:9092/t?kafka.sasl.password=hunter2&group=g&"
                                 "kafka.sasl.jaas.config=x&token=&kafka.ssl.key.PASSWORD=k");
    cr_expect_str_eq(uri->text, "kafka://b:9092/t?kafka.sasl.password=***&group=g&"
                                "kafka.sasl.jaas.config=***&token=***&kafka.ssl.key.PASSWORD=***");
    cr_assert_eq(uri->nparams, 5);
    cr_expect_str_eq(uri->params[0].value, "hunter2", "the value itself is kept");
    cr_expect_str_eq(uri->params[3].value, "");
    wcs_uri_free(uri);
    uri = uri_ok("kafka://b/t?kafka.ssl.key.pem=-----BEGIN%20PRIVATE%20KEY-----&"
                 "kafka.ssl.certificate.pem=c");
    cr_expect_str_eq(uri->text, "kafka://b/t?kafka.ssl.key.pem=***&kafka.ssl.certificate.pem=c",
                     "a private key given inline is a secret");
    wcs_uri_free(uri);
    uri = uri_ok("ws://h:1?topN=5&token=s3cr3t");
    cr_expect_str_eq(uri->text, "ws://h:1?topN=5&token=***");
    wcs_uri_free(uri);
    uri = uri_ok("kafka://b/t?kafka.sasl.pass%77ord=s3cr3t");
    cr_expect_str_eq(uri->text, "kafka://b/t?kafka.sasl.pass%77ord=***",
                     "decided on the decoded key");
    wcs_uri_free(uri);
    char err[256];
    cr_expect_null(wcs_uri_parse("kafka://b/t?kafka.sasl.password=s3%zzcr3t", err, sizeof(err)));
    cr_expect(strstr(err, "s3") == NULL, "the value stays out of the message: %s", err);
}

Test(uri, stdin_and_dash)
{
    struct wcs_uri *uri = uri_ok("stdin");
    cr_expect_str_eq(uri->scheme, "stdin");
    cr_expect_str_eq(uri->target, "");
    cr_expect_eq(uri->nparams, 0);
    wcs_uri_free(uri);

    uri = uri_ok("-");
    cr_expect_str_eq(uri->scheme, "stdin");
    cr_expect_str_eq(uri->target, "");
    cr_expect_str_eq(uri->text, "-", "text keeps what the user typed");
    wcs_uri_free(uri);
}

Test(uri, file_absolute_and_relative)
{
    struct wcs_uri *uri = uri_ok("file:///abs/path");
    cr_expect_str_eq(uri->scheme, "file");
    cr_expect_str_eq(uri->target, "/abs/path");
    wcs_uri_free(uri);

    uri = uri_ok("jsonl://rel.jsonl");
    cr_expect_str_eq(uri->scheme, "jsonl");
    cr_expect_str_eq(uri->target, "rel.jsonl");
    wcs_uri_free(uri);

    uri = uri_ok("file:///with%20space/x?a=1");
    cr_expect_str_eq(uri->target, "/with space/x", "the target is percent-decoded");
    cr_assert_eq(uri->nparams, 1);
    wcs_uri_free(uri);
}

Test(uri, scheme_is_lower_cased)
{
    struct wcs_uri *uri = uri_ok("SoCkEt://Host:9");
    cr_expect_str_eq(uri->scheme, "socket");
    cr_expect_str_eq(uri->target, "Host:9", "the target keeps its case");
    wcs_uri_free(uri);
}

Test(uri, scheme_separator_inside_a_value)
{
    /* A "://" after the '?' belongs to a value, not to the scheme. */
    struct wcs_uri *uri = uri_ok("console?next=file://x");
    cr_expect_str_eq(uri->scheme, "console");
    cr_expect_str_eq(uri->target, "");
    cr_assert_eq(uri->nparams, 1);
    cr_expect_str_eq(uri->params[0].value, "file://x");
    wcs_uri_free(uri);
}

Test(uri, empty_query_and_empty_segments)
{
    struct wcs_uri *uri = uri_ok("console?");
    cr_expect_str_eq(uri->scheme, "console");
    cr_expect_eq(uri->nparams, 0);
    wcs_uri_free(uri);

    uri = uri_ok("console?&a=1&&b=&");
    cr_assert_eq(uri->nparams, 2);
    cr_expect_str_eq(uri->params[0].key, "a");
    cr_expect_str_eq(uri->params[1].key, "b");
    cr_expect_str_eq(uri->params[1].value, "", "an empty value is a value");
    wcs_uri_free(uri);
}

/* ---- percent-decoding -------------------------------------------------- */

Test(uri, percent_decoding_of_keys_and_values)
{
    struct wcs_uri *uri = uri_ok("x://t?k%65y=a%26b%3Dc%2f%2F&sp=%20+");
    cr_assert_eq(uri->nparams, 2);
    cr_expect_str_eq(uri->params[0].key, "key");
    cr_expect_str_eq(uri->params[0].value, "a&b=c//", "escaped & and = are data");
    cr_expect_str_eq(uri->params[1].value, " +", "'+' is not a space");
    wcs_uri_free(uri);

    uri = uri_ok("x://t?v=%C3%A9");
    cr_expect_str_eq(uri->params[0].value, "\xc3\xa9");
    wcs_uri_free(uri);

    uri = uri_ok("x://t?v=100%25");
    cr_expect_str_eq(uri->params[0].value, "100%");
    wcs_uri_free(uri);
}

Test(uri, bad_escapes_are_refused)
{
    uri_bad("console?a=%zz", "percent");
    uri_bad("console?a=%4", "percent");
    uri_bad("console?a=%", "percent");
    uri_bad("console?a=%4&b=1", "percent");
    uri_bad("console?a=x%g1", "percent");
    uri_bad("console?%zz=1", "percent");
    uri_bad("file:///a%zz", "bad percent-escape (a % is written %25, a ? %3F)");
    uri_bad("file:///data/50%off.txt", "%25");
    uri_bad("file:///a%4", NULL);
}

/* "%00" is refused: a NUL inside a C string would silently cut the
 * target or value short. */
Test(uri, percent_nul_is_refused)
{
    uri_bad("file:///a%00b", NULL);
    uri_bad("console?numRows=5%001", NULL);
    uri_bad("console?a%00b=1", NULL);
}

/* ---- malformed --------------------------------------------------------- */

Test(uri, no_scheme)
{
    uri_bad("", "scheme");
    uri_bad("://host:1", "scheme");
    uri_bad("?a=1", "scheme");
    uri_bad("127.0.0.1:9999", "scheme");
    uri_bad("a b://x", "scheme");
    uri_bad("so/ck://x", "scheme");
}

Test(uri, duplicate_keys)
{
    uri_bad("console?a=1&a=2", "twice");
    uri_bad("console?a=1&b=2&a=1", "'a'");
    /* Keys are compared after decoding. */
    uri_bad("console?a=1&%61=2", "twice");
}

Test(uri, key_without_equals)
{
    uri_bad("console?numRows", "key=value");
    uri_bad("console?a=1&flag", "'flag'");
    uri_bad("console?=5", "key=value");
}

Test(uri, error_names_the_uri)
{
    char err[256] = "";
    cr_expect_null(wcs_uri_parse("console?numRows=1&numRows=2", err, sizeof(err)));
    cr_expect_not_null(strstr(err, "console?numRows=1&numRows=2"), "got: %s", err);
    cr_expect_not_null(strstr(err, "numRows"), "got: %s", err);
}

Test(uri, tiny_error_buffer_is_safe)
{
    char err[4] = "zzz";
    cr_expect_null(wcs_uri_parse("console?a", err, sizeof(err)));
    cr_expect_eq(err[3], '\0', "the sentence is truncated, not overflowed");
    wcs_uri_free(NULL);
}

/* ---- lookups ----------------------------------------------------------- */

Test(uri, get_marks_used_and_check_unused_names_the_rest)
{
    struct wcs_uri *uri = uri_ok("console?numRows=5&bogus=1&truncate=false");
    char err[256] = "";

    cr_expect_str_eq(wcs_uri_get(uri, "numRows"), "5");
    cr_expect_null(wcs_uri_get(uri, "absent"));
    cr_expect(uri->params[0].used);
    cr_expect_not(uri->params[1].used);

    bool truncate = true;
    cr_expect_eq(wcs_uri_get_bool(uri, "truncate", &truncate, err, sizeof(err)), 0);
    cr_expect_not(truncate);

    cr_expect_eq(wcs_uri_check_unused(uri, err, sizeof(err)), WCS_EUSAGE);
    cr_expect_not_null(strstr(err, "'bogus'"), "got: %s", err);

    cr_expect_str_eq(wcs_uri_get(uri, "bogus"), "1");
    err[0] = '\0';
    cr_expect_eq(wcs_uri_check_unused(uri, err, sizeof(err)), 0);
    wcs_uri_free(uri);
}

/* As Spark's options (a case-insensitive map): numrows is numRows, and the
 * two spellings at once are one option given twice. */
Test(uri, keys_ignore_case)
{
    struct wcs_uri *uri = uri_ok("console?NUMROWS=5&Truncate=false");
    char err[256] = "";
    cr_expect_str_eq(wcs_uri_get(uri, "numRows"), "5");
    bool truncate = true;
    cr_expect_eq(wcs_uri_get_bool(uri, "truncate", &truncate, err, sizeof(err)), 0);
    cr_expect_not(truncate);
    cr_expect_eq(wcs_uri_check_unused(uri, err, sizeof(err)), 0);
    wcs_uri_free(uri);
    uri_bad("console?numRows=1&numrows=2", "twice");
}

Test(uri, check_unused_names_the_first_unused)
{
    struct wcs_uri *uri = uri_ok("x://t?a=1&b=2&c=3");
    char err[256] = "";
    wcs_uri_get(uri, "a");
    cr_expect_eq(wcs_uri_check_unused(uri, err, sizeof(err)), WCS_EUSAGE);
    cr_expect_not_null(strstr(err, "'b'"), "got: %s", err);
    cr_expect_null(strstr(err, "'c'"), "got: %s", err);
    wcs_uri_free(uri);

    uri = uri_ok("stdin");
    cr_expect_eq(wcs_uri_check_unused(uri, err, sizeof(err)), 0);
    wcs_uri_free(uri);
}

Test(uri, get_bool_values)
{
    struct wcs_uri *uri = uri_ok("x://t?a=true&b=FALSE&c=1&d=0&e=True&f=yes&g=");
    char err[256] = "";
    bool v;

    v = false;
    cr_expect_eq(wcs_uri_get_bool(uri, "a", &v, err, sizeof(err)), 0);
    cr_expect(v);
    v = true;
    cr_expect_eq(wcs_uri_get_bool(uri, "b", &v, err, sizeof(err)), 0);
    cr_expect_not(v);
    v = false;
    cr_expect_eq(wcs_uri_get_bool(uri, "c", &v, err, sizeof(err)), 0);
    cr_expect(v);
    v = true;
    cr_expect_eq(wcs_uri_get_bool(uri, "d", &v, err, sizeof(err)), 0);
    cr_expect_not(v);
    v = false;
    cr_expect_eq(wcs_uri_get_bool(uri, "e", &v, err, sizeof(err)), 0);
    cr_expect(v);

    v = true;
    cr_expect_eq(wcs_uri_get_bool(uri, "f", &v, err, sizeof(err)), WCS_EUSAGE);
    cr_expect(v, "a bad value leaves the default");
    cr_expect_not_null(strstr(err, "'yes'"), "got: %s", err);
    cr_expect_not_null(strstr(err, "f"), "got: %s", err);

    v = true;
    cr_expect_eq(wcs_uri_get_bool(uri, "g", &v, err, sizeof(err)), WCS_EUSAGE,
                 "empty is not a bool");

    v = true;
    cr_expect_eq(wcs_uri_get_bool(uri, "absent", &v, err, sizeof(err)), 0);
    cr_expect(v, "absent keeps the default");
    v = false;
    cr_expect_eq(wcs_uri_get_bool(uri, "absent", &v, err, sizeof(err)), 0);
    cr_expect_not(v);

    cr_expect_eq(wcs_uri_check_unused(uri, err, sizeof(err)), 0,
                 "a failed lookup still marks the key used");
    wcs_uri_free(uri);
}

Test(uri, get_size_ranges)
{
    struct wcs_uri *uri =
        uri_ok("x://t?n=5&lo=0&hi=101&k=64k&bad=five&neg=-1&edge=100&big=99999999999999999999");
    char err[256] = "";
    size_t v;

    v = 7;
    cr_expect_eq(wcs_uri_get_size(uri, "n", 1, 100, &v, err, sizeof(err)), 0);
    cr_expect_eq(v, 5);
    v = 7;
    cr_expect_eq(wcs_uri_get_size(uri, "edge", 1, 100, &v, err, sizeof(err)), 0, "max inclusive");
    cr_expect_eq(v, 100);
    v = 7;
    cr_expect_eq(wcs_uri_get_size(uri, "lo", 0, 100, &v, err, sizeof(err)), 0, "min inclusive");
    cr_expect_eq(v, 0);
    v = 7;
    cr_expect_eq(wcs_uri_get_size(uri, "k", 1, SIZE_MAX, &v, err, sizeof(err)), 0);
    cr_expect_eq(v, 65536);

    v = 7;
    cr_expect_eq(wcs_uri_get_size(uri, "lo", 1, 100, &v, err, sizeof(err)), WCS_EUSAGE,
                 "below min");
    cr_expect_eq(v, 7, "a refused value leaves *out alone");
    cr_expect_not_null(strstr(err, "from 1 to 100"), "got: %s", err);
    cr_expect_not_null(strstr(err, "lo"), "got: %s", err);

    cr_expect_eq(wcs_uri_get_size(uri, "hi", 1, 100, &v, err, sizeof(err)), WCS_EUSAGE,
                 "above max");
    cr_expect_not_null(strstr(err, "'101'"), "got: %s", err);
    cr_expect_eq(wcs_uri_get_size(uri, "bad", 0, 100, &v, err, sizeof(err)), WCS_EUSAGE);
    cr_expect_not_null(strstr(err, "'five'"), "got: %s", err);
    cr_expect_eq(wcs_uri_get_size(uri, "neg", 0, SIZE_MAX, &v, err, sizeof(err)), WCS_EUSAGE);
    cr_expect_eq(wcs_uri_get_size(uri, "big", 0, SIZE_MAX, &v, err, sizeof(err)), WCS_EUSAGE);
    cr_expect_eq(v, 7);

    v = 42;
    cr_expect_eq(wcs_uri_get_size(uri, "absent", 1, 2, &v, err, sizeof(err)), 0);
    cr_expect_eq(v, 42, "absent keeps the default even outside the range");
    wcs_uri_free(uri);
}

/* A number of bytes takes the same values and says it wants a size. */
Test(uri, get_bytes_says_size)
{
    struct wcs_uri *uri = uri_ok("x://t?k=64k&bad=five");
    char err[256] = "";
    size_t v = 7;
    cr_expect_eq(wcs_uri_get_bytes(uri, "k", 64, 1 << 20, &v, err, sizeof(err)), 0);
    cr_expect_eq(v, 65536);
    cr_expect_eq(wcs_uri_get_bytes(uri, "bad", 64, 1 << 20, &v, err, sizeof(err)), WCS_EUSAGE);
    cr_expect_not_null(strstr(err, "option bad must be a size from 64 to 1048576 bytes (e.g. "),
                       "got: %s", err);
    cr_expect_eq(v, 65536, "a refused value leaves *out alone");
    wcs_uri_free(uri);
}

/* ---- host:port --------------------------------------------------------- */

/* host_port must succeed with host and port. */
static void uri_hp_ok(const char *target, const char *host, uint16_t port)
{
    char hb[64] = "", err[256] = "";
    uint16_t p = 0;
    cr_expect_eq(wcs_uri_host_port(target, hb, sizeof(hb), &p, err, sizeof(err)), 0,
                 "'%s' should split, got: %s", target, err);
    cr_expect_str_eq(hb, host, "'%s'", target);
    cr_expect_eq(p, port, "'%s'", target);
}

/* host_port must fail, leaving *port and hostbuf alone. */
static void uri_hp_bad(const char *target)
{
    char hb[64] = "keep", err[256] = "";
    uint16_t p = 77;
    cr_expect_eq(wcs_uri_host_port(target, hb, sizeof(hb), &p, err, sizeof(err)), WCS_EUSAGE,
                 "'%s' should be refused", target);
    cr_expect_eq(p, 77, "'%s'", target);
    cr_expect_str_eq(hb, "keep", "'%s'", target);
    cr_expect_not_null(strstr(err, "HOST:PORT"), "'%s': got: %s", target, err);
}

Test(uri, host_port_good)
{
    uri_hp_ok("h:1", "h", 1);
    uri_hp_ok("127.0.0.1:9999", "127.0.0.1", 9999);
    uri_hp_ok("localhost:65535", "localhost", 65535);
    uri_hp_ok("[::1]:9", "::1", 9);
    uri_hp_ok("[fe80::1%25eth0]:80", "fe80::1%25eth0", 80);
}

Test(uri, host_port_bad)
{
    uri_hp_bad("h:0");
    uri_hp_bad("h:65536");
    uri_hp_bad("h:99999999999999999999999");
    uri_hp_bad("h:");
    uri_hp_bad("h");
    uri_hp_bad("h:http");
    uri_hp_bad("h:80x");
    uri_hp_bad("h:-1");
    uri_hp_bad(":80");
    uri_hp_bad("");
    uri_hp_bad("[::1]");
    uri_hp_bad("[::1]:");
    uri_hp_bad("[::1:80");
    uri_hp_bad("[]:80");
    uri_hp_bad("[::1]x:80");
}

/* Ports are plain digits: no leading space, no sign, no wrap-around. */
Test(uri, host_port_rejects_space_and_sign)
{
    uri_hp_bad("h: 80");
    uri_hp_bad("h:+80");
    uri_hp_bad("h:-18446744073709551615");
}

Test(uri, host_port_host_too_long_for_buffer)
{
    char hb[4] = "", err[256] = "";
    uint16_t p = 0;
    cr_expect_eq(wcs_uri_host_port("abc:1", hb, sizeof(hb), &p, err, sizeof(err)), 0);
    cr_expect_str_eq(hb, "abc");
    cr_expect_eq(wcs_uri_host_port("abcd:1", hb, sizeof(hb), &p, err, sizeof(err)), WCS_EUSAGE,
                 "a host that does not fit with its NUL is refused");
}

/* ---- sizes ------------------------------------------------------------- */

/* wcs_parse_size must give want. */
static void uri_size_ok(const char *text, size_t want)
{
    size_t v = 12345;
    cr_expect_eq(wcs_parse_size(text, &v), 0, "'%s' should parse", text);
    cr_expect_eq(v, want, "'%s': %zu, want %zu", text, v, want);
}

/* wcs_parse_size must refuse text and leave *out alone. */
static void uri_size_bad(const char *text)
{
    size_t v = 12345;
    cr_expect_eq(wcs_parse_size(text, &v), -1, "'%s' should be refused", text);
    cr_expect_eq(v, 12345, "'%s'", text);
}

Test(uri, parse_size_good)
{
    uri_size_ok("0", 0);
    uri_size_ok("8388608", 8388608);
    uri_size_ok("8MiB", 8u << 20);
    uri_size_ok("8mib", 8u << 20);
    uri_size_ok("8MB", 8u << 20);
    uri_size_ok("1m", 1u << 20);
    uri_size_ok("64k", 64u << 10);
    uri_size_ok("64K", 64u << 10);
    uri_size_ok("64kb", 64u << 10);
    uri_size_ok("64KiB", 64u << 10);
    uri_size_ok("1g", (size_t)1 << 30);
    uri_size_ok("3GiB", (size_t)3 << 30);
    uri_size_ok("0k", 0);
    uri_size_ok("18446744073709551615", SIZE_MAX);
    uri_size_ok("17179869183g", (size_t)17179869183u << 30);
}

Test(uri, parse_size_bad)
{
    uri_size_bad("");
    uri_size_bad("garbage");
    uri_size_bad("k");
    uri_size_bad("-1");
    uri_size_bad("+1");
    uri_size_bad(" 1");
    uri_size_bad("1 k");
    uri_size_bad("1.5m");
    uri_size_bad("8MiBx");
    uri_size_bad("8t");
    uri_size_bad("8b");
    uri_size_bad("18446744073709551616"); /* SIZE_MAX + 1 */
    uri_size_bad("17179869184g");         /* 2^64 */
    uri_size_bad("18014398509481984k");   /* 2^64 */
    uri_size_bad("99999999999999999999999999");
}

/* ---- durations --------------------------------------------------------- */

/* wcs_parse_duration_ms must give want. */
static void uri_dur_ok(const char *text, int64_t want)
{
    int64_t v = -5;
    cr_expect_eq(wcs_parse_duration_ms(text, &v), 0, "'%s' should parse", text);
    cr_expect_eq(v, want, "'%s': %" PRId64 ", want %" PRId64, text, v, want);
}

/* wcs_parse_duration_ms must refuse text and leave *out alone. */
static void uri_dur_bad(const char *text)
{
    int64_t v = -5;
    cr_expect_eq(wcs_parse_duration_ms(text, &v), -1, "'%s' should be refused", text);
    cr_expect_eq(v, -5, "'%s'", text);
}

Test(uri, parse_duration_good)
{
    uri_dur_ok("0", 0);
    uri_dur_ok("00", 0);
    uri_dur_ok("0ms", 0);
    uri_dur_ok("0s", 0);
    uri_dur_ok("500ms", 500);
    uri_dur_ok("1s", 1000);
    uri_dur_ok("90s", 90000);
    uri_dur_ok("2m", 120000);
    uri_dur_ok("2min", 120000);
    uri_dur_ok("1h", 3600000);
    uri_dur_ok("8760h", WCS_DURATION_MAX_MS); /* a year */
    uri_dur_ok("31536000000ms", WCS_DURATION_MAX_MS);
}

Test(uri, parse_duration_bad)
{
    uri_dur_bad("");
    uri_dur_bad("5"); /* a bare non-zero number has no unit */
    uri_dur_bad("1000");
    uri_dur_bad("garbage");
    uri_dur_bad("s");
    uri_dur_bad("-1s");
    uri_dur_bad(" 1s");
    uri_dur_bad("1 s");
    uri_dur_bad("1.5s");
    uri_dur_bad("1d");
    uri_dur_bad("1sec");
    uri_dur_bad("1msx");
    uri_dur_bad("8761h"); /* past a year: --trigger's nanoseconds would overflow */
    uri_dur_bad("31536000001ms");
    uri_dur_bad("9223372036854775807ms");
    uri_dur_bad("9223372036854775808ms");  /* INT64_MAX + 1 */
    uri_dur_bad("9223372036854776s");      /* overflows after * 1000 */
    uri_dur_bad("99999999999999999999ms"); /* beyond unsigned long long */
}
