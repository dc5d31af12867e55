/*
 * qr.h: QR codes of 免证办 codes (libqrencode), as PNG and as SVG.
 */
#ifndef CERTSVC_QR_H
#define CERTSVC_QR_H

#include "certsvc/err.h"
#include "certsvc/mem.h"

/*
 * Encode text (8-bit mode, error correction level M, 4-module quiet zone)
 * as a greyscale PNG with scale pixels a module (1..32); *out is given
 * (buf_free).  CS_ERR_INVALID when text is empty or too long for a QR
 * code or scale is out of range.
 */
enum cs_rc qr_png(const char *text, unsigned scale, struct buf **out,
    struct cs_err *err) __attribute__((warn_unused_result));

/* The same QR code as a standalone SVG document (one path). */
enum cs_rc qr_svg(const char *text, struct buf **out, struct cs_err *err)
    __attribute__((warn_unused_result));

#endif
