/*
 * libjpeg-turbo's SIMD entry points for WebAssembly SIMD128, linked in place of jsimd_none.c by
 * build.sh. Not part of libjpeg-turbo: written for this project against its jsimd.h interface.
 *
 * What is vectorised: the compressor's per-block work, which is most of the encode time in the
 * portable C build (callgrind, 640x480 q75: forward DCT 29 %, quantisation 22 %):
 *   - jsimd_convsamp: samples to centred 16-bit DCT input
 *   - jsimd_fdct_islow: the accurate integer forward DCT, the same arithmetic as jfdctint.c
 *     (LL&M, CONST_BITS 13, PASS1_BITS 2) on 4 x 32-bit lanes, so its output is bit-identical
 *   - jsimd_quantize: reciprocal multiplication with the divisor tables that jcdctmgr.c builds
 *     under WITH_SIMD (reciprocal, correction, scale), as the SSE2 and Neon versions do
 * Everything else answers "no SIMD" through jsimd_none.c's stubs (renamed below), so the C code
 * runs. The library is compiled with WITH_SIMD defined (16-bit DCTELEM, the SIMD divisor layout).
 *
 * (Translating libjpeg-turbo's Neon intrinsics through SIMDe was tried and measured 3-5x slower
 * than the plain C build: most of those Neon operations have no direct SIMD128 form.)
 *
 * WASM has no run-time CPU detection to do: a module built with -msimd128 only instantiates on a
 * runtime with SIMD128, as V8 in Node and workerd has.
 */

#define jsimd_can_convsamp jsimd_none_can_convsamp
#define jsimd_convsamp jsimd_none_convsamp
#define jsimd_can_fdct_islow jsimd_none_can_fdct_islow
#define jsimd_fdct_islow jsimd_none_fdct_islow
#define jsimd_can_quantize jsimd_none_can_quantize
#define jsimd_quantize jsimd_none_quantize
#include "jsimd_none.c"
#undef jsimd_can_convsamp
#undef jsimd_convsamp
#undef jsimd_can_fdct_islow
#undef jsimd_fdct_islow
#undef jsimd_can_quantize
#undef jsimd_quantize

#include <wasm_simd128.h>

#if !defined(WITH_SIMD) || BITS_IN_JSAMPLE != 8 || DCTSIZE != 8
#error "jsimd-wasm.c needs WITH_SIMD, 8-bit samples and DCTSIZE 8 (DCTELEM is then 16 bits)"
#endif

EXTERN(int) jsimd_can_convsamp(void);
EXTERN(void) jsimd_convsamp(JSAMPARRAY, JDIMENSION, DCTELEM *);
EXTERN(int) jsimd_can_fdct_islow(void);
EXTERN(void) jsimd_fdct_islow(DCTELEM *);
EXTERN(int) jsimd_can_quantize(void);
EXTERN(void) jsimd_quantize(JCOEFPTR, DCTELEM *, DCTELEM *);

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

#define MUL(v, c)  wasm_i32x4_mul((v), wasm_i32x4_splat(c))
/* DESCALE(x, n) = (x + 2^(n-1)) >> n, arithmetic. */
#define DESCALE(v, n)  wasm_i32x4_shr(wasm_i32x4_add((v), wasm_i32x4_splat(1 << ((n) - 1))), (n))

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
    out[2] = DESCALE(e2, CONST_BITS - PASS1_BITS);
    out[6] = DESCALE(e6, CONST_BITS - PASS1_BITS);
    out[7] = DESCALE(o7, CONST_BITS - PASS1_BITS);
    out[5] = DESCALE(o5, CONST_BITS - PASS1_BITS);
    out[3] = DESCALE(o3, CONST_BITS - PASS1_BITS);
    out[1] = DESCALE(o1, CONST_BITS - PASS1_BITS);
  } else {
    out[0] = DESCALE(wasm_i32x4_add(tmp10, tmp11), PASS1_BITS);
    out[4] = DESCALE(wasm_i32x4_sub(tmp10, tmp11), PASS1_BITS);
    out[2] = DESCALE(e2, CONST_BITS + PASS1_BITS);
    out[6] = DESCALE(e6, CONST_BITS + PASS1_BITS);
    out[7] = DESCALE(o7, CONST_BITS + PASS1_BITS);
    out[5] = DESCALE(o5, CONST_BITS + PASS1_BITS);
    out[3] = DESCALE(o3, CONST_BITS + PASS1_BITS);
    out[1] = DESCALE(o1, CONST_BITS + PASS1_BITS);
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
