/*
 * log.h - leveled logging to stderr.
 *
 * Every part of the data path logs through here so that one --log-level
 * governs the whole process. Lines look like
 *   2026-11-22T10:00:00.123Z INFO  batch 3: 120 rows, 40 updated, 2.1 ms
 * and are written with a single write(2), so lines from several threads
 * never interleave.
 */
#ifndef WCSTREAM_LOG_H
#define WCSTREAM_LOG_H

#include <stddef.h>

enum wcs_log_level { WCS_LOG_ERROR, WCS_LOG_WARN, WCS_LOG_INFO, WCS_LOG_DEBUG };

/* Set the most verbose level that is printed (default WCS_LOG_INFO). */
void wcs_log_set_level(enum wcs_log_level level);

/* Parse "error", "warn", "info" or "debug". 0 on success, -1 otherwise. */
int wcs_log_parse_level(const char *name, enum wcs_log_level *level);

/* printf-style; a newline is added. */
void wcs_log(enum wcs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write one printf-style sentence into a caller's err buffer (the
 * `char *err, size_t errlen` convention of every fallible function). */
void wcs_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define wcs_error(...) wcs_log(WCS_LOG_ERROR, __VA_ARGS__)
#define wcs_warn(...)  wcs_log(WCS_LOG_WARN, __VA_ARGS__)
#define wcs_info(...)  wcs_log(WCS_LOG_INFO, __VA_ARGS__)
#define wcs_debug(...) wcs_log(WCS_LOG_DEBUG, __VA_ARGS__)

#endif
