/*
 * assets.S - the dashboard, built into the binary.
 *
 * Each file becomes a read-only byte array sym .. sym_end that the
 * websocket sink serves; nothing is fetched at run time. Paths are relative
 * to the project root, where make runs the assembler.
 */
#define ASSET(sym, file)          \
    .global sym, sym##_end;       \
    .balign 16;                   \
    sym:                          \
    .incbin file;                 \
    sym##_end:

    .section .rodata
ASSET(wcs_asset_index_html, "sinks/dashboard/index.html")
ASSET(wcs_asset_app_js, "sinks/dashboard/app.js")
ASSET(wcs_asset_style_css, "sinks/dashboard/style.css")
ASSET(wcs_asset_favicon_svg, "sinks/dashboard/favicon.svg")

    .section .note.GNU-stack, "", @progbits
