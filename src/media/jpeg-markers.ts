/**
 * A structural check of JPEG data by walking its marker segments (no pixel decoding): SOI, a
 * quantisation table, a frame header (SOFn) with non-zero dimensions, and a scan (SOS). Pure and
 * cheap (headers only), so it can vet untrusted JPEGs before anything decodes or forwards them.
 */

export interface JpegHeader {
  width: number;
  height: number;
  progressive: boolean;
}

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const DQT = 0xdb;

/** SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Reads the header segments up to the first scan; throws an Error saying what is wrong. */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  if (bytes.byteLength < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) throw new Error("not a JPEG: no SOI marker");
  let header: JpegHeader | null = null;
  let quantTables = false;
  let i = 2;
  for (;;) {
    if (i + 1 >= bytes.byteLength) throw new Error("truncated JPEG: no scan (SOS) segment");
    if (bytes[i] !== 0xff) throw new Error(`corrupt JPEG: expected a marker at byte ${i}`);
    const marker = bytes[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === EOI) throw new Error("JPEG ends before its scan (EOI before SOS)");
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    if (i + 3 >= bytes.byteLength) throw new Error("truncated JPEG segment");
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (length < 2 || i + 2 + length > bytes.byteLength)
      throw new Error(`truncated JPEG segment 0xFF${marker.toString(16).toUpperCase()}`);
    if (isStartOfFrame(marker)) {
      if (length < 8) throw new Error("corrupt JPEG frame header");
      const height = (bytes[i + 5]! << 8) | bytes[i + 6]!;
      const width = (bytes[i + 7]! << 8) | bytes[i + 8]!;
      if (width === 0 || height === 0) throw new Error(`JPEG frame header has zero size ${width}x${height}`);
      header = { width, height, progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce };
    } else if (marker === DQT) {
      quantTables = true;
    } else if (marker === SOS) {
      if (!header) throw new Error("JPEG scan before its frame header (no SOFn)");
      if (!quantTables) throw new Error("JPEG has no quantisation table (DQT)");
      if (i + 2 + length >= bytes.byteLength) throw new Error("truncated JPEG: no entropy-coded data after SOS");
      return header;
    }
    i += 2 + length;
  }
}
