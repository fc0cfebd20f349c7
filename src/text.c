/*
 * text.c - measure words for display, escape what a terminal must not
 * see, and encode words as JSON strings.
 *
 * Sits at the very end of the data path: the sinks call these on the words
 * of a committed batch (and the log on the lines it writes). Words are
 * arbitrary bytes, so decoding is strict UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and a byte that does not start a
 * valid sequence is one undecodable character of its own; nothing here
 * ever fails on bad input. Display widths come from utf8proc's East Asian
 * width tables.
 */
#include "wcstream/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

/* Decode the character at s (len >= 1). Returns its byte length and sets
 * *cp to the code point, or to -1 for an undecodable byte (length 1). */
static size_t decode(const unsigned char *s, size_t len, int32_t *cp)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    size_t n;
    int32_t v;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        *cp = -1; /* continuation byte, C0, C1 or F5..FF */
        return 1;
    }
    if (len < n || s[1] < lo || s[1] > hi) {
        *cp = -1;
        return 1;
    }
    v = (v << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

size_t wcs_utf8_chars(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, chars = 0;
    int32_t cp;

    while (i < len) {
        if (p[i] < 0x80)
            i++;
        else
            i += decode(p + i, len - i, &cp);
        chars++;
    }
    return chars;
}

size_t wcs_utf8_prefix(const char *s, size_t len, size_t chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int32_t cp;

    while (i < len && chars > 0) {
        i += decode(p + i, len - i, &cp);
        chars--;
    }
    return i;
}

size_t wcs_utf8_width(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, width = 0;
    int32_t cp;

    while (i < len) {
        i += decode(p + i, len - i, &cp);
        width += cp < 0 ? 1 : (size_t)utf8proc_charwidth(cp);
    }
    return width;
}

/* The letter of Spark's escape of a control byte, 0 when it has none. */
static char meta_escape(unsigned char c)
{
    switch (c) {
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    case '\f':
        return 'f';
    case '\b':
        return 'b';
    case '\v':
        return 'v';
    case '\a':
        return 'a';
    }
    return 0;
}

size_t wcs_control_escape(const char *s, size_t n, char esc[8])
{
    const unsigned char *p = (const unsigned char *)s;
    char letter = n == 1 ? meta_escape(p[0]) : 0;

    if (letter)
        return (size_t)snprintf(esc, 8, "\\%c", letter);
    if (n == 1 && (p[0] < 0x20 || p[0] == 0x7F))
        return (size_t)snprintf(esc, 8, "\\x%02x", p[0]);
    if (n == 2 && p[0] == 0xC2 && p[1] < 0xA0) /* U+0080..U+009F */
        return (size_t)snprintf(esc, 8, "\\u%04x", p[1]);
    return 0;
}

size_t wcs_escape_line(char *out, size_t cap, const char *msg, size_t len)
{
    size_t o = 0;

    for (size_t i = 0, n; i < len; i += n) {
        char esc[8];
        const char *piece = esc;
        size_t plen;

        n = wcs_utf8_prefix(msg + i, len - i, 1);
        plen = wcs_control_escape(msg + i, n, esc);
        if (!plen && n == 1 && (unsigned char)msg[i] >= 0x80) {
            plen = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", (unsigned char)msg[i]);
        } else if (!plen) {
            piece = msg + i;
            plen = n;
        }
        if (plen > cap - o)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
    }
    return o;
}

/* The escape for a character below 0x20 or '"' or '\\' in JSON. Writes it
 * to esc and returns its length. */
static size_t json_escape(unsigned char c, char esc[7])
{
    static const char hex[] = "0123456789abcdef";
    char short_form = 0;

    switch (c) {
    case '"':
        short_form = '"';
        break;
    case '\\':
        short_form = '\\';
        break;
    case '\b':
        short_form = 'b';
        break;
    case '\f':
        short_form = 'f';
        break;
    case '\n':
        short_form = 'n';
        break;
    case '\r':
        short_form = 'r';
        break;
    case '\t':
        short_form = 't';
        break;
    }
    esc[0] = '\\';
    if (short_form) {
        esc[1] = short_form;
        return 2;
    }
    esc[1] = 'u';
    esc[2] = '0';
    esc[3] = '0';
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 0xF];
    return 6;
}

/* Append s[from..to) unless it is empty (s may be NULL then). */
static int append_run(struct wcs_buf *out, const char *s, size_t from, size_t to)
{
    return to > from ? wcs_buf_append(out, s + from, to - from) : 0;
}

int wcs_json_string(struct wcs_buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of the bytes copied as they are */
    size_t undo = out->len;
    int32_t cp;
    char esc[7];

    if (wcs_buf_reserve(out, len + 2) < 0)
        return -ENOMEM;
    out->data[out->len++] = '"';
    while (i < len) {
        const char *rep = NULL;
        size_t n = 1, rlen = 0;

        if (p[i] >= 0x80) {
            n = decode(p + i, len - i, &cp);
            if (cp < 0) {
                rep = "\\ufffd";
                rlen = 6;
            }
        } else if (p[i] < 0x20 || p[i] == '"' || p[i] == '\\') {
            rlen = json_escape(p[i], esc);
            rep = esc;
        }
        if (rep) {
            if (append_run(out, s, run, i) < 0 || wcs_buf_append(out, rep, rlen) < 0)
                goto fail;
            run = i + n;
        }
        i += n;
    }
    if (append_run(out, s, run, len) < 0 || wcs_buf_append(out, "\"", 1) < 0)
        goto fail;
    return 0;

fail:
    out->len = undo;
    return -ENOMEM;
}

int wcs_json_rows(struct wcs_buf *out, const struct wcs_row *rows, size_t n, size_t max_chars)
{
    size_t undo = out->len;

    if (wcs_buf_append(out, "[", 1) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        size_t len = rows[i].len;

        if (max_chars)
            len = wcs_utf8_prefix(rows[i].word, len, max_chars);
        if (wcs_buf_printf(out, "%s{\"word\":", i ? "," : "") < 0 ||
            wcs_json_string(out, rows[i].word, len) < 0 ||
            wcs_buf_printf(out, ",\"count\":%" PRId64 "%s}", rows[i].count,
                           len < rows[i].len ? ",\"cut\":true" : "") < 0)
            goto fail;
    }
    if (wcs_buf_append(out, "]", 1) < 0)
        goto fail;
    return 0;

fail:
    out->len = undo;
    return -ENOMEM;
}

char *wcs_json_print(const cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    if (!text)
        return NULL;
    const unsigned char *s = (const unsigned char *)text;
    size_t len = strlen(text), bad = 0;
    int32_t cp;
    for (size_t i = 0, n; i < len; i += n) {
        n = decode(s + i, len - i, &cp);
        bad += cp < 0;
    }
    if (!bad)
        return text;
    char *out = malloc(len + 2 * bad + 1); /* a byte becomes EF BF BD */
    if (out) {
        char *o = out;
        for (size_t i = 0, n; i < len; i += n) {
            n = decode(s + i, len - i, &cp);
            if (cp < 0)
                memcpy(o, "\xef\xbf\xbd", 3), o += 3;
            else
                memcpy(o, s + i, n), o += n;
        }
        *o = '\0';
    }
    free(text);
    return out;
}
