#include "config.h"

#include <sodium.h>

#include "qr.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUIET 4 /* modules of light border the QR standard asks for */
#define PNG_SCALE 8

static QRcode *encode(const char *text, mz_err *e)
{
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL)
        mz_fail(e, MZ_ERR_NOMEM, _("cannot make the QR code: %s"), strerror(errno));
    return qr;
}

/* The matrix describes the secret: wipe it before it goes back to the allocator. */
static void release(QRcode *qr)
{
    if (qr == NULL)
        return;
    sodium_memzero(qr->data, (size_t)qr->width * (size_t)qr->width);
    QRcode_free(qr);
}

/* Dark module at (X, Y), counting the quiet zone as light. */
static bool dark(const QRcode *qr, int x, int y)
{
    if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
        return false;
    return qr->data[y * qr->width + x] & 1;
}

int qr_print_terminal(const char *text, FILE *out, mz_err *e)
{
    QRcode *qr = encode(text, e);
    if (qr == NULL)
        return MZ_ERR_NOMEM;
    /* White foreground draws light modules, black background shows dark ones. */
    for (int y = -QUIET; y < qr->width + QUIET; y += 2) {
        fputs("\033[97;40m", out);
        for (int x = -QUIET; x < qr->width + QUIET; x++) {
            bool top = dark(qr, x, y), bottom = dark(qr, x, y + 1);
            fputs(!top && !bottom ? "\u2588" : !top ? "\u2580" : !bottom ? "\u2584" : " ", out);
        }
        fputs("\033[0m\n", out);
    }
    release(qr);
    return MZ_OK;
}

/* A new file for a secret, PATH in the folder DIR (AT_FDCWD: as a path): mode 0600,
 * O_EXCL, no link followed. */
static int create_secret_file(int dir, const char *path, FILE **f, mz_err *e)
{
    int fd = openat(dir, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) /* an existing file or link is the caller's mistake: exit 2 */
        return mz_fail(e, errno == EEXIST ? MZ_ERR_INPUT : MZ_ERR_PERM, _("%s: cannot create: %s"),
                       path, strerror(errno));
    *f = fdopen(fd, "wb");
    if (*f == NULL) {
        close(fd);
        unlinkat(dir, path, 0);
        return mz_fail(e, MZ_ERR_NOMEM, _("%s: cannot create: %s"), path, strerror(errno));
    }
    return MZ_OK;
}

/* Closes F and removes PATH (in DIR) if anything went wrong, so no half file is left. */
static int finish_file(FILE *f, int dir, const char *path, int rc, mz_err *e)
{
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        if (rc == MZ_OK)
            rc = mz_fail(e, MZ_ERR_PERM, _("%s: cannot write: %s"), path, strerror(errno));
    }
    if (fclose(f) != 0 && rc == MZ_OK)
        rc = mz_fail(e, MZ_ERR_PERM, _("%s: cannot write: %s"), path, strerror(errno));
    if (rc != MZ_OK)
        unlinkat(dir, path, 0);
    return rc;
}

/* The QR code of TEXT and a new secret file PATH (in DIR) for it. */
static int start_file(const char *text, int dir, const char *path, QRcode **qr, FILE **f, mz_err *e)
{
    *qr = encode(text, e);
    if (*qr == NULL)
        return MZ_ERR_NOMEM;
    int rc = create_secret_file(dir, path, f, e);
    if (rc != MZ_OK) {
        release(*qr);
        *qr = NULL;
    }
    return rc;
}

int qr_write_png_at(int dir, const char *path, const char *text, mz_err *e)
{
    QRcode *qr;
    FILE *f;
    int started = start_file(text, dir, path, &qr, &f, e);
    if (started != MZ_OK)
        return started;
    int side = (qr->width + 2 * QUIET) * PNG_SCALE;
    png_bytep volatile row = calloc((size_t)side, 1);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    volatile int rc = MZ_OK;
    if (row == NULL || png == NULL || info == NULL) {
        rc = mz_fail(e, MZ_ERR_NOMEM, _("out of memory"));
    } else if (setjmp(png_jmpbuf(png))) {
        rc = mz_fail(e, MZ_ERR_PERM, _("%s: cannot write the PNG"), path);
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8, PNG_COLOR_TYPE_GRAY,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int py = 0; py < side; py++) {
            int y = py / PNG_SCALE - QUIET;
            for (int px = 0; px < side; px++)
                row[px] = dark(qr, px / PNG_SCALE - QUIET, y) ? 0 : 255;
            png_write_row(png, row);
        }
        png_write_end(png, info);
    }
    png_destroy_write_struct(&png, &info);
    if (row != NULL)
        sodium_memzero(row, (size_t)side);
    free(row);
    release(qr);
    return finish_file(f, dir, path, rc, e);
}

int qr_write_png(const char *text, const char *path, mz_err *e)
{
    return qr_write_png_at(AT_FDCWD, path, text, e);
}

int qr_write_svg(const char *text, const char *path, mz_err *e)
{
    QRcode *qr;
    FILE *f;
    int started = start_file(text, AT_FDCWD, path, &qr, &f, e);
    if (started != MZ_OK)
        return started;
    int side = qr->width + 2 * QUIET;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\" shape-rendering=\"crispEdges\">\n"
            "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"",
            side, side, side * PNG_SCALE, side * PNG_SCALE, side, side);
    for (int y = 0; y < qr->width; y++)
        for (int x = 0; x < qr->width; x++)
            if (dark(qr, x, y))
                fprintf(f, "M%d %dh1v1h-1z", x + QUIET, y + QUIET);
    fputs("\"/>\n</svg>\n", f);
    int rc = ferror(f) ? mz_fail(e, MZ_ERR_PERM, _("%s: cannot write: %s"), path, strerror(errno))
                       : MZ_OK;
    release(qr);
    return finish_file(f, AT_FDCWD, path, rc, e);
}
