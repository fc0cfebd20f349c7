/*
 * text.h - UTF-8 helpers shared by the sinks.
 *
 * Words are arbitrary bytes. These helpers measure them for display,
 * escape their control characters for a terminal (the log's lines too) and
 * encode them as JSON strings without ever failing on invalid UTF-8.
 */
#ifndef WCSTREAM_TEXT_H
#define WCSTREAM_TEXT_H

#include <stddef.h>

#include "wcstream/buf.h"
#include "wcstream/result.h"

/* Number of characters: UTF-8 sequences count one each, every byte that
 * does not decode counts one. */
size_t wcs_utf8_chars(const char *s, size_t len);

/* Byte length of the first `chars` characters of s (as counted above). */
size_t wcs_utf8_prefix(const char *s, size_t len, size_t chars);

/* Terminal display width, as utf8proc_charwidth() gives it: East Asian
 * wide and fullwidth characters 2, combining marks and control characters
 * 0, others 1; each undecodable byte 1. */
size_t wcs_utf8_width(const char *s, size_t len);

/* The escape of the one character s[0, n) (n as wcs_utf8_prefix(s, len, 1)
 * gives it) into esc, and its length; 0 when it is no control character.
 * Spark's seven letters (\t, \n, \r, \f, \b, \v, \a: its
 * SchemaUtils.escapeMetaCharacters), the other C0 characters and DEL as
 * \xNN, C1 as \uNNNN: text from outside (a word, a file's name) must not
 * drive a terminal, where an ESC sequence recolours it or moves the cursor
 * and a newline starts a line of its own. */
size_t wcs_control_escape(const char *s, size_t n, char esc[8]);

/* Copy msg[0, len) to out, at most cap bytes, with control characters
 * escaped (wcs_control_escape()) and each byte that does not decode as
 * \xNN: a log line or an error sentence carries text from outside (a
 * watched directory's file names), which must neither drive the terminal
 * nor forge a line. Returns the bytes written; a character whose escape
 * does not fit is left out with the rest. */
size_t wcs_escape_line(char *out, size_t cap, const char *msg, size_t len);

/* Append s as a JSON string literal (with the quotes) to out. Valid UTF-8
 * is kept; control characters are escaped; each byte that does not decode
 * becomes \ufffd. 0 or -ENOMEM. */
int wcs_json_string(struct wcs_buf *out, const char *s, size_t len);

/* Append rows as [{"word":"w","count":N},...]. With max_chars > 0, a word
 * longer than that many characters is shortened to them and its row gets
 * "cut":true (for messages that must stay small). 0 or -ENOMEM. */
int wcs_json_rows(struct wcs_buf *out, const struct wcs_row *rows, size_t n, size_t max_chars);

/* cJSON_PrintUnformatted(json) with each byte that does not decode as
 * UTF-8 replaced by U+FFFD: cJSON passes a string's bytes through as they
 * are (a file's name, a source as it was given), and a websocket client
 * must drop a text message that is not UTF-8. Free with free().
 * NULL when out of memory. */
char *wcs_json_print(const cJSON *json);

#endif
