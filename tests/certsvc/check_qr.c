/*
 * check_qr.c: certsvc/qr.c.  The PNG is taken apart by hand (signature,
 * chunk CRCs, IHDR, inflated IDAT, pixels against libqrencode's matrix),
 * the SVG path is redrawn into a matrix and compared, and an independent
 * decoder, zbarimg (Debian's zbar-tools, installed by scripts/deps.sh),
 * must read the PNG back to the text.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qrencode.h>
#include <zlib.h>

#include "certsvc/qr.h"
#include "tests/testutil.h"

extern char **environ;

/* A 免证办 long code: 32 random bytes in base64url, as codes are made. */
static const char long_code[] = "q0Vd9pXyW1uZr3hGkE2mTcNbA7sLfJ8oYiRwQ4xP6zU";

/* --- a small PNG reader ----------------------------------------------------*/

struct png_info {
	uint32_t width, height;
	uint8_t depth, colour, compression, filter, interlace;
	uint8_t *pixels; /* inflated IDAT: height rows of 1 + width bytes */
	size_t npixels;
	int nchunks;
};

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk png's chunks, checking each CRC and the chunk order IHDR, IDAT,
 * IEND; fill info and inflate the IDAT.
 */
static void
png_parse(const struct buf *png, struct png_info *info)
{
	static const uint8_t sig[8] = {
	    0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	static const char *order[] = {"IHDR", "IDAT", "IEND"};
	size_t off = 8;
	uLongf rawlen;

	memset(info, 0, sizeof(*info));
	ck_assert_uint_ge(png->len, 8);
	ck_assert_mem_eq(png->data, sig, 8);
	while (off < png->len) {
		uint32_t len, crc;
		const uint8_t *type, *data;

		ck_assert_uint_ge(png->len - off, 12);
		len = get_be32(png->data + off);
		ck_assert_uint_le(len, png->len - off - 12);
		type = png->data + off + 4;
		data = type + 4;
		crc = get_be32(data + len);
		ck_assert_uint_eq(crc32(crc32(0L, type, 4), data, len), crc);
		ck_assert_int_lt(info->nchunks, 3);
		ck_assert_mem_eq(type, order[info->nchunks], 4);
		if (memcmp(type, "IHDR", 4) == 0) {
			ck_assert_uint_eq(len, 13);
			info->width = get_be32(data);
			info->height = get_be32(data + 4);
			info->depth = data[8];
			info->colour = data[9];
			info->compression = data[10];
			info->filter = data[11];
			info->interlace = data[12];
		} else if (memcmp(type, "IDAT", 4) == 0) {
			/* One byte more than expected shows a longer stream. */
			info->npixels =
			    (size_t)info->height * (info->width + 1) + 1;
			info->pixels = malloc(info->npixels);
			ck_assert_ptr_nonnull(info->pixels);
			rawlen = info->npixels;
			ck_assert_int_eq(
			    uncompress(info->pixels, &rawlen, data, len), Z_OK);
			info->npixels = rawlen;
		} else {
			ck_assert_uint_eq(len, 0);
		}
		info->nchunks++;
		off += 12 + (size_t)len;
	}
	ck_assert_uint_eq(off, png->len);
	ck_assert_int_eq(info->nchunks, 3);
}

/* The pixel at (x, y) of an 8-bit greyscale image. */
static uint8_t
png_pixel(const struct png_info *info, uint32_t x, uint32_t y)
{
	ck_assert_uint_lt(x, info->width);
	ck_assert_uint_lt(y, info->height);
	return info->pixels[(size_t)y * (info->width + 1) + 1 + x];
}

/* libqrencode's own matrix for text, to compare the images against. */
static QRcode *
reference(const char *text)
{
	QRcode *qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);

	ck_assert_ptr_nonnull(qr);
	return qr;
}

static struct buf *
png_ok(const char *text, unsigned scale)
{
	struct cs_err err = {0};
	struct buf *png = NULL;

	ck_assert_msg(qr_png(text, scale, &png, &err) == CS_OK, "%s", err.msg);
	ck_assert_ptr_nonnull(png);
	return png;
}

/* Every pixel of png equals the module of qr it lies in (or quiet zone). */
static void
png_matches(const struct png_info *info, const QRcode *qr, unsigned scale)
{
	uint32_t x, y;

	for (y = 0; y < info->height; y++) {
		ck_assert_uint_eq(info->pixels[(size_t)y * (info->width + 1)],
		    0); /* filter type None */
		for (x = 0; x < info->width; x++) {
			int mx = (int)(x / scale) - 4,
			    my = (int)(y / scale) - 4;
			int dark = mx >= 0 && my >= 0 && mx < qr->width &&
			    my < qr->width &&
			    (qr->data[my * qr->width + mx] & 1);

			ck_assert_uint_eq(
			    png_pixel(info, x, y), dark ? 0 : 255);
		}
	}
}

/* --- PNG -------------------------------------------------------------------*/

START_TEST(png_structure)
{
	static const unsigned scales[] = {1, 3, 8};
	unsigned scale = scales[_i];
	QRcode *qr = reference(long_code);
	struct buf *png = png_ok(long_code, scale);
	struct png_info info;
	uint32_t side;

	png_parse(png, &info);
	side = ((uint32_t)qr->width + 8) * scale;
	ck_assert_uint_eq(info.width, side);
	ck_assert_uint_eq(info.height, side);
	ck_assert_uint_eq(info.depth, 8);
	ck_assert_uint_eq(info.colour, 0);
	ck_assert_uint_eq(info.compression, 0);
	ck_assert_uint_eq(info.filter, 0);
	ck_assert_uint_eq(info.interlace, 0);
	ck_assert_uint_eq(info.npixels, (size_t)side * (side + 1));
	/* Quiet zone light, top-left finder's corner module dark. */
	ck_assert_uint_eq(png_pixel(&info, 0, 0), 255);
	ck_assert_uint_eq(png_pixel(&info, 4 * scale - 1, 4 * scale - 1), 255);
	ck_assert_uint_eq(png_pixel(&info, 4 * scale, 4 * scale), 0);
	ck_assert_uint_eq(
	    png_pixel(&info, 4 * scale + scale - 1, 4 * scale + scale - 1), 0);
	/* The finder's light ring: module (1, 1). */
	ck_assert_uint_eq(png_pixel(&info, 5 * scale, 5 * scale), 255);
	png_matches(&info, qr, scale);
	free(info.pixels);
	buf_free(png);
	QRcode_free(qr);
}
END_TEST

START_TEST(png_short_text_is_version_1)
{
	struct buf *png = png_ok("ABC", 2);
	struct png_info info;

	png_parse(png, &info);
	ck_assert_uint_eq(info.width, (21 + 8) * 2);
	free(info.pixels);
	buf_free(png);
}
END_TEST

START_TEST(png_largest_version)
{
	/* 2331 bytes is the 8-bit capacity of version 40 at level M. */
	char text[2332];
	struct buf *png;
	struct png_info info;

	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	png = png_ok(text, 1);
	png_parse(png, &info);
	ck_assert_uint_eq(info.width, 177 + 8);
	ck_assert_uint_eq(info.npixels, (size_t)185 * 186);
	free(info.pixels);
	buf_free(png);
}
END_TEST

/* --- invalid input ---------------------------------------------------------*/

static void
png_fails(const char *text, unsigned scale, enum cs_rc want)
{
	struct cs_err err = {0};
	struct buf *png = (struct buf *)1;

	ck_assert_int_eq(qr_png(text, scale, &png, &err), want);
	ck_assert_ptr_null(png);
	ck_assert_int_eq(err.rc, want);
	ck_assert_str_ne(err.msg, "");
}

START_TEST(png_rejects_bad_input)
{
	char text[2333];

	png_fails("", 4, CS_ERR_INVALID);
	png_fails(NULL, 4, CS_ERR_INVALID);
	png_fails("x", 0, CS_ERR_INVALID);
	png_fails("x", 33, CS_ERR_INVALID);
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	png_fails(text, 1, CS_ERR_INVALID); /* one byte over capacity */
	/* err may be NULL */
	{
		struct buf *png = (struct buf *)1;

		ck_assert_int_eq(qr_png("", 4, &png, NULL), CS_ERR_INVALID);
		ck_assert_ptr_null(png);
	}
}
END_TEST

START_TEST(svg_rejects_bad_input)
{
	struct cs_err err = {0};
	struct buf *svg = (struct buf *)1;
	char text[2333];

	ck_assert_int_eq(qr_svg("", &svg, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(svg);
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	svg = (struct buf *)1;
	ck_assert_int_eq(qr_svg(text, &svg, &err), CS_ERR_INVALID);
	ck_assert_ptr_null(svg);
	ck_assert_ptr_nonnull(strstr(err.msg, "does not fit"));
}
END_TEST

/* --- SVG -------------------------------------------------------------------*/

START_TEST(svg_draws_the_matrix)
{
	struct cs_err err = {0};
	struct buf *svg = NULL;
	QRcode *qr = reference(long_code);
	int n = qr->width + 8, x, y, w, len;
	char want[128], *p, *end, *drawn;

	ck_assert_int_eq(qr_svg(long_code, &svg, &err), CS_OK);
	p = (char *)svg->data;
	ck_assert_uint_eq(strlen(p), svg->len);
	ck_assert_ptr_nonnull(
	    strstr(p, "xmlns=\"http://www.w3.org/2000/svg\""));
	ck_assert_ptr_nonnull(strstr(p, "shape-rendering=\"crispEdges\""));
	snprintf(want, sizeof(want), "viewBox=\"0 0 %d %d\"", n, n);
	ck_assert_ptr_nonnull(strstr(p, want));
	ck_assert_ptr_nonnull(strstr(p, "</svg>"));
	/* Exactly one path. */
	p = strstr(p, "<path");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_null(strstr(p + 1, "<path"));
	p = strstr(p, " d=\"");
	ck_assert_ptr_nonnull(p);
	p += 4;
	end = strchr(p, '"');
	ck_assert_ptr_nonnull(end);
	/* Redraw "Mx yhWv1h-Wz" runs and compare with the matrix. */
	drawn = calloc((size_t)n * n, 1);
	ck_assert_ptr_nonnull(drawn);
	while (p < end) {
		int i, w2;

		ck_assert_int_eq(
		    sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &len), 4);
		ck_assert_int_eq(w, w2);
		ck_assert(
		    x >= 4 && y >= 4 && w >= 1 && x + w <= n - 4 && y < n - 4);
		for (i = 0; i < w; i++) {
			ck_assert_int_eq(drawn[y * n + x + i], 0);
			drawn[y * n + x + i] = 1;
		}
		p += len;
	}
	ck_assert_ptr_eq(p, end);
	for (y = 0; y < n; y++)
		for (x = 0; x < n; x++) {
			int mx = x - 4, my = y - 4;
			int dark = mx >= 0 && my >= 0 && mx < qr->width &&
			    my < qr->width &&
			    (qr->data[my * qr->width + mx] & 1);

			ck_assert_int_eq(drawn[y * n + x], dark);
		}
	free(drawn);
	buf_free(svg);
	QRcode_free(qr);
}
END_TEST

/* --- interop: zbarimg reads it back ----------------------------------------*/

/* Run zbarimg --raw -q on path; its stdout into *out (given). */
static int
zbarimg(const char *path, const char *outpath, struct buf **out)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {"zbarimg", "--raw", "-q", (char *)path, NULL};
	pid_t pid;
	int status, rc;

	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
	                     outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_msg(rc == 0,
	    "zbarimg not found: install zbar-tools "
	    "(scripts/deps.sh)");
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(cs_file_read(outpath, 1 << 20, out, NULL), CS_OK);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write png to a temp file and let zbarimg read it: its exit status. */
static int
zbar_decode(const struct buf *png, struct buf **decoded)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], outpath[PATH_MAX + 16];
	int rc;

	testutil_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/qr.png", dir);
	snprintf(outpath, sizeof(outpath), "%s/out.txt", dir);
	ck_assert_int_eq(
	    cs_file_write(path, png->data, png->len, 0600, false, NULL), CS_OK);
	rc = zbarimg(path, outpath, decoded);
	{
		char *rm[] = {"rm", "-rf", dir, NULL};

		testutil_run(rm);
	}
	return rc;
}

static void
zbar_reads(const char *text, unsigned scale)
{
	struct buf *png = png_ok(text, scale), *decoded = NULL;

	ck_assert_int_eq(zbar_decode(png, &decoded), 0);
	/* --raw prints the data and a newline. */
	ck_assert_uint_eq(decoded->len, strlen(text) + 1);
	ck_assert_mem_eq(decoded->data, text, strlen(text));
	ck_assert_uint_eq(decoded->data[decoded->len - 1], '\n');
	buf_free(decoded);
	buf_free(png);
}

START_TEST(zbarimg_decodes_long_code)
{
	zbar_reads(long_code, 4);
}
END_TEST

START_TEST(zbarimg_decodes_url_at_scale_2)
{
	zbar_reads(
	    "https://certsvc.example.gov.cn/verify?code=ABCD-EFGH-JKLM", 2);
}
END_TEST

static void
append_be32(struct buf *b, uint32_t v)
{
	uint8_t w[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v};

	ck_assert_int_eq(buf_append(b, w, 4), CS_OK);
}

/*
 * The negative control: the same PNG with its IDAT replaced by a white
 * image of the same size is still well-formed and reads as no code
 * (zbarimg's exit 4), so the tests above cannot pass by accident.
 */
START_TEST(zbarimg_finds_nothing_in_a_blank_image)
{
	struct buf *png = png_ok(long_code, 4), *blank = buf_new(64);
	struct buf *decoded = NULL;
	struct png_info info;
	size_t side, rawlen, y;
	uint8_t *raw, *z;
	uLongf zlen;

	png_parse(png, &info);
	free(info.pixels);
	side = info.width;
	rawlen = side * (side + 1);
	raw = malloc(rawlen);
	ck_assert_ptr_nonnull(raw);
	memset(raw, 255, rawlen);
	for (y = 0; y < side; y++)
		raw[y * (side + 1)] = 0; /* filter type None */
	zlen = compressBound(rawlen);
	z = malloc(zlen);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(compress2(z, &zlen, raw, rawlen, 9), Z_OK);
	/* Signature and IHDR as they are, a new IDAT, IEND. */
	ck_assert_int_eq(buf_append(blank, png->data, 8 + 12 + 13), CS_OK);
	append_be32(blank, (uint32_t)zlen);
	ck_assert_int_eq(buf_append(blank, "IDAT", 4), CS_OK);
	ck_assert_int_eq(buf_append(blank, z, zlen), CS_OK);
	append_be32(blank,
	    (uint32_t)crc32(crc32(0L, (const Bytef *)"IDAT", 4), z, zlen));
	ck_assert_int_eq(
	    buf_append(blank, png->data + png->len - 12, 12), CS_OK);
	png_parse(blank, &info);
	ck_assert_uint_eq(info.width, side);
	free(info.pixels);

	ck_assert_int_eq(zbar_decode(blank, &decoded), 4);
	ck_assert_uint_eq(decoded->len, 0);
	buf_free(decoded);
	buf_free(blank);
	buf_free(png);
	free(z);
	free(raw);
}
END_TEST

static Suite *
qr_suite(void)
{
	Suite *s = suite_create("qr");
	TCase *tc;

	tc = tcase_create("png");
	tcase_add_loop_test(tc, png_structure, 0, 3);
	tcase_add_test(tc, png_short_text_is_version_1);
	tcase_add_test(tc, png_largest_version);
	tcase_add_test(tc, png_rejects_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("svg");
	tcase_add_test(tc, svg_draws_the_matrix);
	tcase_add_test(tc, svg_rejects_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("zbarimg");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, zbarimg_decodes_long_code);
	tcase_add_test(tc, zbarimg_decodes_url_at_scale_2);
	tcase_add_test(tc, zbarimg_finds_nothing_in_a_blank_image);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(qr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
