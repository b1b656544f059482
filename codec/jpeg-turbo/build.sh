#!/usr/bin/env bash
# Reproducible build of src/media/codec/jpeg-turbo.wasm: libjpeg-turbo's compressor plus wrapper.c,
# compiled with Debian's emscripten package to a standalone WASM module (no JS glue).
#
# Sources: Debian's libjpeg-turbo source package at the pinned version below, fetched with
# `apt-get source` (needs a deb-src line in the apt sources; the script adds one for Debian
# bookworm when none is present) and checked against the pinned SHA-256 sums.
#
# Needs: Debian bookworm, root or sudo for apt (first run only), `apt-get install emscripten dpkg-dev`
# (done here when emcc is missing). CI does not run this: it checks the committed .wasm against
# src/media/codec/jpeg-turbo.wasm.sha256 (npm run wasm:check).
#
# Usage: codec/jpeg-turbo/build.sh [--check]   (--check: build, compare with the committed .wasm)
# Environment: JT_SIMD=0 builds the portable C variant without jsimd-wasm.c (for comparison);
#              JT_SELFTEST=1 builds the test variant with the jt_selftest_abort hook, written to
#              test/support/jpeg-turbo-selftest.wasm (the unit tests' module; production has no hook);
#              JT_OUT=path writes the module there instead of the committed location.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
JT_SELFTEST="${JT_SELFTEST:-0}"
if [ "$JT_SELFTEST" = 1 ]; then DEFAULT_OUT="$ROOT/test/support/jpeg-turbo-selftest.wasm"; else DEFAULT_OUT="$ROOT/src/media/codec/jpeg-turbo.wasm"; fi
OUT="${JT_OUT:-$DEFAULT_OUT}"
JT_SIMD="${JT_SIMD:-1}"
WORK="$HERE/build"

# --- pins -------------------------------------------------------------------------------------
SRC_PACKAGE=libjpeg-turbo
SRC_VERSION=1:2.1.5-2
ORIG_SHA256=254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c   # libjpeg-turbo_2.1.5.orig.tar.gz
DEBIAN_SHA256=cdb2433c2f7101345c1ffa14efb943787c675b86354691a32490845fe4bc9237 # libjpeg-turbo_2.1.5-2.debian.tar.xz
EMSCRIPTEN_VERSION=3.1.6 # Debian's emscripten 3.1.6~dfsg-5 (bookworm)

# USE_CLZ_INTRINSIC: wasm has i32.clz, so the 64 KB jpeg_nbits_table is not needed.
CFLAGS_COMMON=(-O3 -msimd128 -DNO_GETENV -DNO_PUTENV -DUSE_CLZ_INTRINSIC)
# WITH_SIMD (the preprocessor symbol, not the CMake option): 16-bit DCTELEM and the SIMD divisor
# tables that jsimd-wasm.c's quantiser reads; CMake's WITH_SIMD stays 0 (no NASM/Neon sources).
if [ "$JT_SIMD" = 1 ]; then CFLAGS_COMMON+=(-DWITH_SIMD); fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v emcc >/dev/null || ! command -v dpkg-source >/dev/null; then
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y emscripten dpkg-dev cmake
fi
EMCC_VERSION="$(emcc --version | head -1 | sed -E 's/.* ([0-9]+\.[0-9]+\.[0-9]+) .*/\1/')"
if [ "$EMCC_VERSION" != "$EMSCRIPTEN_VERSION" ]; then
  echo "warning: emcc $EMCC_VERSION, the committed build used $EMSCRIPTEN_VERSION: output may differ" >&2
fi

mkdir -p "$WORK"
cd "$WORK"

# --- sources ----------------------------------------------------------------------------------
if [ ! -f libjpeg-turbo_2.1.5.orig.tar.gz ] || [ ! -f libjpeg-turbo_2.1.5-2.debian.tar.xz ]; then
  if ! apt-cache showsrc "$SRC_PACKAGE" 2>/dev/null | grep -q "^Version: ${SRC_VERSION}\$"; then
    if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      as_root tee /etc/apt/sources.list.d/debian-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
    as_root apt-get update
  fi
  apt-get source --download-only "${SRC_PACKAGE}=${SRC_VERSION}"
fi
echo "$ORIG_SHA256  libjpeg-turbo_2.1.5.orig.tar.gz" | sha256sum -c -
echo "$DEBIAN_SHA256  libjpeg-turbo_2.1.5-2.debian.tar.xz" | sha256sum -c -
rm -rf src
dpkg-source --no-check -x libjpeg-turbo_2.1.5-2.dsc src >/dev/null # applies Debian's patches

# --- libjpeg-turbo (static, compressor side used) --------------------------------------------
# CMake WITH_SIMD=0: the x86 SIMD is NASM and cannot target WASM; the SIMD128 code is
# jsimd-wasm.c, and -msimd128 lets clang vectorise the C elsewhere.
rm -rf lib && mkdir lib && cd lib
emcmake cmake ../src -G "Unix Makefiles" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS_RELEASE="${CFLAGS_COMMON[*]}" \
  -DENABLE_SHARED=0 -DENABLE_STATIC=1 \
  -DWITH_SIMD=0 -DWITH_TURBOJPEG=0 -DWITH_JAVA=0 \
  -DWITH_ARITH_ENC=0 -DWITH_ARITH_DEC=0 -DWITH_12BIT=0 \
  -DCMAKE_SYSTEM_PROCESSOR=wasm32 -DBUILD=debian-2.1.5-2 >/dev/null
# CMake's size_t probe misreads the emscripten target (it reports 9): wasm32's size_t is 4 bytes.
sed -i -E 's/^#define SIZEOF_SIZE_T .*/#define SIZEOF_SIZE_T  4/' jconfigint.h
grep -q '^#define SIZEOF_SIZE_T  4$' jconfigint.h
emmake make -j"$(nproc)" jpeg-static >/dev/null
SIMD_OBJS=()
if [ "$JT_SIMD" = 1 ]; then
  # jsimd-wasm.c replaces jsimd_none.c (it includes it, with the vectorised entry points renamed).
  emar d libjpeg.a jsimd_none.c.o
  emcc "${CFLAGS_COMMON[@]}" -I ../src -I . -c "$HERE/jsimd-wasm.c" -o jsimd-wasm.o
  SIMD_OBJS=(lib/jsimd-wasm.o)
fi
cd ..

# --- the module ---------------------------------------------------------------------------------
EXPORTS=_jt_input,_jt_encode,_jt_output,_jt_output_size,_jt_release,_jt_stack_save,_jt_stack_restore
WRAPPER_FLAGS=()
if [ "$JT_SELFTEST" = 1 ]; then EXPORTS+=,_jt_selftest_abort; WRAPPER_FLAGS=(-DJT_SELFTEST); fi
# Memory: 4 MB to start, at most 64 MB (1920x1080 RGBA needs ~12 MB; a Worker has 128 MB in all).
# STANDALONE_WASM with --no-entry: no JS glue, no main. The only imports are env.jt_abort (throws
# in JS), env.emscripten_notify_memory_growth, and whatever wasi calls the C library keeps
# (stubbed by turbo-encoder.ts).
emcc "${CFLAGS_COMMON[@]}" "${WRAPPER_FLAGS[@]}" -I src -I lib "$HERE/wrapper.c" "${SIMD_OBJS[@]}" lib/libjpeg.a \
  -o jpeg-turbo.wasm \
  --no-entry -sSTANDALONE_WASM=1 -sFILESYSTEM=0 \
  -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=4MB -sMAXIMUM_MEMORY=64MB -sTOTAL_STACK=256KB \
  -sERROR_ON_UNDEFINED_SYMBOLS=0 -Wl,--allow-undefined \
  -sEXPORTED_FUNCTIONS="$EXPORTS"

if [ "${1:-}" = "--check" ]; then
  cmp jpeg-turbo.wasm "$OUT" && echo "build matches $OUT"
else
  mkdir -p "$(dirname "$OUT")"
  cp jpeg-turbo.wasm "$OUT"
  if [ -z "${JT_OUT:-}" ]; then
    (cd "$(dirname "$OUT")" && sha256sum "$(basename "$OUT")" > "$(basename "$OUT").sha256")
  fi
  echo "wrote $OUT ($(wc -c < "$OUT") bytes, sha256 $(sha256sum < "$OUT" | cut -d' ' -f1))"
fi
