/*
 * log.c - leveled logging to stderr.
 *
 * The whole process logs through wcs_log(): the engine's one-line batch
 * summaries, connector state changes (connected, retrying), errors. A line
 * is formatted into a stack buffer and written with one write(2), so lines
 * from source threads and the engine never interleave, and its control
 * characters are escaped, so that one line is one line whatever it quotes.
 */
#include "wcstream/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wcstream/text.h"

static enum wcs_log_level max_level = WCS_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

void wcs_log_set_level(enum wcs_log_level level)
{
    max_level = level;
}

int wcs_log_parse_level(const char *name, enum wcs_log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *level = (enum wcs_log_level)i;
            return 0;
        }
    }
    return -1;
}

void wcs_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void wcs_log(enum wcs_log_level level, const char *fmt, ...)
{
    if (level > max_level)
        return;
    char line[1024], msg[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
                          level_tags[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += wcs_escape_line(line + n, sizeof(line) - n - 1, msg,
                         (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
