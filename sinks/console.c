/*
 * console.c - the console sink: Spark's console output, byte for byte.
 *
 * The last stop of the data path for someone watching a terminal: after
 * every committed batch it prints the "Batch: N" banner and the
 * Dataset.show() table of the batch's rows exactly as Spark's console sink
 * does - same borders, alignment, 20-character truncation and "only showing
 * top N rows" footer. Complete mode shows the top of the whole state,
 * update mode the words this batch changed. A batch is rendered into memory
 * and written to stdout with one fwrite and one fflush, so it never
 * interleaves with log lines, and a closed stdout is an error, not a crash.
 */
#include "wcstream/sink.h"
#include "wcstream/topk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

#include "wcstream/text.h"

#define TRUNCATE_AT   20 /* show()'s truncate: longer cells are cut */
#define MIN_COL_WIDTH 3  /* show() never draws a narrower column */
#define BANNER        "-------------------------------------------\n"

struct console {
    size_t num_rows;
    bool truncate;
};

/*
 * Walk a cell as Spark shows it, one shown character at a time: a control
 * character becomes its escape (wcs_control_escape(): Spark's letters, and
 * beyond Spark, which prints the other control characters raw, \xNN or
 * \uNNNN), an undecodable byte becomes U+FFFD
 * (what the JVM's UTF-8 decoder would have made of it), anything else is
 * itself. The first `limit` shown characters are printed to out (when out
 * is not NULL) and their display width is added to *width. Returns the
 * number of shown characters of the whole cell.
 */
static size_t walk_cell(FILE *out, const char *s, size_t len, size_t limit, size_t *width)
{
    size_t i = 0, chars = 0;

    while (i < len) {
        size_t n = wcs_utf8_prefix(s + i, len - i, 1);
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        size_t elen = wcs_control_escape(s + i, n, esc);

        if (elen) {
            for (size_t k = 0; k < elen; k++, chars++) {
                if (chars < limit) {
                    if (out)
                        fputc(esc[k], out);
                    *width += 1;
                }
            }
        } else {
            if (chars < limit) {
                if (n == 1 && c >= 0x80) {
                    if (out)
                        fputs("\xEF\xBF\xBD", out);
                    *width += 1;
                } else {
                    if (out)
                        fwrite(s + i, 1, n, out);
                    *width += wcs_utf8_width(s + i, n);
                }
            }
            chars++;
        }
        i += n;
    }
    return chars;
}

/* Print one cell's text, truncated as show() does when `truncate`, to out
 * (NULL: print nothing). Returns its display width. */
static size_t put_cell(FILE *out, const char *s, size_t len, bool truncate)
{
    size_t width = 0, ignored = 0;

    if (truncate && walk_cell(NULL, s, len, 0, &ignored) > TRUNCATE_AT) {
        walk_cell(out, s, len, TRUNCATE_AT - 3, &width);
        if (out)
            fputs("...", out);
        return width + 3;
    }
    walk_cell(out, s, len, SIZE_MAX, &width);
    return width;
}

static void put_spaces(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

/* One cell padded to `col` columns: on the left when truncating (show()
 * right-aligns then), on the right otherwise. */
static void put_padded(FILE *out, const char *s, size_t len, size_t col, bool truncate)
{
    size_t width = put_cell(NULL, s, len, truncate);
    size_t pad = col > width ? col - width : 0;

    if (truncate)
        put_spaces(out, pad);
    put_cell(out, s, len, truncate);
    if (!truncate)
        put_spaces(out, pad);
}

static void put_line(FILE *out, const char *word, size_t wlen, const char *count, size_t wcol,
                     size_t ccol, bool truncate)
{
    fputc('|', out);
    put_padded(out, word, wlen, wcol, truncate);
    fputc('|', out);
    put_padded(out, count, strlen(count), ccol, truncate);
    fputs("|\n", out);
}

static void put_separator(FILE *out, size_t wcol, size_t ccol)
{
    fputc('+', out);
    for (size_t i = 0; i < wcol; i++)
        fputc('-', out);
    fputc('+', out);
    for (size_t i = 0; i < ccol; i++)
        fputc('-', out);
    fputs("+\n", out);
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

void wcs_console_render(FILE *out, const struct wcs_result *res, size_t num_rows, int truncate)
{
    const struct wcs_row *rows;
    struct wcs_row *best = NULL;
    size_t n, wcol, ccol;
    bool more, trunc = truncate != 0;
    char num[24];

    if (res->mode == WCS_MODE_UPDATE) {
        /* The largest of the updated rows, in the table's order. */
        n = res->n_updated < num_rows ? res->n_updated : num_rows;
        best = malloc((n ? n : 1) * sizeof(*best));
        rows = best ? best : res->updated; /* out of memory: unsorted */
        if (best)
            wcs_rows_best(res->updated, res->n_updated, n, best);
        more = res->n_updated > num_rows;
    } else {
        rows = res->top;
        n = res->n_top;
        more = res->distinct_words > 0 && (uint64_t)res->distinct_words > num_rows;
    }
    if (n > num_rows)
        n = num_rows;

    wcol = max_size(MIN_COL_WIDTH, put_cell(NULL, "word", 4, trunc));
    ccol = max_size(MIN_COL_WIDTH, put_cell(NULL, "count", 5, trunc));
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "%" PRId64, rows[i].count);
        wcol = max_size(wcol, put_cell(NULL, rows[i].word, rows[i].len, trunc));
        ccol = max_size(ccol, put_cell(NULL, num, strlen(num), trunc));
    }

    fprintf(out, BANNER "Batch: %" PRId64 "\n" BANNER, res->batch_id);
    put_separator(out, wcol, ccol);
    put_line(out, "word", 4, "count", wcol, ccol, trunc);
    put_separator(out, wcol, ccol);
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "%" PRId64, rows[i].count);
        put_line(out, rows[i].word, rows[i].len, num, wcol, ccol, trunc);
    }
    put_separator(out, wcol, ccol);
    if (more)
        fprintf(out, "only showing top %zu %s\n", num_rows, num_rows == 1 ? "row" : "rows");
    fputc('\n', out);
    free(best);
}

static int console_init(struct wcs_sink *sk, struct wcs_uri *uri, const struct wcs_sink_env *env,
                        char *err, size_t errlen)
{
    struct console *con;
    size_t num_rows = 20;
    bool truncate = true;

    if (uri->target && uri->target[0]) {
        snprintf(err, errlen, "%s: the console sink takes no target, only options", uri->text);
        return WCS_EUSAGE;
    }
    if (wcs_uri_get_size(uri, "numRows", 1, WCS_TOPK_MAX, &num_rows, err, errlen) < 0 ||
        wcs_uri_get_bool(uri, "truncate", &truncate, err, errlen) < 0)
        return WCS_EUSAGE;
    con = malloc(sizeof(*con));
    if (!con) {
        snprintf(err, errlen, "%s: out of memory", uri->text);
        return -1;
    }
    con->num_rows = num_rows;
    con->truncate = truncate;
    sk->ctx = con;
    sk->top_n = env->mode == WCS_MODE_COMPLETE ? num_rows : 0; /* update mode shows updates */
    return 0;
}

static int console_emit(struct wcs_sink *sk, const struct wcs_result *res, char *err, size_t errlen)
{
    struct console *con = sk->ctx;
    char *text = NULL;
    size_t len = 0;
    FILE *mem;
    int bad;

    mem = open_memstream(&text, &len);
    if (!mem) {
        snprintf(err, errlen, "console sink: out of memory rendering batch %" PRId64,
                 res->batch_id);
        return -1;
    }
    wcs_console_render(mem, res, con->num_rows, con->truncate);
    bad = ferror(mem);
    if (fclose(mem) != 0 || bad) {
        free(text);
        snprintf(err, errlen, "console sink: out of memory rendering batch %" PRId64,
                 res->batch_id);
        return -1;
    }

    errno = 0;
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        int e = errno ? errno : EIO;

        /* Drop what stdio still holds so the next batch starts clean. */
        __fpurge(stdout);
        clearerr(stdout);
        free(text);
        snprintf(err, errlen, "console sink: cannot write batch %" PRId64 " to stdout: %s",
                 res->batch_id, strerror(e));
        return -1;
    }
    free(text);
    return 0;
}

static void console_destroy(struct wcs_sink *sk)
{
    if (sk->ctx)
        fflush(stdout);
    free(sk->ctx);
    sk->ctx = NULL;
}

const struct wcs_sink_plugin wcs_sink_console = {
    .scheme = "console",
    .usage = "console[?numRows=N&truncate=true|false]",
    .init = console_init,
    .emit = console_emit,
    .destroy = console_destroy,
};
