/*
 * test_config.c - unit tests for the CLI and config-file boundary
 * (src/config.c): argv and a JSON file into one struct wcs_config.
 *
 * Covers the defaults, every flag, repeated --source, the refusals (append
 * mode, bad trigger/split/sizes, unknown flags, missing values, stray
 * arguments, no source), --help and --version, the --config file (keys
 * named like the flags, lists and scalars, numbers and booleans), flags
 * overriding the file, malformed or mistyped files, and repeated calls
 * (getopt_long keeps global state between them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "wcstream/config.h"

#define CFG_ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A temp dir with config files in it; cfg_cleanup removes it. */
static char cfg_dir[64];
static char cfg_files[8][128];
static int cfg_nfiles;

static void cfg_setup(void)
{
    strcpy(cfg_dir, "/tmp/wcs-test-config-XXXXXX");
    cr_assert_not_null(mkdtemp(cfg_dir));
    cfg_nfiles = 0;
}

static void cfg_cleanup(void)
{
    for (int i = 0; i < cfg_nfiles; i++)
        unlink(cfg_files[i]);
    rmdir(cfg_dir);
}

/* Write `json` to a new file in the temp dir; returns its path. */
static const char *cfg_file(const char *json)
{
    cr_assert_lt(cfg_nfiles, 8);
    char *path = cfg_files[cfg_nfiles++];
    snprintf(path, sizeof(cfg_files[0]), "%s/c%d.json", cfg_dir, cfg_nfiles);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(json, f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* Run wcs_config_from_args on argv and expect status; err goes to errbuf. */
static enum wcs_config_status cfg_run(struct wcs_config *cf, int argc, char **argv, char *errbuf,
                                      size_t errlen)
{
    errbuf[0] = '\0';
    return wcs_config_from_args(cf, argc, argv, errbuf, errlen);
}

/* argv must be refused as bad usage, with an error containing needle. */
static void cfg_usage(int argc, char **argv, const char *needle)
{
    struct wcs_config cf;
    char err[512];
    cr_expect_eq(cfg_run(&cf, argc, argv, err, sizeof(err)), WCS_CONFIG_USAGE,
                 "argv[1]='%s' should be bad usage", argc > 1 ? argv[1] : "");
    cr_expect_neq(err[0], '\0', "bad usage without a sentence");
    if (needle)
        cr_expect_not_null(strstr(err, needle), "error '%s' should mention '%s'", err, needle);
    wcs_config_free(&cf);
}

/* ---- defaults and flags ------------------------------------------------ */

Test(config, defaults)
{
    char *argv[] = {"wcstream", "--source", "stdin"};
    struct wcs_config cf;
    char err[256];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_assert_eq(cf.sources.n, 1);
    cr_expect_str_eq(cf.sources.v[0], "stdin");
    cr_assert_eq(cf.sinks.n, 1);
    cr_expect_str_eq(cf.sinks.v[0], "console");
    cr_expect_str_eq(cf.state_path, "wcstream.db");
    cr_expect_eq(cf.mode, WCS_MODE_COMPLETE);
    cr_expect_eq(cf.trigger_ms, 0);
    cr_expect_not(cf.available_now);
    cr_expect_eq(cf.max_bytes, 128u << 20);
    cr_expect_eq(cf.max_line, 1u << 20);
    cr_expect_eq(cf.split, WCS_SPLIT_WHITESPACE);
    cr_expect_null(cf.split_pattern);
    cr_expect_not(cf.lowercase);
    cr_expect_eq(cf.log_level, WCS_LOG_INFO);
    cr_expect_null(cf.progress_log);
    cr_expect_eq(cf.threads, 0, "one tokenizing thread per core");
    wcs_config_free(&cf);
    cr_expect_null(cf.sources.v, "free leaves a zeroed struct");
    wcs_config_free(&cf); /* twice is fine */
    wcs_config_free(NULL);
}

Test(config, every_flag)
{
    char *argv[] = {"wcstream",
                    "--source",
                    "socket://h:1",
                    "--sink",
                    "jsonl://out.jsonl",
                    "--output-mode",
                    "update",
                    "--trigger",
                    "2s",
                    "--max-bytes-per-trigger",
                    "64k",
                    "--max-line-bytes",
                    "1000",
                    "--state",
                    ":memory:",
                    "--synchronous",
                    "full",
                    "--split",
                    "regex:[,;]+",
                    "--lowercase",
                    "--log-level",
                    "debug",
                    "--progress-log",
                    "/tmp/p.jsonl",
                    "--threads",
                    "3"};
    struct wcs_config cf;
    char err[256];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_assert_eq(cf.sources.n, 1);
    cr_expect_str_eq(cf.sources.v[0], "socket://h:1");
    cr_assert_eq(cf.sinks.n, 1, "an explicit sink replaces the default console");
    cr_expect_str_eq(cf.sinks.v[0], "jsonl://out.jsonl");
    cr_expect_eq(cf.mode, WCS_MODE_UPDATE);
    cr_expect_eq(cf.trigger_ms, 2000);
    cr_expect_not(cf.available_now);
    cr_expect_eq(cf.max_bytes, 65536);
    cr_expect_eq(cf.max_line, 1000);
    cr_expect_str_eq(cf.state_path, ":memory:");
    cr_expect_str_eq(cf.synchronous, "full");
    cr_expect_str_eq(cf.split_spec, "regex:[,;]+");
    cr_expect_eq(cf.split, WCS_SPLIT_REGEX);
    cr_assert_not_null(cf.split_pattern);
    cr_expect_str_eq(cf.split_pattern, "[,;]+");
    cr_expect(cf.split_pattern > cf.split_spec &&
                  cf.split_pattern < cf.split_spec + strlen(cf.split_spec),
              "the pattern points into split_spec");
    cr_expect(cf.lowercase);
    cr_expect_eq(cf.log_level, WCS_LOG_DEBUG);
    cr_expect_str_eq(cf.progress_log, "/tmp/p.jsonl");
    cr_expect_eq(cf.threads, 3);
    wcs_config_free(&cf);
}

Test(config, equals_form_and_available_now)
{
    char *argv[] = {"wcstream", "--source=stdin", "--trigger=available-now", "--split=spark",
                    "--output-mode=complete"};
    struct wcs_config cf;
    char err[256];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect_str_eq(cf.sources.v[0], "stdin");
    cr_expect(cf.available_now);
    cr_expect_eq(cf.trigger_ms, 0);
    cr_expect_eq(cf.split, WCS_SPLIT_SPARK);
    cr_expect_eq(cf.mode, WCS_MODE_COMPLETE);
    wcs_config_free(&cf);
}

Test(config, last_trigger_wins)
{
    char *argv[] = {"wcstream",      "--source",  "stdin", "--trigger",
                    "available-now", "--trigger", "500ms"};
    struct wcs_config cf;
    char err[256];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect_not(cf.available_now, "a later duration clears available-now");
    cr_expect_eq(cf.trigger_ms, 500);
    wcs_config_free(&cf);
}

Test(config, repeated_source_and_sink)
{
    char *argv[] = {"wcstream", "--source", "a://1", "--sink", "console",  "--source",
                    "b://2",    "--source", "stdin", "--sink", "jsonl://x"};
    struct wcs_config cf;
    char err[256];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_assert_eq(cf.sources.n, 3);
    cr_expect_str_eq(cf.sources.v[0], "a://1");
    cr_expect_str_eq(cf.sources.v[1], "b://2");
    cr_expect_str_eq(cf.sources.v[2], "stdin");
    cr_assert_eq(cf.sinks.n, 2);
    cr_expect_str_eq(cf.sinks.v[0], "console");
    cr_expect_str_eq(cf.sinks.v[1], "jsonl://x");
    wcs_config_free(&cf);
}

/* ---- refusals ---------------------------------------------------------- */

Test(config, append_mode_refused_mentioning_windows)
{
    char *argv[] = {"wcstream", "--source", "stdin", "--output-mode", "append"};
    cfg_usage(CFG_ARGC(argv), argv, "window");
    char *argv2[] = {"wcstream", "--source", "stdin", "--output-mode", "Appended"};
    cfg_usage(CFG_ARGC(argv2), argv2, "'Appended'");
    char *argv3[] = {"wcstream", "--source", "stdin", "--output-mode", "APPEND"};
    cfg_usage(CFG_ARGC(argv3), argv3, "window");
}

/* Spark's outputMode() ignores case too. */
Test(config, output_mode_ignores_case)
{
    char *argv[] = {"wcstream", "--source", "stdin", "--output-mode", "Update"};
    struct wcs_config cf;
    char err[256];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect_eq(cf.mode, WCS_MODE_UPDATE);
    wcs_config_free(&cf);
}

Test(config, bad_trigger)
{
    char *a1[] = {"wcstream", "--source", "stdin", "--trigger", "5"};
    cfg_usage(CFG_ARGC(a1), a1, "'5'");
    char *a2[] = {"wcstream", "--source", "stdin", "--trigger", "soon"};
    cfg_usage(CFG_ARGC(a2), a2, "trigger");
    char *a3[] = {"wcstream", "--source", "stdin", "--trigger", "-1s"};
    cfg_usage(CFG_ARGC(a3), a3, "trigger");
    char *a4[] = {"wcstream", "--source", "stdin", "--trigger", ""};
    cfg_usage(CFG_ARGC(a4), a4, "trigger");
}

Test(config, bad_split)
{
    char *a1[] = {"wcstream", "--source", "stdin", "--split", "commas"};
    cfg_usage(CFG_ARGC(a1), a1, "commas");
    char *a2[] = {"wcstream", "--source", "stdin", "--split", "regex:"};
    cfg_usage(CFG_ARGC(a2), a2, "regex");
}

Test(config, bad_sizes_and_levels)
{
    char *a1[] = {"wcstream", "--source", "stdin", "--max-bytes-per-trigger", "1023"};
    cfg_usage(CFG_ARGC(a1), a1, "1024");
    char *a2[] = {"wcstream", "--source", "stdin", "--max-bytes-per-trigger", "lots"};
    cfg_usage(CFG_ARGC(a2), a2, "'lots'");
    char *a3[] = {"wcstream", "--source", "stdin", "--max-line-bytes", "63"};
    cfg_usage(CFG_ARGC(a3), a3, "max-line-bytes");
    char *a4[] = {"wcstream", "--source", "stdin", "--synchronous", "FULL"};
    cfg_usage(CFG_ARGC(a4), a4, "synchronous");
    char *a5[] = {"wcstream", "--source", "stdin", "--log-level", "loud"};
    cfg_usage(CFG_ARGC(a5), a5, "'loud'");
    char *a6[] = {"wcstream", "--source", "stdin", "--threads", "65"};
    cfg_usage(CFG_ARGC(a6), a6, "threads must be a number from 1 to 64");
    char *a7[] = {"wcstream", "--source", "stdin", "--threads", "2x"};
    cfg_usage(CFG_ARGC(a7), a7, "'2x'");
    char *a8[] = {"wcstream", "--source", "stdin", "--threads", " 2"};
    cfg_usage(CFG_ARGC(a8), a8, "' 2'");
    char *a9[] = {"wcstream", "--source", "stdin", "--threads", "+2"};
    cfg_usage(CFG_ARGC(a9), a9, "'+2'");

    /* The smallest accepted values. */
    char *ok[] = {"wcstream", "--source",         "stdin", "--max-bytes-per-trigger",
                  "1k",       "--max-line-bytes", "64"};
    struct wcs_config cf;
    char err[256];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(ok), ok, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect_eq(cf.max_bytes, 1024);
    cr_expect_eq(cf.max_line, 64);
    wcs_config_free(&cf);
}

Test(config, unknown_flag)
{
    char *argv[] = {"wcstream", "--source", "stdin", "--bogus"};
    cfg_usage(CFG_ARGC(argv), argv, "unknown option '--bogus'");
    char *argv2[] = {"wcstream", "--bogus=1", "--source", "stdin"};
    cfg_usage(CFG_ARGC(argv2), argv2, "--bogus");
}

Test(config, missing_value)
{
    char *argv[] = {"wcstream", "--source", "stdin", "--trigger"};
    cfg_usage(CFG_ARGC(argv), argv, "'--trigger' needs a value");
    char *argv2[] = {"wcstream", "--source"};
    cfg_usage(CFG_ARGC(argv2), argv2, "'--source' needs a value");
    char *argv3[] = {"wcstream", "--source", "stdin", "--config"};
    cfg_usage(CFG_ARGC(argv3), argv3, "'--config' needs a value");
}

Test(config, stray_argument)
{
    char *argv[] = {"wcstream", "--source", "stdin", "extra"};
    cfg_usage(CFG_ARGC(argv), argv, "'extra'");
    char *argv2[] = {"wcstream", "extra", "--source", "stdin"};
    cfg_usage(CFG_ARGC(argv2), argv2, "'extra'");
    char *argv3[] = {"wcstream", "--source", "stdin", "--", "--sink"};
    cfg_usage(CFG_ARGC(argv3), argv3, "'--sink'");
}

Test(config, no_source)
{
    char *argv[] = {"wcstream"};
    cfg_usage(CFG_ARGC(argv), argv, "--source");
    char *argv2[] = {"wcstream", "--sink", "console", "--trigger", "1s"};
    cfg_usage(CFG_ARGC(argv2), argv2, "no --source");
}

Test(config, dashboard_dir_needs_a_ws_sink)
{
    char *argv[] = {"wcstream", "--source", "stdin", "--dashboard-dir", "/tmp"};
    cfg_usage(CFG_ARGC(argv), argv, "no ws:// sink given");
    char *argv2[] = {"wcstream", "--source",         "stdin",           "--sink", "console",
                     "--sink",   "WS://127.0.0.1:1", "--dashboard-dir", "/tmp"};
    struct wcs_config cf;
    char err[256];
    cr_expect_eq(cfg_run(&cf, CFG_ARGC(argv2), argv2, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    wcs_config_free(&cf);
}

/* An empty path is a bad value, as for --state: it named no file, and the
 * start failed later (exit 1) with "cannot open progress log : ...",
 * leaving a new state behind. */
Test(config, empty_paths_refused)
{
    char *a1[] = {"wcstream", "--source", "stdin", "--progress-log", ""};
    cfg_usage(CFG_ARGC(a1), a1, "progress-log must be a file path, not ''");
    char *a2[] = {"wcstream",         "--source",        "stdin", "--sink",
                  "ws://127.0.0.1:1", "--dashboard-dir", ""};
    cfg_usage(CFG_ARGC(a2), a2, "dashboard-dir must be a directory, not ''");
    char *a3[] = {"wcstream", "--source", "stdin", "--state", ""};
    cfg_usage(CFG_ARGC(a3), a3, "state must be a file path");
}

/* An unknown short option is named as such, also inside a cluster and
 * after a long option; and a long option's mistake is its own, whatever
 * word follows it. */
Test(config, unknown_short_option_message)
{
    char *argv[] = {"wcstream", "-x", "--source", "stdin"};
    cfg_usage(CFG_ARGC(argv), argv, "unknown option '-x'");
    char *argv2[] = {"wcstream", "-xy", "--source", "stdin"};
    cfg_usage(CFG_ARGC(argv2), argv2, "-x");
    char *argv3[] = {"wcstream", "--source", "stdin", "--lowercase", "-xy"};
    cfg_usage(CFG_ARGC(argv3), argv3, "unknown option '-x'");
    char *argv4[] = {"wcstream", "--source=stdin", "-qz"};
    cfg_usage(CFG_ARGC(argv4), argv4, "unknown option '-q'");
    char *argv5[] = {"wcstream", "--source=stdin", "--version=1", "-lx"};
    cfg_usage(CFG_ARGC(argv5), argv5, "option '--version' takes no value");
    char *argv6[] = {"wcstream", "--source=stdin", "--trigger"};
    cfg_usage(CFG_ARGC(argv6), argv6, "option '--trigger' needs a value");
}

/* A value given to a flag that takes none is named as that mistake. */
Test(config, flag_without_value_given_one)
{
    struct wcs_config cf;
    char err[512];
    char *argv[] = {"wcstream", "--source", "stdin", "--help=yes"};
    cr_expect_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_USAGE);
    cr_expect_not_null(strstr(err, "option '--help' takes no value"), "got: %s", err);
    wcs_config_free(&cf);
}

/* --lowercase alone is true; =true and =false set it, =anything else is
 * refused. */
Test(config, lowercase_takes_an_optional_value)
{
    struct wcs_config cf;
    char err[512];
    char *argv[] = {"wcstream", "--source", "stdin", "--lowercase=false", "--lowercase"};
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect(cf.lowercase);
    wcs_config_free(&cf);
    char *argv2[] = {"wcstream", "--source", "stdin", "--lowercase=yes"};
    cfg_usage(CFG_ARGC(argv2), argv2, "lowercase must be true or false, not 'yes'");
}

/* ---- --help and --version ---------------------------------------------- */

Test(config, help_exits, .init = cr_redirect_stdout)
{
    char *argv[] = {"wcstream", "--help", "--bogus-after-help"};
    struct wcs_config cf;
    char err[256];
    cr_expect_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_EXIT);
    wcs_config_free(&cf);
    fflush(stdout);
    char out[4096] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, cr_get_redirected_stdout());
    out[n] = '\0';
    cr_expect_eq(strncmp(out, "usage: wcstream", 15), 0, "got: %.80s", out);
    cr_expect_not_null(strstr(out, "--max-bytes-per-trigger"));
}

Test(config, version_exits_without_source, .init = cr_redirect_stdout)
{
    char *argv[] = {"wcstream", "--version"};
    struct wcs_config cf;
    char err[256];
    cr_expect_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_EXIT);
    wcs_config_free(&cf);
    fflush(stdout);
    char out[256] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, cr_get_redirected_stdout());
    out[n] = '\0';
    cr_expect_eq(strncmp(out, "wcstream ", 9), 0, "got: %s", out);
    cr_expect_eq(out[n ? n - 1 : 0], '\n');
}

/* ---- wcs_config_set ---------------------------------------------------- */

Test(config, set_directly)
{
    struct wcs_config cf;
    char err[256] = "";
    wcs_config_init(&cf);
    cr_expect_eq(wcs_config_set(&cf, "lowercase", "true", err, sizeof(err)), 0);
    cr_expect(cf.lowercase);
    cr_expect_eq(wcs_config_set(&cf, "lowercase", "false", err, sizeof(err)), 0);
    cr_expect_not(cf.lowercase);
    cr_expect_eq(wcs_config_set(&cf, "lowercase", "1", err, sizeof(err)), -1);
    cr_expect_not_null(strstr(err, "true or false"), "got: %s", err);
    cr_expect_eq(wcs_config_set(&cf, "frobnicate", "x", err, sizeof(err)), -1);
    cr_expect_not_null(strstr(err, "'frobnicate'"), "got: %s", err);
    cr_expect_eq(wcs_config_set(&cf, "--trigger", "1s", err, sizeof(err)), -1,
                 "names are without dashes");
    cr_expect_eq(wcs_config_set(&cf, "state", "a.db", err, sizeof(err)), 0);
    cr_expect_eq(wcs_config_set(&cf, "state", "b.db", err, sizeof(err)), 0);
    cr_expect_str_eq(cf.state_path, "b.db", "a later value replaces the earlier");
    cr_expect_eq(wcs_config_set(&cf, "split", "regex:a", err, sizeof(err)), 0);
    cr_expect_eq(wcs_config_set(&cf, "split", "regex:bb", err, sizeof(err)), 0);
    cr_expect_str_eq(cf.split_pattern, "bb");
    cr_expect_eq(wcs_config_set(&cf, "split", "words", err, sizeof(err)), 0);
    cr_expect_eq(cf.split, WCS_SPLIT_WORDS);
    cr_expect_null(cf.split_pattern, "no stale pattern after leaving regex");
    wcs_config_free(&cf);
}

/* ---- --config FILE ----------------------------------------------------- */

Test(config, file_keys_like_flags, .init = cfg_setup, .fini = cfg_cleanup)
{
    const char *path = cfg_file("{\"source\": \"socket://h:1\", \"sink\": [\"console\", "
                                "\"jsonl://o\"], \"trigger\": \"1s\", \"lowercase\": true, "
                                "\"max-bytes-per-trigger\": 1048576, \"max-line-bytes\": \"4k\", "
                                "\"output-mode\": \"update\", \"state\": \"s.db\", "
                                "\"synchronous\": \"off\", \"split\": \"words\", "
                                "\"log-level\": \"warn\", \"progress-log\": \"p.jsonl\"}");
    char *argv[] = {"wcstream", "--config", (char *)path};
    struct wcs_config cf;
    char err[512];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_assert_eq(cf.sources.n, 1);
    cr_expect_str_eq(cf.sources.v[0], "socket://h:1");
    cr_assert_eq(cf.sinks.n, 2);
    cr_expect_str_eq(cf.sinks.v[0], "console");
    cr_expect_str_eq(cf.sinks.v[1], "jsonl://o");
    cr_expect_eq(cf.trigger_ms, 1000);
    cr_expect(cf.lowercase);
    cr_expect_eq(cf.max_bytes, 1048576);
    cr_expect_eq(cf.max_line, 4096);
    cr_expect_eq(cf.mode, WCS_MODE_UPDATE);
    cr_expect_str_eq(cf.state_path, "s.db");
    cr_expect_str_eq(cf.synchronous, "off");
    cr_expect_eq(cf.split, WCS_SPLIT_WORDS);
    cr_expect_eq(cf.log_level, WCS_LOG_WARN);
    cr_expect_str_eq(cf.progress_log, "p.jsonl");
    wcs_config_free(&cf);
}

Test(config, file_source_array_and_size_string, .init = cfg_setup, .fini = cfg_cleanup)
{
    const char *path = cfg_file("{\"source\": [\"a://1\", \"b://2\"], "
                                "\"max-bytes-per-trigger\": \"1MiB\", \"trigger\": 0, "
                                "\"lowercase\": false}");
    char *argv[] = {"wcstream", "--config=x"};
    char opt[160];
    snprintf(opt, sizeof(opt), "--config=%s", path);
    argv[1] = opt;
    struct wcs_config cf;
    char err[512];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_assert_eq(cf.sources.n, 2);
    cr_expect_str_eq(cf.sources.v[1], "b://2");
    cr_expect_eq(cf.max_bytes, 1u << 20);
    cr_expect_eq(cf.trigger_ms, 0);
    cr_expect_not(cf.lowercase);
    cr_assert_eq(cf.sinks.n, 1);
    cr_expect_str_eq(cf.sinks.v[0], "console", "the default sink when the file names none");
    cr_expect_str_eq(cf.state_path, "wcstream.db");
    wcs_config_free(&cf);
}

/* --config as getopt_long() takes every option: abbreviated too (it was
 * taken for --config and then ignored). A string of the file is as long as
 * the same flag's value may be. */
Test(config, file_by_abbreviation_with_long_strings, .init = cfg_setup, .fini = cfg_cleanup)
{
    static char json[9000];
    char pattern[6001];
    memset(pattern, 'x', sizeof(pattern) - 1);
    pattern[sizeof(pattern) - 1] = '\0';
    snprintf(json, sizeof(json), "{\"output-mode\": \"update\", \"split\": \"regex:%s\"}", pattern);
    const char *path = cfg_file(json);
    char *argv[] = {"wcstream", "--source", "stdin", "--conf", (char *)path};
    struct wcs_config cf;
    char err[512];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect_eq(cf.mode, WCS_MODE_UPDATE, "--conf did not read the file");
    cr_expect_eq(cf.split, WCS_SPLIT_REGEX);
    cr_expect_eq(strlen(cf.split_pattern), 6000);
    wcs_config_free(&cf);
}

Test(config, flags_override_file, .init = cfg_setup, .fini = cfg_cleanup)
{
    const char *path = cfg_file("{\"source\": [\"a://1\", \"b://2\"], \"sink\": \"jsonl://f\", "
                                "\"trigger\": \"5s\", \"state\": \"file.db\", "
                                "\"lowercase\": true}");
    /* --config last: the file is still read first. */
    char *argv[] = {"wcstream", "--source", "c://3",    "--trigger", "250ms",
                    "--source", "d://4",    "--config", (char *)path};
    struct wcs_config cf;
    char err[512];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_assert_eq(cf.sources.n, 2, "a --source flag replaces the file's list");
    cr_expect_str_eq(cf.sources.v[0], "c://3");
    cr_expect_str_eq(cf.sources.v[1], "d://4");
    cr_assert_eq(cf.sinks.n, 1, "no --sink flag: the file's sink stays");
    cr_expect_str_eq(cf.sinks.v[0], "jsonl://f");
    cr_expect_eq(cf.trigger_ms, 250, "the scalar flag wins");
    cr_expect_str_eq(cf.state_path, "file.db");
    cr_expect(cf.lowercase);
    wcs_config_free(&cf);

    char *argv2[] = {"wcstream", "--config", (char *)path, "--sink", "console"};
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv2), argv2, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect_eq(cf.sources.n, 2, "the file's sources stay");
    cr_assert_eq(cf.sinks.n, 1);
    cr_expect_str_eq(cf.sinks.v[0], "console", "a --sink flag replaces the file's list");
    cr_expect_eq(cf.trigger_ms, 5000);
    wcs_config_free(&cf);

    char *argv3[] = {"wcstream", "--config", (char *)path, "--lowercase=false"};
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv3), argv3, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect(!cf.lowercase, "--lowercase=false overrides the file's true");
    wcs_config_free(&cf);
}

/* Two files merged half-way: a key in both had its later value for a
 * scalar but both lists for "source" and "sink", so the sources of two
 * files were all read. One file holds the settings; flags override it. */
Test(config, config_given_twice_refused, .init = cfg_setup, .fini = cfg_cleanup)
{
    const char *a = cfg_file("{\"source\": \"stdin\", \"state\": \"a.db\"}");
    const char *b = cfg_file("{\"source\": \"listen://127.0.0.1:1\", \"state\": \"b.db\"}");
    char *argv[] = {"wcstream", "--config", (char *)a, "--config", (char *)b};
    cfg_usage(CFG_ARGC(argv), argv, "--config is given twice");
    char *argv2[] = {"wcstream", "--conf", (char *)a, "--config=x.json"};
    cfg_usage(CFG_ARGC(argv2), argv2, "--config is given twice");
}

/* The file must be refused with an error naming its path and containing needle. */
static void cfg_bad_file(const char *json, const char *needle)
{
    const char *path = cfg_file(json);
    char *argv[] = {"wcstream", "--source", "stdin", "--config", (char *)path};
    struct wcs_config cf;
    char err[512];
    cr_expect_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_USAGE,
                 "file %s should be refused", json);
    cr_expect_not_null(strstr(err, path), "error '%s' should name %s", err, path);
    if (needle)
        cr_expect_not_null(strstr(err, needle), "error '%s' should mention '%s'", err, needle);
    wcs_config_free(&cf);
}

Test(config, file_malformed, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"source\": ", "JSON object");
    cfg_bad_file("", "JSON object");
    cfg_bad_file("[\"source\", \"stdin\"]", "JSON object");
    cfg_bad_file("\"stdin\"", "JSON object");
    cfg_bad_file("{\"trigger\": \"1s\",}", NULL);
}

/* Trailing garbage, or a second object whose settings would be ignored,
 * makes the file invalid. */
Test(config, file_trailing_garbage, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"source\": \"stdin\"} trailing", NULL);
    cfg_bad_file("{\"source\": \"stdin\"}\n{\"trigger\": \"1s\"}\n", NULL);

    /* A NUL byte is not white space (strchr() finds the terminator). */
    static const char nul[] = "{\"source\": \"stdin\"}\n\0";
    struct wcs_config cf;
    char err[256] = "";
    wcs_config_init(&cf);
    cr_expect_eq(wcs_config_load_json(&cf, nul, sizeof(nul) - 1, "f", err, sizeof(err)), -1,
                 "a NUL after the object was taken for white space");
    cr_expect_not_null(strstr(err, "not one JSON object"), "got: %s", err);
    wcs_config_free(&cf);
}

/* cJSON decodes \u0000 into a NUL that ends its string there: the value
 * was cut short without a word ("stdin\u0000x" read stdin, a token lost
 * its end). No flag can hold a NUL either. */
Test(config, file_nul_escape_refused, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"source\": \"stdin\\u0000x\"}", "\\u0000");
    cfg_bad_file("{\"source\": [\"stdin\"], \"state\": \"a.db\\u0000b\"}", "\\u0000");
    cfg_bad_file("{\"source\\u0000x\": \"stdin\"}", "\\u0000");
    /* An escaped backslash before "u0000" is no escape of a NUL. */
    const char *path = cfg_file("{\"source\": \"stdin\", \"state\": \"a\\\\u0000.db\"}");
    char *argv[] = {"wcstream", "--config", (char *)path};
    struct wcs_config cf;
    char err[512];
    cr_assert_eq(cfg_run(&cf, CFG_ARGC(argv), argv, err, sizeof(err)), WCS_CONFIG_OK, "%s", err);
    cr_expect_str_eq(cf.state_path, "a\\u0000.db");
    wcs_config_free(&cf);
}

Test(config, file_wrong_types, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"trigger\": null}", "\"trigger\" must be a string, number or boolean");
    cfg_bad_file("{\"trigger\": {\"every\": \"1s\"}}", "\"trigger\" must be a string, number");
    cfg_bad_file("{\"trigger\": [\"1s\"]}", "\"trigger\" must be a string, number");
    cfg_bad_file("{\"source\": {\"a\": 1}}", "\"source\" must be a string or a list of strings");
    cfg_bad_file("{\"source\": [[\"a\"]]}", "source");
    cfg_bad_file("{\"source\": [{}]}", "source");
}

/* A number is judged by its setting, as the same text given as a flag. */
Test(config, file_numbers_judged_by_the_setting, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"threads\": 2.7}", "threads must be a number from 1 to 64, or 0 for one "
                                       "per core, not '2.7'");
    cfg_bad_file("{\"threads\": 100000000000000.5}", "not '100000000000000.5'");
    cfg_bad_file("{\"threads\": -1}", "not '-1'");
    cfg_bad_file("{\"max-bytes-per-trigger\": 1.5}", "must be a size from 1024");
    cfg_bad_file("{\"max-bytes-per-trigger\": -4096}", "not '-4096'");
    cfg_bad_file("{\"max-line-bytes\": 100.5}", "not '100.5'");
    cfg_bad_file("{\"trigger\": 1e300}", "trigger must be a duration");
}

/* A key that is not a setting is said to be one, whatever its value. */
Test(config, file_unknown_keys_of_any_type, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"source\": \"stdin\", \"Source\": [\"stdin\"]}", "unknown setting 'Source'");
    cfg_bad_file("{\"bogus\": [1]}", "unknown setting 'bogus'");
    cfg_bad_file("{\"bogus\": {}}", "unknown setting 'bogus'");
    cfg_bad_file("{\"help\": true}", "unknown setting 'help'");
}

/* A key given twice is refused: JSON leaves its meaning open, and two
 * sink lists used to be joined while two triggers were the last one. */
Test(config, file_key_given_twice, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"sink\": \"console\", \"trigger\": \"1s\", \"sink\": [\"console\"]}",
                 "\"sink\" is given twice");
    cfg_bad_file("{\"trigger\": \"1s\", \"trigger\": \"2s\"}", "\"trigger\" is given twice");
}

Test(config, file_bad_values, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"lowercase\": \"yes\"}", "lowercase");
    cfg_bad_file("{\"trigger\": 5}", "trigger");
    cfg_bad_file("{\"output-mode\": \"append\"}", "window");
    cfg_bad_file("{\"colour\": \"blue\"}", "'colour'");
    cfg_bad_file("{\"config\": \"other.json\"}", "'config'");
    cfg_bad_file("{\"max-bytes-per-trigger\": 1000}", "1024");
}

Test(config, file_missing, .init = cfg_setup, .fini = cfg_cleanup)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/absent.json", cfg_dir);
    char *argv[] = {"wcstream", "--source", "stdin", "--config", path};
    cfg_usage(CFG_ARGC(argv), argv, path);
    char *argv2[] = {"wcstream", "--source", "stdin", "--config", cfg_dir};
    cfg_usage(CFG_ARGC(argv2), argv2, cfg_dir);
}

/* List entries must be strings: {"source": [5, true]} is refused here,
 * not later with a less helpful message. */
Test(config, file_list_entries_must_be_strings, .init = cfg_setup, .fini = cfg_cleanup)
{
    cfg_bad_file("{\"source\": [5]}", "strings");
    cfg_bad_file("{\"sink\": [true]}", "strings");
}

/* ---- repeated calls (getopt_long keeps global state) ------------------- */

Test(config, repeated_calls)
{
    struct wcs_config cf;
    char err[256];
    for (int round = 0; round < 3; round++) {
        char *ok[] = {"wcstream", "--source", "stdin", "--trigger", "1s"};
        cr_assert_eq(cfg_run(&cf, CFG_ARGC(ok), ok, err, sizeof(err)), WCS_CONFIG_OK,
                     "round %d: %s", round, err);
        cr_expect_eq(cf.sources.n, 1, "round %d", round);
        cr_expect_eq(cf.trigger_ms, 1000, "round %d", round);
        wcs_config_free(&cf);

        /* Fail in the middle of argv; the next call must start afresh. */
        char *bad[] = {"wcstream", "--source", "stdin", "--bogus", "--trigger", "1s"};
        cr_expect_eq(cfg_run(&cf, CFG_ARGC(bad), bad, err, sizeof(err)), WCS_CONFIG_USAGE);
        wcs_config_free(&cf);

        char *stray[] = {"wcstream", "x", "--source", "stdin"};
        cr_expect_eq(cfg_run(&cf, CFG_ARGC(stray), stray, err, sizeof(err)), WCS_CONFIG_USAGE);
        wcs_config_free(&cf);

        char *other[] = {"wcstream", "--sink", "console", "--source", "a://1", "--source", "b"};
        cr_assert_eq(cfg_run(&cf, CFG_ARGC(other), other, err, sizeof(err)), WCS_CONFIG_OK,
                     "round %d: %s", round, err);
        cr_expect_eq(cf.sources.n, 2, "round %d", round);
        cr_expect_eq(cf.trigger_ms, 0, "round %d: nothing carried over", round);
        wcs_config_free(&cf);
    }
}

/* Every call parses its own argv, even after one that stopped inside a
 * cluster of short options (getopt is reset with optind = 0). */
Test(config, repeated_calls_after_short_option_cluster)
{
    struct wcs_config cf;
    char err[256];
    char *bad[] = {"wcstream", "-xy", "--source", "stdin"};
    cr_expect_eq(cfg_run(&cf, CFG_ARGC(bad), bad, err, sizeof(err)), WCS_CONFIG_USAGE);
    wcs_config_free(&cf);
    char *ok[] = {"wcstream", "--source", "stdin"};
    cr_expect_eq(cfg_run(&cf, CFG_ARGC(ok), ok, err, sizeof(err)), WCS_CONFIG_OK, "got: %s", err);
    wcs_config_free(&cf);
}
