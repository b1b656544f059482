/** Text helpers. Pure. */

const encoder = new TextEncoder();

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes on a character boundary (never inside a code
 * point), marking a cut with "…" (counted in the bytes).
 */
export function capUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || encoder.encode(text).byteLength <= maxBytes) return text;
  const ellipsisBytes = 3;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = encoder.encode(char).byteLength;
    if (bytes + size > maxBytes - ellipsisBytes) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}…`;
}
