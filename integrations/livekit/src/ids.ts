/**
 * LiveKit names to this service's ids (docs/DESIGN.md §14): LiveKit participant `alice` in LiveKit room `R`
 * becomes participant `R:alice` in room `R`. Both ids use the service's alphabet (1-128 characters
 * of [A-Za-z0-9._:-]); a name outside it is cleaned and given a short hash of the original, so the
 * id stays the same across restarts of the bridge and two names never share one id. The bridge keeps
 * the reverse mapping (id -> LiveKit identity) itself, in memory.
 */

/** The service's participant-id (and room-id) alphabet and length. */
export const SERVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
export const MAX_SERVICE_ID_CHARS = 128;
/** A room id leaves room for the identity in `<room>:<identity>`. */
export const MAX_ROOM_ID_CHARS = 64;

const ALLOWED_RUNS = /[^A-Za-z0-9._:-]+/g;

/** FNV-1a (32 bits) of the UTF-8 bytes, as 8 hex digits: a stable tag for a cleaned name. */
export function nameHash(name: string): string {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** `name` itself when it fits the alphabet and `maxChars`, else a cleaned prefix + "." + its hash. */
function fit(name: string, maxChars: number): string {
  if (name.length > 0 && name.length <= maxChars && !/[^A-Za-z0-9._:-]/.test(name)) return name;
  const tag = nameHash(name);
  const cleaned = name.replace(ALLOWED_RUNS, "_").slice(0, Math.max(0, maxChars - tag.length - 1));
  return `${cleaned}.${tag}`;
}

/** The service room id for a LiveKit room name. */
export function roomIdFor(roomName: string): string {
  return fit(roomName, MAX_ROOM_ID_CHARS);
}

/** The service participant id for a LiveKit identity in a room (`roomId` from roomIdFor). */
export function participantIdFor(roomId: string, identity: string): string {
  return `${roomId}:${fit(identity, MAX_SERVICE_ID_CHARS - roomId.length - 1)}`;
}
