/*
 * qr.c: QR codes of 免证办 codes.  libqrencode makes the module matrix
 * (8-bit mode, level M); we write the image formats ourselves because
 * both are small: a PNG (RFC 2083 / ISO 15948) of one 8-bit greyscale IDAT
 * deflated by zlib, and an SVG of one path.  Both carry the 4-module quiet
 * zone ISO/IEC 18004 requires, so a scanner reads them on any background.
 *
 * The largest image (version 40, scale 32) has 5920 x 5920 pixels: about
 * 35 MB before compression, the bound on what one call allocates.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>
#include <zlib.h>

#include "certsvc/qr.h"

#define QR_QUIET 4
#define QR_SCALE_MAX 32

static const uint8_t png_signature[8] = {
    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* Encode text into a matrix; *out is given (QRcode_free). */
static enum cs_rc
qr_encode(const char *text, QRcode **out, struct cs_err *err)
{
	QRcode *qr;

	*out = NULL;
	if (text == NULL || text[0] == '\0')
		return cs_err_set(err, CS_ERR_INVALID, "qr: text is empty");
	errno = 0;
	qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	if (qr == NULL) {
		if (errno == ENOMEM)
			return cs_err_set(
			    err, CS_ERR_NOMEM, "qr: out of memory");
		/* ERANGE: longer than version 40 holds; EINVAL otherwise. */
		return cs_err_set(err, CS_ERR_INVALID,
		    "qr: text of %zu bytes does not fit in a qr code",
		    strlen(text));
	}
	*out = qr;
	return CS_OK;
}

/* Whether module (x, y) of qr, in matrix coordinates, is dark. */
static int
qr_dark(const QRcode *qr, int x, int y)
{
	return qr->data[(size_t)y * (size_t)qr->width + (size_t)x] & 1;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Append one PNG chunk: length, type, data, CRC-32 of type and data. */
static enum cs_rc
png_chunk(struct buf *b, const char type[4], const uint8_t *data, size_t len,
    struct cs_err *err)
{
	uint8_t word[4];
	uLong crc;

	if (len > 0x7fffffffu)
		return cs_err_set(err, CS_ERR_INVALID, "qr: chunk too large");
	if (buf_reserve(b, len + 12) != CS_OK)
		return cs_err_set(err, CS_ERR_NOMEM, "qr: out of memory");
	put_be32(word, (uint32_t)len);
	crc = crc32(0L, (const Bytef *)type, 4);
	if (len > 0)
		crc = crc32(crc, data, (uInt)len);
	/* Cannot fail after buf_reserve(). */
	(void)buf_append(b, word, 4);
	(void)buf_append(b, type, 4);
	if (len > 0)
		(void)buf_append(b, data, len);
	put_be32(word, (uint32_t)crc);
	(void)buf_append(b, word, 4);
	return CS_OK;
}

/*
 * The raw scanlines of the image: each row a filter byte 0 (None) and one
 * byte a pixel, 0 for dark and 255 for light.
 */
static uint8_t *
png_scanlines(const QRcode *qr, unsigned scale, size_t *outlen)
{
	size_t side = ((size_t)qr->width + 2 * QR_QUIET) * scale;
	size_t stride = side + 1;
	uint8_t *raw, *row;
	size_t y;

	raw = calloc(side, stride);
	if (raw == NULL)
		return NULL;
	for (y = 0; y < side; y++) {
		long my = (long)(y / scale) - QR_QUIET;
		size_t x;

		row = raw + y * stride;
		row[0] = 0;
		for (x = 0; x < side; x++) {
			long mx = (long)(x / scale) - QR_QUIET;
			int dark = mx >= 0 && my >= 0 && mx < qr->width &&
			    my < qr->width && qr_dark(qr, (int)mx, (int)my);

			row[1 + x] = dark ? 0 : 255;
		}
	}
	*outlen = side * stride;
	return raw;
}

enum cs_rc
qr_png(const char *text, unsigned scale, struct buf **out, struct cs_err *err)
{
	QRcode *qr = NULL;
	struct buf *png = NULL;
	uint8_t *raw = NULL, *z = NULL;
	uint8_t ihdr[13];
	size_t rawlen = 0;
	uLongf zlen;
	uint32_t side;
	enum cs_rc rc;

	*out = NULL;
	if (scale < 1 || scale > QR_SCALE_MAX)
		return cs_err_set(err, CS_ERR_INVALID,
		    "qr: scale %u is not within 1..%d", scale, QR_SCALE_MAX);
	rc = qr_encode(text, &qr, err);
	if (rc != CS_OK)
		goto out;
	raw = png_scanlines(qr, scale, &rawlen);
	if (raw == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "qr: out of memory");
		goto out;
	}
	zlen = compressBound((uLong)rawlen);
	z = malloc(zlen);
	if (z == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "qr: out of memory");
		goto out;
	}
	if (compress2(z, &zlen, raw, (uLong)rawlen, Z_BEST_COMPRESSION) !=
	    Z_OK) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "qr: deflate failed");
		goto out;
	}
	png = buf_new(zlen + 64);
	if (png == NULL) {
		rc = cs_err_set(err, CS_ERR_NOMEM, "qr: out of memory");
		goto out;
	}
	side = ((uint32_t)qr->width + 2 * QR_QUIET) * scale;
	put_be32(ihdr, side);
	put_be32(ihdr + 4, side);
	ihdr[8] = 8;  /* bit depth */
	ihdr[9] = 0;  /* colour type: greyscale */
	ihdr[10] = 0; /* compression: deflate */
	ihdr[11] = 0; /* filter method 0 */
	ihdr[12] = 0; /* no interlace */
	rc = buf_append(png, png_signature, sizeof(png_signature));
	if (rc != CS_OK) {
		rc = cs_err_set(err, rc, "qr: out of memory");
		goto out;
	}
	rc = png_chunk(png, "IHDR", ihdr, sizeof(ihdr), err);
	if (rc != CS_OK)
		goto out;
	rc = png_chunk(png, "IDAT", z, zlen, err);
	if (rc != CS_OK)
		goto out;
	rc = png_chunk(png, "IEND", NULL, 0, err);
	if (rc != CS_OK)
		goto out;
	*out = png;
	png = NULL;
out:
	buf_free(png);
	free(z);
	free(raw);
	QRcode_free(qr);
	return rc;
}

enum cs_rc
qr_svg(const char *text, struct buf **out, struct cs_err *err)
{
	QRcode *qr = NULL;
	struct buf *svg = NULL;
	int n, x, y;
	enum cs_rc rc;

	*out = NULL;
	rc = qr_encode(text, &qr, err);
	if (rc != CS_OK)
		goto out;
	n = qr->width + 2 * QR_QUIET;
	svg = buf_new(4096);
	if (svg == NULL) {
		rc = CS_ERR_NOMEM;
		goto nomem;
	}
	rc = buf_printf(svg,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
	    "shape-rendering=\"crispEdges\">\n"
	    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
	    "<path fill=\"#000\" d=\"",
	    n, n, n * 8, n * 8, n, n);
	if (rc != CS_OK)
		goto nomem;
	/* One subpath a horizontal run of dark modules. */
	for (y = 0; y < qr->width; y++) {
		for (x = 0; x < qr->width; x++) {
			int run = 0;

			while (x + run < qr->width && qr_dark(qr, x + run, y))
				run++;
			if (run == 0)
				continue;
			rc = buf_printf(svg, "M%d %dh%dv1h-%dz", x + QR_QUIET,
			    y + QR_QUIET, run, run);
			if (rc != CS_OK)
				goto nomem;
			x += run;
		}
	}
	rc = buf_append_str(svg, "\"/>\n</svg>\n");
	if (rc != CS_OK)
		goto nomem;
	*out = svg;
	svg = NULL;
	goto out;
nomem:
	rc = cs_err_set(err, rc, "qr: out of memory");
out:
	buf_free(svg);
	QRcode_free(qr);
	return rc;
}
