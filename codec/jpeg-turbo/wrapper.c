/*
 * A minimal JPEG encoder interface over libjpeg-turbo's compressor, built as a standalone WASM
 * module (no Emscripten JS glue): see build.sh and src/media/codec/turbo-encoder.ts.
 *
 * One encoder per instance, reused across calls:
 *   jt_input(bytes)  -> pointer to an input buffer of at least `bytes` (grown as needed, kept)
 *   jt_encode(w, h, format, quality) -> size of the JPEG (> 0) or a negative JT_ERR_* code
 *   jt_output()      -> pointer to the JPEG bytes of the last successful jt_encode
 *
 * Output: baseline (SOF0) JPEG, JFIF, 4:2:0, standard Huffman tables, islow DCT, the IJG quality
 * scale for the quantisation tables.
 *
 * Every argument is validated here before libjpeg-turbo sees it, so its error handler is reached
 * only when memory runs out. That handler calls the imported env.jt_abort, which throws in JS:
 * the exception unwinds the WASM frames (no setjmp/longjmp is needed) and the next call resets
 * the compressor before using it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "jpeglib.h"
#include "jerror.h"

#define EXPORT(name) __attribute__((export_name(#name)))

enum { JT_RGBA = 0, JT_RGB24 = 1, JT_I420 = 2, JT_I420_FULL = 3 };

enum {
  JT_ERR_DIMENSIONS = -1,
  JT_ERR_FORMAT = -2,
  JT_ERR_QUALITY = -3,
  JT_ERR_INPUT_SIZE = -4,
  JT_ERR_MEMORY = -5,
};

/* JPEG's own limit is 65535; libjpeg refuses more than JPEG_MAX_DIMENSION (65500). */
#define JT_MAX_DIMENSION 16384u

/* Throws in JS (never returns). */
__attribute__((import_module("env"), import_name("jt_abort"), noreturn)) void jt_abort(int code);

/* Emscripten's stack pointer (compiler-rt's stack_ops.S): JS saves it before a call and restores it
 * when jt_abort threw, since the unwound frames did not pop their stack space. */
extern uintptr_t stackSave(void);
extern void stackRestore(uintptr_t sp);
EXPORT(jt_stack_save) uintptr_t jt_stack_save(void) { return stackSave(); }
EXPORT(jt_stack_restore) void jt_stack_restore(uintptr_t sp) { stackRestore(sp); }

/* --- the compressor, created once ------------------------------------------------------------ */

static struct jpeg_compress_struct cinfo;
static struct jpeg_error_mgr jerr;
static int created = 0;
static int busy = 0; /* set while libjpeg-turbo runs: still set on entry means the last call threw */

static void error_exit(j_common_ptr info) {
  busy = 1; /* the next call resets the compressor */
  jt_abort(info->err->msg_code);
}

static void output_message(j_common_ptr info) { (void)info; }

static void emit_message(j_common_ptr info, int level) { (void)info; (void)level; }

/* --- reusable buffers ------------------------------------------------------------------------ */

static uint8_t *in_buf = NULL;
static size_t in_cap = 0;

static uint8_t *out_buf = NULL;
static size_t out_cap = 0;
static size_t out_len = 0;

/* Strips of padded planar rows for raw (I420) input: 16 luma rows, 8 rows per chroma plane. */
static uint8_t *strip = NULL;
static size_t strip_cap = 0;

EXPORT(jt_input) uint8_t *jt_input(uint32_t bytes) {
  if (bytes <= in_cap) return in_buf;
  size_t cap = bytes + (bytes >> 3); /* a little headroom for slightly larger frames */
  uint8_t *grown = (uint8_t *)malloc(cap);
  if (!grown) return NULL;
  free(in_buf);
  in_buf = grown;
  in_cap = cap;
  return in_buf;
}

EXPORT(jt_output) uint8_t *jt_output(void) { return out_buf; }

EXPORT(jt_output_size) uint32_t jt_output_size(void) { return (uint32_t)out_len; }

/* Frees every buffer (the compressor itself stays); the next call allocates again. */
EXPORT(jt_release) void jt_release(void) {
  free(in_buf);
  in_buf = NULL;
  in_cap = 0;
  free(out_buf);
  out_buf = NULL;
  out_cap = 0;
  out_len = 0;
  free(strip);
  strip = NULL;
  strip_cap = 0;
}

/* --- destination manager: the reusable, growable output buffer ------------------------------- */

static struct jpeg_destination_mgr dest;

static void dest_init(j_compress_ptr info) {
  (void)info;
  dest.next_output_byte = out_buf;
  dest.free_in_buffer = out_cap;
}

static boolean dest_empty(j_compress_ptr info) {
  /* Called when the buffer is full: the whole of it holds output. */
  size_t used = out_cap;
  size_t cap = out_cap * 2;
  uint8_t *grown = (uint8_t *)realloc(out_buf, cap);
  if (!grown) ERREXIT1(info, JERR_OUT_OF_MEMORY, 10);
  out_buf = grown;
  out_cap = cap;
  dest.next_output_byte = out_buf + used;
  dest.free_in_buffer = cap - used;
  return TRUE;
}

static void dest_term(j_compress_ptr info) {
  (void)info;
  out_len = out_cap - dest.free_in_buffer;
}

/* --- limited-range (BT.601 video) to full-range (JFIF) YCbCr --------------------------------- */

static uint8_t luma_lut[256];
static uint8_t chroma_lut[256];
static int luts_ready = 0;

static uint8_t clamp_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static void init_luts(void) {
  for (int i = 0; i < 256; i++) {
    /* Y' = (Y - 16) * 255/219, C' = (C - 128) * 255/224 + 128, rounded to nearest. */
    luma_lut[i] = clamp_u8((int)floor((i - 16) * 255.0 / 219.0 + 0.5));
    chroma_lut[i] = clamp_u8((int)floor((i - 128) * 255.0 / 224.0 + 128.5));
  }
  luts_ready = 1;
}

/* Copies `count` samples of one row into `dst`, expanding the range if `lut`, and replicates the
 * last sample up to `padded` samples. */
static void copy_row(uint8_t *dst, const uint8_t *src, uint32_t count, uint32_t padded, const uint8_t *lut) {
  if (lut) {
    for (uint32_t i = 0; i < count; i++) dst[i] = lut[src[i]];
  } else {
    memcpy(dst, src, count);
  }
  if (padded > count) memset(dst + count, dst[count - 1], padded - count);
}

/* Encodes the I420 frame in in_buf with jpeg_write_raw_data: no colour conversion and no
 * downsampling, only a copy (with range expansion for limited-range input) into padded strips. */
static void write_raw(uint32_t width, uint32_t height, int full_range) {
  const uint32_t cw = (width + 1) / 2, ch = (height + 1) / 2;
  /* libjpeg-turbo reads whole 8x8 blocks: rows padded to a multiple of 8 samples per component. */
  const uint32_t ypad = (width + 15) & ~15u, cpad = (cw + 7) & ~7u;
  const uint8_t *yplane = in_buf, *uplane = in_buf + (size_t)width * height, *vplane = uplane + (size_t)cw * ch;
  const uint8_t *ylut = full_range ? NULL : luma_lut, *clut = full_range ? NULL : chroma_lut;

  uint8_t *ystrip = strip, *ustrip = strip + 16 * ypad, *vstrip = ustrip + 8 * cpad;
  JSAMPROW yrows[16], urows[8], vrows[8];
  JSAMPARRAY planes[3] = { yrows, urows, vrows };
  for (int i = 0; i < 16; i++) yrows[i] = ystrip + i * ypad;
  for (int i = 0; i < 8; i++) {
    urows[i] = ustrip + i * cpad;
    vrows[i] = vstrip + i * cpad;
  }

  for (uint32_t y0 = 0; y0 < height; y0 += 16) {
    for (uint32_t i = 0; i < 16; i++) {
      uint32_t row = y0 + i < height ? y0 + i : height - 1; /* replicate the last row */
      copy_row(yrows[i], yplane + (size_t)row * width, width, ypad, ylut);
    }
    for (uint32_t i = 0; i < 8; i++) {
      uint32_t row = y0 / 2 + i < ch ? y0 / 2 + i : ch - 1;
      copy_row(urows[i], uplane + (size_t)row * cw, cw, cpad, clut);
      copy_row(vrows[i], vplane + (size_t)row * cw, cw, cpad, clut);
    }
    jpeg_write_raw_data(&cinfo, planes, 16);
  }
}

static void write_packed(uint32_t width, uint32_t height, uint32_t bytes_per_pixel) {
  JSAMPROW rows[16];
  const size_t stride = (size_t)width * bytes_per_pixel;
  while (cinfo.next_scanline < height) {
    uint32_t n = height - cinfo.next_scanline;
    if (n > 16) n = 16;
    for (uint32_t i = 0; i < n; i++) rows[i] = in_buf + (size_t)(cinfo.next_scanline + i) * stride;
    jpeg_write_scanlines(&cinfo, rows, n);
  }
}

static size_t input_bytes(uint32_t width, uint32_t height, uint32_t format) {
  const size_t pixels = (size_t)width * height;
  switch (format) {
    case JT_RGBA: return pixels * 4;
    case JT_RGB24: return pixels * 3;
    default: return pixels + 2 * (size_t)((width + 1) / 2) * ((height + 1) / 2);
  }
}

EXPORT(jt_encode) int32_t jt_encode(uint32_t width, uint32_t height, uint32_t format, uint32_t quality) {
  if (width == 0 || height == 0 || width > JT_MAX_DIMENSION || height > JT_MAX_DIMENSION) return JT_ERR_DIMENSIONS;
  if (format > JT_I420_FULL) return JT_ERR_FORMAT;
  if (quality < 1 || quality > 100) return JT_ERR_QUALITY;
  if (in_buf == NULL || input_bytes(width, height, format) > in_cap) return JT_ERR_INPUT_SIZE;
  const int raw = format == JT_I420 || format == JT_I420_FULL;

  if (busy && created) {
    /* The last call threw out of libjpeg-turbo: start again from a clean compressor. */
    jpeg_destroy_compress(&cinfo);
    created = 0;
  }
  busy = 1;
  if (!created) {
    cinfo.err = jpeg_std_error(&jerr);
    jerr.error_exit = error_exit;
    jerr.output_message = output_message;
    jerr.emit_message = emit_message;
    jpeg_create_compress(&cinfo);
    dest.init_destination = dest_init;
    dest.empty_output_buffer = dest_empty;
    dest.term_destination = dest_term;
    cinfo.dest = &dest;
    created = 1;
  }
  if (!luts_ready) init_luts();

  if (raw) {
    const uint32_t ypad = (width + 15) & ~15u, cpad = (((width + 1) / 2) + 7) & ~7u;
    const size_t need = 16 * (size_t)ypad + 16 * (size_t)cpad;
    if (need > strip_cap) {
      uint8_t *grown = (uint8_t *)malloc(need);
      if (!grown) { busy = 0; return JT_ERR_MEMORY; }
      free(strip);
      strip = grown;
      strip_cap = need;
    }
  }
  /* A first guess that fits most frames at q75 in one piece; dest_empty grows it. */
  const size_t guess = (size_t)width * height / 2 + 1024;
  if (out_cap < guess) {
    uint8_t *grown = (uint8_t *)realloc(out_buf, guess);
    if (!grown) { busy = 0; return JT_ERR_MEMORY; }
    out_buf = grown;
    out_cap = guess;
  }
  out_len = 0;

  cinfo.image_width = width;
  cinfo.image_height = height;
  if (raw) {
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_YCbCr;
  } else {
    cinfo.input_components = format == JT_RGBA ? 4 : 3;
    cinfo.in_color_space = format == JT_RGBA ? JCS_EXT_RGBA : JCS_RGB;
  }
  jpeg_set_defaults(&cinfo); /* YCbCr, 4:2:0, baseline Huffman, islow DCT */
  jpeg_set_quality(&cinfo, (int)quality, TRUE);
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.optimize_coding = FALSE;
  cinfo.raw_data_in = raw ? TRUE : FALSE;

  jpeg_start_compress(&cinfo, TRUE);
  if (raw) {
    write_raw(width, height, format == JT_I420_FULL);
  } else {
    write_packed(width, height, format == JT_RGBA ? 4 : 3);
  }
  jpeg_finish_compress(&cinfo);
  busy = 0;
  return (int32_t)out_len;
}

#ifdef JT_SELFTEST
/* Test hook, only in the test build (JT_SELFTEST=1 build.sh -> test/support/jpeg-turbo-selftest.wasm):
 * fails inside libjpeg-turbo half-way through a compression, as running out of memory there would,
 * to exercise jt_abort, the stack restore in JS and the reset on the next call. */
EXPORT(jt_selftest_abort) void jt_selftest_abort(void) {
  if (jt_input(64 * 64 * 3) == NULL || jt_encode(64, 64, JT_RGB24, 75) <= 0) return;
  busy = 1;
  cinfo.image_width = 64;
  cinfo.image_height = 64;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  cinfo.raw_data_in = FALSE;
  jpeg_start_compress(&cinfo, TRUE);
  ERREXIT1(&cinfo, JERR_OUT_OF_MEMORY, 99);
}
#endif
