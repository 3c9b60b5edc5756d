/* QR codes of otpauth URIs: in the terminal, as PNG and as SVG. */
#ifndef QR_H
#define QR_H

#include "mz_util.h"

#include <stdio.h>

/* Draws the QR code of TEXT on OUT with UTF-8 half blocks, colours forced (white on
 * black) so that it scans whatever the terminal's theme. */
int qr_print_terminal(const char *text, FILE *out, mz_err *e);
/* Writes the QR code of TEXT to a new file PATH (mode 0600, never replacing a file,
 * never following a link) as PNG or SVG. */
int qr_write_png(const char *text, const char *path, mz_err *e);
int qr_write_svg(const char *text, const char *path, mz_err *e);
/* The same as PNG, PATH taken in the folder open as DIR (import --qr-dir: the folder is
 * held by its descriptor, so a link put in its place meanwhile is not followed). */
int qr_write_png_at(int dir, const char *path, const char *text, mz_err *e);

#endif
