/*
 * libjpeg-turbo's SIMD entry points for WebAssembly SIMD128, linked in place of jsimd_none.c by
 * build.sh. Not part of libjpeg-turbo: written for this project against its jsimd.h interface.
 *
 * What is vectorised: most of the encode time in the portable C build (callgrind, 640x480 q75 RGBA:
 * forward DCT 29 %, RGB to YCbCr 22 %, quantisation 22 %, 2x2 downsampling 7 %):
 *   - jsimd_rgb_ycc_convert: RGB and RGBX/RGBA to YCbCr with jccolor.c's 16-bit fixed-point
 *     coefficients and rounding (its tables are these products), 16 pixels at a time
 *   - jsimd_h2v2_downsample: 2x2 box averages with jcsample.c's alternating 1,2 bias
 *   - jsimd_convsamp: samples to centred 16-bit DCT input
 *   - jsimd_fdct_islow: the accurate integer forward DCT, the same arithmetic as jfdctint.c
 *     (LL&M, CONST_BITS 13, PASS1_BITS 2) on 4 x 32-bit lanes, so its output is bit-identical
 *   - jsimd_quantize: reciprocal multiplication with the divisor tables that jcdctmgr.c builds
 *     under WITH_SIMD (reciprocal, correction, scale), as the SSE2 and Neon versions do
 *   - jsimd_huff_encode_one_block: baseline Huffman coding of one block (14 %) with a 64-bit bit
 *     buffer (wasm32's size_t limits the C encoder to 32) and a bitmap of the non-zero
 *     coefficients, so that runs of zeros are skipped with ctz instead of tested one by one
 * Everything else answers "no SIMD" through jsimd_none.c's stubs (renamed below), so the C code
 * runs. The library is compiled with WITH_SIMD defined (16-bit DCTELEM, the SIMD divisor layout).
 *
 * (Translating libjpeg-turbo's Neon intrinsics through SIMDe was tried and measured 3-5x slower
 * than the plain C build: most of those Neon operations have no direct SIMD128 form.)
 *
 * WASM has no run-time CPU detection to do: a module built with -msimd128 only instantiates on a
 * runtime with SIMD128, as V8 in Node and workerd has.
 */

#define jsimd_can_rgb_ycc jsimd_none_can_rgb_ycc
#define jsimd_rgb_ycc_convert jsimd_none_rgb_ycc_convert
#define jsimd_can_h2v2_downsample jsimd_none_can_h2v2_downsample
#define jsimd_h2v2_downsample jsimd_none_h2v2_downsample
#define jsimd_can_huff_encode_one_block jsimd_none_can_huff_encode_one_block
#define jsimd_huff_encode_one_block jsimd_none_huff_encode_one_block
#define jsimd_can_convsamp jsimd_none_can_convsamp
#define jsimd_convsamp jsimd_none_convsamp
#define jsimd_can_fdct_islow jsimd_none_can_fdct_islow
#define jsimd_fdct_islow jsimd_none_fdct_islow
#define jsimd_can_quantize jsimd_none_can_quantize
#define jsimd_quantize jsimd_none_quantize
#include "jsimd_none.c"
#undef jsimd_can_rgb_ycc
#undef jsimd_rgb_ycc_convert
#undef jsimd_can_h2v2_downsample
#undef jsimd_h2v2_downsample
#undef jsimd_can_huff_encode_one_block
#undef jsimd_huff_encode_one_block
#undef jsimd_can_convsamp
#undef jsimd_convsamp
#undef jsimd_can_fdct_islow
#undef jsimd_fdct_islow
#undef jsimd_can_quantize
#undef jsimd_quantize

#include <limits.h>
#include <string.h>
#include <wasm_simd128.h>

#if !defined(WITH_SIMD) || BITS_IN_JSAMPLE != 8 || DCTSIZE != 8
#error "jsimd-wasm.c needs WITH_SIMD, 8-bit samples and DCTSIZE 8 (DCTELEM is then 16 bits)"
#endif

/* Multiplies 32-bit lanes by a constant. */
#define MUL(v, c)  wasm_i32x4_mul((v), wasm_i32x4_splat(c))

EXTERN(int) jsimd_can_rgb_ycc(void);
EXTERN(void) jsimd_rgb_ycc_convert(j_compress_ptr, JSAMPARRAY, JSAMPIMAGE, JDIMENSION, int);
EXTERN(int) jsimd_can_h2v2_downsample(void);
EXTERN(void) jsimd_h2v2_downsample(j_compress_ptr, jpeg_component_info *, JSAMPARRAY, JSAMPARRAY);
EXTERN(int) jsimd_can_huff_encode_one_block(void);
EXTERN(JOCTET *) jsimd_huff_encode_one_block(void *, JOCTET *, JCOEFPTR, int, c_derived_tbl *, c_derived_tbl *);
EXTERN(int) jsimd_can_convsamp(void);
EXTERN(void) jsimd_convsamp(JSAMPARRAY, JDIMENSION, DCTELEM *);
EXTERN(int) jsimd_can_fdct_islow(void);
EXTERN(void) jsimd_fdct_islow(DCTELEM *);
EXTERN(int) jsimd_can_quantize(void);
EXTERN(void) jsimd_quantize(JCOEFPTR, DCTELEM *, DCTELEM *);

/* --- colour conversion -------------------------------------------------------------------- */

#define SCALEBITS    16
#define CBCR_OFFSET  ((JLONG)CENTERJSAMPLE << SCALEBITS)
#define ONE_HALF     ((JLONG)1 << (SCALEBITS - 1))
#define YCC_FIX(x)       ((JLONG)((x) * (1L << SCALEBITS) + 0.5))

/* jccolor.c's rgb_ycc_tab entries, as products: Y, Cb, Cr of one pixel (exactly the tables' sums). */
static inline void ycc_scalar(int r, int g, int b, JSAMPLE *y, JSAMPLE *cb, JSAMPLE *cr)
{
  *y = (JSAMPLE)((YCC_FIX(0.29900) * r + YCC_FIX(0.58700) * g + YCC_FIX(0.11400) * b + ONE_HALF) >> SCALEBITS);
  *cb = (JSAMPLE)((-YCC_FIX(0.16874) * r - YCC_FIX(0.33126) * g + YCC_FIX(0.50000) * b + CBCR_OFFSET + ONE_HALF - 1) >> SCALEBITS);
  *cr = (JSAMPLE)((YCC_FIX(0.50000) * r - YCC_FIX(0.41869) * g - YCC_FIX(0.08131) * b + CBCR_OFFSET + ONE_HALF - 1) >> SCALEBITS);
}

/* Four pixels, one per 32-bit lane as bytes R, G, B, (ignored): Y, Cb, Cr in 32-bit lanes. */
static inline void ycc4(v128_t px, v128_t *y, v128_t *cb, v128_t *cr)
{
  const v128_t mask = wasm_i32x4_splat(0xff);
  v128_t r = wasm_v128_and(px, mask);
  v128_t g = wasm_v128_and(wasm_u32x4_shr(px, 8), mask);
  v128_t b = wasm_v128_and(wasm_u32x4_shr(px, 16), mask);
  *y = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(MUL(r, YCC_FIX(0.29900)), MUL(g, YCC_FIX(0.58700))),
                                     wasm_i32x4_add(MUL(b, YCC_FIX(0.11400)), wasm_i32x4_splat(ONE_HALF))), SCALEBITS);
  const v128_t offset = wasm_i32x4_splat(CBCR_OFFSET + ONE_HALF - 1);
  *cb = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(MUL(r, -YCC_FIX(0.16874)), MUL(g, -YCC_FIX(0.33126))),
                                      wasm_i32x4_add(MUL(b, YCC_FIX(0.50000)), offset)), SCALEBITS);
  *cr = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(MUL(r, YCC_FIX(0.50000)), MUL(g, -YCC_FIX(0.41869))),
                                      wasm_i32x4_add(MUL(b, -YCC_FIX(0.08131)), offset)), SCALEBITS);
}

/* 16 pixels given as four vectors of four: 16 bytes each of Y, Cb, Cr. */
static inline void ycc16_store(const v128_t *px, JSAMPROW y, JSAMPROW cb, JSAMPROW cr)
{
  v128_t ys[4], cbs[4], crs[4];
  for (int k = 0; k < 4; k++) ycc4(px[k], &ys[k], &cbs[k], &crs[k]);
  wasm_v128_store(y, wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(ys[0], ys[1]), wasm_i16x8_narrow_i32x4(ys[2], ys[3])));
  wasm_v128_store(cb, wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(cbs[0], cbs[1]), wasm_i16x8_narrow_i32x4(cbs[2], cbs[3])));
  wasm_v128_store(cr, wasm_u8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(crs[0], crs[1]), wasm_i16x8_narrow_i32x4(crs[2], crs[3])));
}

GLOBAL(int)
jsimd_can_rgb_ycc(void)
{
  return 1;
}

GLOBAL(void)
jsimd_rgb_ycc_convert(j_compress_ptr cinfo, JSAMPARRAY input_buf, JSAMPIMAGE output_buf,
                      JDIMENSION output_row, int num_rows)
{
  const JDIMENSION width = cinfo->image_width;
  int size, r_off, g_off, b_off;
  switch (cinfo->in_color_space) {
  case JCS_EXT_RGBX: case JCS_EXT_RGBA: size = 4; r_off = 0; g_off = 1; b_off = 2; break;
  case JCS_EXT_BGR: size = 3; r_off = 2; g_off = 1; b_off = 0; break;
  case JCS_EXT_BGRX: case JCS_EXT_BGRA: size = 4; r_off = 2; g_off = 1; b_off = 0; break;
  case JCS_EXT_XBGR: case JCS_EXT_ABGR: size = 4; r_off = 3; g_off = 2; b_off = 1; break;
  case JCS_EXT_XRGB: case JCS_EXT_ARGB: size = 4; r_off = 1; g_off = 2; b_off = 3; break;
  default: size = 3; r_off = 0; g_off = 1; b_off = 2; break; /* JCS_RGB, JCS_EXT_RGB */
  }
  /* The vector paths take R, G, B as the first three bytes of each pixel. */
  const int vector = r_off == 0 && g_off == 1 && b_off == 2;

  while (--num_rows >= 0) {
    JSAMPROW in = *input_buf++;
    JSAMPROW y = output_buf[0][output_row], cb = output_buf[1][output_row], cr = output_buf[2][output_row];
    output_row++;
    JDIMENSION col = 0;
    if (vector && size == 4) {
      for (; col + 16 <= width; col += 16) {
        const JSAMPLE *p = in + col * 4;
        v128_t px[4] = { wasm_v128_load(p), wasm_v128_load(p + 16), wasm_v128_load(p + 32), wasm_v128_load(p + 48) };
        ycc16_store(px, y + col, cb + col, cr + col);
      }
    } else if (vector && size == 3) {
      for (; col + 16 <= width; col += 16) {
        const JSAMPLE *p = in + col * 3;
        v128_t v0 = wasm_v128_load(p), v1 = wasm_v128_load(p + 16), v2 = wasm_v128_load(p + 32);
        /* Spread 3-byte pixels to 4-byte lanes (the fourth byte is ignored). */
        v128_t px[4] = {
          wasm_i8x16_shuffle(v0, v0, 0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10, 11, 0),
          wasm_i8x16_shuffle(v0, v1, 12, 13, 14, 0, 15, 16, 17, 0, 18, 19, 20, 0, 21, 22, 23, 0),
          wasm_i8x16_shuffle(v1, v2, 8, 9, 10, 0, 11, 12, 13, 0, 14, 15, 16, 0, 17, 18, 19, 0),
          wasm_i8x16_shuffle(v2, v2, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0, 13, 14, 15, 0),
        };
        ycc16_store(px, y + col, cb + col, cr + col);
      }
    }
    for (; col < width; col++) {
      const JSAMPLE *p = in + col * size;
      ycc_scalar(p[r_off], p[g_off], p[b_off], y + col, cb + col, cr + col);
    }
  }
}

/* --- downsampling (h2v2: 4:2:0) ------------------------------------------------------------- */

GLOBAL(int)
jsimd_can_h2v2_downsample(void)
{
  return 1;
}

GLOBAL(void)
jsimd_h2v2_downsample(j_compress_ptr cinfo, jpeg_component_info *compptr, JSAMPARRAY input_data,
                      JSAMPARRAY output_data)
{
  const JDIMENSION output_cols = compptr->width_in_blocks * DCTSIZE; /* a multiple of 8 */
  /* jcsample.c's expand_right_edge: replicate the last column out to 2 * output_cols. */
  const int pad = (int)(output_cols * 2) - (int)cinfo->image_width;
  if (pad > 0) {
    for (int row = 0; row < cinfo->max_v_samp_factor; row++) {
      JSAMPROW p = input_data[row] + cinfo->image_width;
      memset(p, p[-1], (size_t)pad);
    }
  }
  const v128_t bias = wasm_i16x8_make(1, 2, 1, 2, 1, 2, 1, 2);
  for (int outrow = 0, inrow = 0; outrow < compptr->v_samp_factor; outrow++, inrow += 2) {
    JSAMPROW out = output_data[outrow], in0 = input_data[inrow], in1 = input_data[inrow + 1];
    JDIMENSION col = 0;
    for (; col + 16 <= output_cols; col += 16) {
      v128_t lo = wasm_i16x8_add(wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_load(in0 + col * 2)),
                                 wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_load(in1 + col * 2)));
      v128_t hi = wasm_i16x8_add(wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_load(in0 + col * 2 + 16)),
                                 wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_load(in1 + col * 2 + 16)));
      lo = wasm_u16x8_shr(wasm_i16x8_add(lo, bias), 2);
      hi = wasm_u16x8_shr(wasm_i16x8_add(hi, bias), 2);
      wasm_v128_store(out + col, wasm_u8x16_narrow_i16x8(lo, hi));
    }
    for (; col < output_cols; col += 8) {
      v128_t sum = wasm_i16x8_add(wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_load(in0 + col * 2)),
                                  wasm_u16x8_extadd_pairwise_u8x16(wasm_v128_load(in1 + col * 2)));
      sum = wasm_u16x8_shr(wasm_i16x8_add(sum, bias), 2);
      wasm_v128_store64_lane(out + col, wasm_u8x16_narrow_i16x8(sum, sum), 0);
    }
  }
}

/* --- sample conversion --------------------------------------------------------------------- */

GLOBAL(int)
jsimd_can_convsamp(void)
{
  return sizeof(DCTELEM) == 2;
}

GLOBAL(void)
jsimd_convsamp(JSAMPARRAY sample_data, JDIMENSION start_col, DCTELEM *workspace)
{
  const v128_t center = wasm_i16x8_splat(CENTERJSAMPLE);
  for (int r = 0; r < DCTSIZE; r++) {
    v128_t row = wasm_u16x8_load8x8(sample_data[r] + start_col);
    wasm_v128_store(workspace + r * DCTSIZE, wasm_i16x8_sub(row, center));
  }
}

/* --- forward DCT (islow) ------------------------------------------------------------------- */

#define CONST_BITS  13
#define PASS1_BITS  2

#define FIX_0_298631336  2446
#define FIX_0_390180644  3196
#define FIX_0_541196100  4433
#define FIX_0_765366865  6270
#define FIX_0_899976223  7373
#define FIX_1_175875602  9633
#define FIX_1_501321110  12299
#define FIX_1_847759065  15137
#define FIX_1_961570560  16069
#define FIX_2_053119869  16819
#define FIX_2_562915447  20995
#define FIX_3_072711026  25172

/* V_DESCALE(x, n) = (x + 2^(n-1)) >> n, arithmetic. */
#define V_DESCALE(v, n)  wasm_i32x4_shr(wasm_i32x4_add((v), wasm_i32x4_splat(1 << ((n) - 1))), (n))

/* Transposes an 8x8 block of 16-bit values held as 8 rows. */
static inline void transpose8x8(v128_t *m)
{
  v128_t a0 = wasm_i16x8_shuffle(m[0], m[1], 0, 8, 1, 9, 2, 10, 3, 11);
  v128_t a1 = wasm_i16x8_shuffle(m[0], m[1], 4, 12, 5, 13, 6, 14, 7, 15);
  v128_t a2 = wasm_i16x8_shuffle(m[2], m[3], 0, 8, 1, 9, 2, 10, 3, 11);
  v128_t a3 = wasm_i16x8_shuffle(m[2], m[3], 4, 12, 5, 13, 6, 14, 7, 15);
  v128_t a4 = wasm_i16x8_shuffle(m[4], m[5], 0, 8, 1, 9, 2, 10, 3, 11);
  v128_t a5 = wasm_i16x8_shuffle(m[4], m[5], 4, 12, 5, 13, 6, 14, 7, 15);
  v128_t a6 = wasm_i16x8_shuffle(m[6], m[7], 0, 8, 1, 9, 2, 10, 3, 11);
  v128_t a7 = wasm_i16x8_shuffle(m[6], m[7], 4, 12, 5, 13, 6, 14, 7, 15);

  v128_t b0 = wasm_i32x4_shuffle(a0, a2, 0, 4, 1, 5);
  v128_t b1 = wasm_i32x4_shuffle(a0, a2, 2, 6, 3, 7);
  v128_t b2 = wasm_i32x4_shuffle(a1, a3, 0, 4, 1, 5);
  v128_t b3 = wasm_i32x4_shuffle(a1, a3, 2, 6, 3, 7);
  v128_t b4 = wasm_i32x4_shuffle(a4, a6, 0, 4, 1, 5);
  v128_t b5 = wasm_i32x4_shuffle(a4, a6, 2, 6, 3, 7);
  v128_t b6 = wasm_i32x4_shuffle(a5, a7, 0, 4, 1, 5);
  v128_t b7 = wasm_i32x4_shuffle(a5, a7, 2, 6, 3, 7);

  m[0] = wasm_i64x2_shuffle(b0, b4, 0, 2);
  m[1] = wasm_i64x2_shuffle(b0, b4, 1, 3);
  m[2] = wasm_i64x2_shuffle(b1, b5, 0, 2);
  m[3] = wasm_i64x2_shuffle(b1, b5, 1, 3);
  m[4] = wasm_i64x2_shuffle(b2, b6, 0, 2);
  m[5] = wasm_i64x2_shuffle(b2, b6, 1, 3);
  m[6] = wasm_i64x2_shuffle(b3, b7, 0, 2);
  m[7] = wasm_i64x2_shuffle(b3, b7, 1, 3);
}

/*
 * One 1-D pass of jfdctint.c over four lanes at once: in[k] holds element k of four independent
 * 8-point vectors, out[k] gets coefficient k. pass 1 (rows): DC/4 terms scaled up by PASS1_BITS,
 * the rest descaled by CONST_BITS - PASS1_BITS; pass 2 (columns): DESCALE by PASS1_BITS and
 * CONST_BITS + PASS1_BITS.
 */
static inline void fdct_pass(const v128_t *in, v128_t *out, int pass1)
{
  v128_t tmp0 = wasm_i32x4_add(in[0], in[7]);
  v128_t tmp7 = wasm_i32x4_sub(in[0], in[7]);
  v128_t tmp1 = wasm_i32x4_add(in[1], in[6]);
  v128_t tmp6 = wasm_i32x4_sub(in[1], in[6]);
  v128_t tmp2 = wasm_i32x4_add(in[2], in[5]);
  v128_t tmp5 = wasm_i32x4_sub(in[2], in[5]);
  v128_t tmp3 = wasm_i32x4_add(in[3], in[4]);
  v128_t tmp4 = wasm_i32x4_sub(in[3], in[4]);

  v128_t tmp10 = wasm_i32x4_add(tmp0, tmp3);
  v128_t tmp13 = wasm_i32x4_sub(tmp0, tmp3);
  v128_t tmp11 = wasm_i32x4_add(tmp1, tmp2);
  v128_t tmp12 = wasm_i32x4_sub(tmp1, tmp2);

  v128_t z1 = MUL(wasm_i32x4_add(tmp12, tmp13), FIX_0_541196100);
  v128_t e2 = wasm_i32x4_add(z1, MUL(tmp13, FIX_0_765366865));
  v128_t e6 = wasm_i32x4_add(z1, MUL(tmp12, -FIX_1_847759065));

  z1 = wasm_i32x4_add(tmp4, tmp7);
  v128_t z2 = wasm_i32x4_add(tmp5, tmp6);
  v128_t z3 = wasm_i32x4_add(tmp4, tmp6);
  v128_t z4 = wasm_i32x4_add(tmp5, tmp7);
  v128_t z5 = MUL(wasm_i32x4_add(z3, z4), FIX_1_175875602);

  tmp4 = MUL(tmp4, FIX_0_298631336);
  tmp5 = MUL(tmp5, FIX_2_053119869);
  tmp6 = MUL(tmp6, FIX_3_072711026);
  tmp7 = MUL(tmp7, FIX_1_501321110);
  z1 = MUL(z1, -FIX_0_899976223);
  z2 = MUL(z2, -FIX_2_562915447);
  z3 = wasm_i32x4_add(MUL(z3, -FIX_1_961570560), z5);
  z4 = wasm_i32x4_add(MUL(z4, -FIX_0_390180644), z5);

  v128_t o7 = wasm_i32x4_add(wasm_i32x4_add(tmp4, z1), z3);
  v128_t o5 = wasm_i32x4_add(wasm_i32x4_add(tmp5, z2), z4);
  v128_t o3 = wasm_i32x4_add(wasm_i32x4_add(tmp6, z2), z3);
  v128_t o1 = wasm_i32x4_add(wasm_i32x4_add(tmp7, z1), z4);

  if (pass1) {
    out[0] = wasm_i32x4_shl(wasm_i32x4_add(tmp10, tmp11), PASS1_BITS);
    out[4] = wasm_i32x4_shl(wasm_i32x4_sub(tmp10, tmp11), PASS1_BITS);
    out[2] = V_DESCALE(e2, CONST_BITS - PASS1_BITS);
    out[6] = V_DESCALE(e6, CONST_BITS - PASS1_BITS);
    out[7] = V_DESCALE(o7, CONST_BITS - PASS1_BITS);
    out[5] = V_DESCALE(o5, CONST_BITS - PASS1_BITS);
    out[3] = V_DESCALE(o3, CONST_BITS - PASS1_BITS);
    out[1] = V_DESCALE(o1, CONST_BITS - PASS1_BITS);
  } else {
    out[0] = V_DESCALE(wasm_i32x4_add(tmp10, tmp11), PASS1_BITS);
    out[4] = V_DESCALE(wasm_i32x4_sub(tmp10, tmp11), PASS1_BITS);
    out[2] = V_DESCALE(e2, CONST_BITS + PASS1_BITS);
    out[6] = V_DESCALE(e6, CONST_BITS + PASS1_BITS);
    out[7] = V_DESCALE(o7, CONST_BITS + PASS1_BITS);
    out[5] = V_DESCALE(o5, CONST_BITS + PASS1_BITS);
    out[3] = V_DESCALE(o3, CONST_BITS + PASS1_BITS);
    out[1] = V_DESCALE(o1, CONST_BITS + PASS1_BITS);
  }
}

/* A pass over all 8 lanes of 16-bit vectors: in 32 bits, the results narrowed back to 16 (as the
 * C code stores them in DCTELEM; they fit). */
static inline void fdct_pass16(v128_t *m, int pass1)
{
  v128_t lo[8], hi[8], olo[8], ohi[8];
  for (int k = 0; k < 8; k++) {
    lo[k] = wasm_i32x4_extend_low_i16x8(m[k]);
    hi[k] = wasm_i32x4_extend_high_i16x8(m[k]);
  }
  fdct_pass(lo, olo, pass1);
  fdct_pass(hi, ohi, pass1);
  for (int k = 0; k < 8; k++) m[k] = wasm_i16x8_narrow_i32x4(olo[k], ohi[k]);
}

GLOBAL(int)
jsimd_can_fdct_islow(void)
{
  return sizeof(DCTELEM) == 2;
}

GLOBAL(void)
jsimd_fdct_islow(DCTELEM *data)
{
  v128_t m[8];
  for (int r = 0; r < 8; r++) m[r] = wasm_v128_load(data + r * DCTSIZE);
  /* Pass 1 (rows): transposed, lane j holds row j and vector k its element k. */
  transpose8x8(m);
  fdct_pass16(m, 1);
  /* Back: vector k is row k again, lanes are columns, and pass 2 runs down the columns. */
  transpose8x8(m);
  fdct_pass16(m, 0);
  for (int r = 0; r < 8; r++) wasm_v128_store(data + r * DCTSIZE, m[r]);
}

/* --- quantisation -------------------------------------------------------------------------- */

GLOBAL(int)
jsimd_can_quantize(void)
{
  return sizeof(JCOEF) == 2 && sizeof(DCTELEM) == 2;
}

/*
 * coef = sign(x) * (((|x| + corr) * recip) >> 16) * scale >> 16, which is jcdctmgr.c's
 * ((|x| + corr) * recip) >> r with scale = 2^(32 - r) (compute_reciprocal, WITH_SIMD).
 */
GLOBAL(void)
jsimd_quantize(JCOEFPTR coef_block, DCTELEM *divisors, DCTELEM *workspace)
{
  const DCTELEM *recip = divisors, *corr = divisors + DCTSIZE2, *scale = divisors + DCTSIZE2 * 2;
  for (int i = 0; i < DCTSIZE2; i += 8) {
    v128_t x = wasm_v128_load(workspace + i);
    v128_t sign = wasm_i16x8_shr(x, 15); /* 0 or -1 */
    v128_t a = wasm_i16x8_add(wasm_i16x8_abs(x), wasm_v128_load(corr + i));
    v128_t r = wasm_v128_load(recip + i);
    v128_t s = wasm_v128_load(scale + i);
    v128_t plo = wasm_u32x4_shr(wasm_u32x4_extmul_low_u16x8(a, r), 16);
    v128_t phi = wasm_u32x4_shr(wasm_u32x4_extmul_high_u16x8(a, r), 16);
    plo = wasm_u32x4_shr(wasm_i32x4_mul(plo, wasm_u32x4_extend_low_u16x8(s)), 16);
    phi = wasm_u32x4_shr(wasm_i32x4_mul(phi, wasm_u32x4_extend_high_u16x8(s)), 16);
    v128_t q = wasm_u16x8_narrow_i32x4(plo, phi);
    /* (q ^ sign) - sign negates where x was negative. */
    wasm_v128_store(coef_block + i, wasm_i16x8_sub(wasm_v128_xor(q, sign), sign));
  }
}

/* --- Huffman coding of one block ------------------------------------------------------------ */

/* jchuff.c's working_state and savable_state, which it passes to this hook as void *. Under
 * WITH_SIMD on a non-Arm target its SIMD bit buffer is 64 bits, free_bits counting free bits. */
typedef struct {
  union {
    size_t c;
    unsigned long long simd;
  } put_buffer;
  int free_bits;
  int last_dc_val[MAX_COMPS_IN_SCAN];
} jt_savable_state;

typedef struct {
  JOCTET *next_output_byte;
  size_t free_in_buffer;
  jt_savable_state cur;
  j_compress_ptr cinfo;
  int simd;
} jt_working_state;

#define NBITS(x)  ((x) ? 32 - __builtin_clz((unsigned int)(x)) : 0)

/* jchuff.c's EMIT_BYTE, FLUSH, PUT_BITS and PUT_CODE for BIT_BUF_SIZE 64. */
#define EMIT_BYTE(b) { \
  buffer[0] = (JOCTET)(b); \
  buffer[1] = 0; \
  buffer -= -2 + ((JOCTET)(b) < 0xFF); \
}

#define FLUSH64() { \
  if (put_buffer & 0x8080808080808080ULL & ~(put_buffer + 0x0101010101010101ULL)) { \
    EMIT_BYTE(put_buffer >> 56) EMIT_BYTE(put_buffer >> 48) \
    EMIT_BYTE(put_buffer >> 40) EMIT_BYTE(put_buffer >> 32) \
    EMIT_BYTE(put_buffer >> 24) EMIT_BYTE(put_buffer >> 16) \
    EMIT_BYTE(put_buffer >> 8) EMIT_BYTE(put_buffer) \
  } else { \
    unsigned long long be = __builtin_bswap64(put_buffer); \
    memcpy(buffer, &be, 8); \
    buffer += 8; \
  } \
}

#define PUT_BITS(code, size) { \
  free_bits -= (size); \
  if (free_bits < 0) { \
    put_buffer = (put_buffer << ((size) + free_bits)) | ((code) >> -free_bits); \
    FLUSH64() \
    free_bits += 64; \
    put_buffer = (code); \
  } else { \
    put_buffer = (put_buffer << (size)) | (code); \
  } \
}

#define PUT_CODE(code, size) { \
  temp &= (1 << nbits) - 1; \
  temp |= (int)(code) << nbits; \
  nbits += (size); \
  PUT_BITS(temp, nbits) \
}

GLOBAL(int)
jsimd_can_huff_encode_one_block(void)
{
  return sizeof(JCOEF) == 2;
}

GLOBAL(JOCTET *)
jsimd_huff_encode_one_block(void *state_, JOCTET *buffer, JCOEFPTR block, int last_dc_val,
                            c_derived_tbl *dctbl, c_derived_tbl *actbl)
{
  jt_working_state *state = (jt_working_state *)state_;
  unsigned long long put_buffer = state->cur.put_buffer.simd;
  int free_bits = state->cur.free_bits;
  int temp, nbits;

  /* The coefficients in zigzag order, and a bitmap of the non-zero ones (bit k: zigzag k). */
  JCOEF zz[DCTSIZE2] __attribute__((aligned(16)));
  for (int k = 0; k < DCTSIZE2; k++) zz[k] = block[jpeg_natural_order[k]];
  unsigned long long nonzero = 0;
  const v128_t zero = wasm_i16x8_splat(0);
  for (int i = 0; i < DCTSIZE2 / 8; i++) {
    v128_t v = wasm_v128_load(zz + i * 8);
    nonzero |= (unsigned long long)wasm_i16x8_bitmask(wasm_i16x8_ne(v, zero)) << (i * 8);
  }

  /* DC: the difference, as jchuff.c codes it. */
  temp = block[0] - last_dc_val;
  nbits = temp >> (CHAR_BIT * sizeof(int) - 1);
  temp += nbits;
  nbits ^= temp;
  nbits = NBITS(nbits);
  PUT_CODE(dctbl->ehufco[nbits], dctbl->ehufsi[nbits])

  /* AC: one code per non-zero coefficient, with ZRL (0xF0) for each 16 zeros before it. */
  unsigned long long ac = nonzero & ~1ULL;
  int last = 0;
  while (ac) {
    int k = __builtin_ctzll(ac);
    ac &= ac - 1;
    int run = k - last - 1;
    last = k;
    while (run >= 16) {
      PUT_BITS(actbl->ehufco[0xf0], actbl->ehufsi[0xf0])
      run -= 16;
    }
    temp = zz[k];
    nbits = temp >> (CHAR_BIT * sizeof(int) - 1);
    temp += nbits;
    nbits ^= temp;
    nbits = NBITS(nbits);
    int symbol = (run << 4) + nbits;
    PUT_CODE(actbl->ehufco[symbol], actbl->ehufsi[symbol])
  }
  /* End of block unless the last coefficient was non-zero. */
  if (last != DCTSIZE2 - 1) PUT_BITS(actbl->ehufco[0], actbl->ehufsi[0])

  state->cur.put_buffer.simd = put_buffer;
  state->cur.free_bits = free_bits;
  return buffer;
}
