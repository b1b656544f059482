/**
 * True on little-endian hosts (all that run Workers and browsers today): s16le PCM can be read and
 * written through an Int16Array view there.
 */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
