/**
 * Who the object is (docs/DESIGN.md §4): one participant for its whole life, whatever woke it. The
 * participant id is stored with the session; the router carries it on every upgrade (in the path)
 * and every RPC (as an argument), and the object checks it against storage. An instance that its
 * alarm started may not know the name it was addressed by (`ctx.id.name` is undefined there), so
 * the name is only ever a cross-check, never the source. Pure.
 */
import { PARTICIPANT_ID_PATTERN } from "../config/limits.js";
import { refuse, type Refusal } from "../shared/http.js";

const UPGRADE_PATH = /^\/v1\/participants\/([^/]+)\/(?:stream|sfu\/video|sfu\/audio)$/;

/** The participant id an upgrade path names (`/v1/participants/:id/stream`, `…/sfu/video`, `…/sfu/audio`). */
export function participantFromPath(pathname: string): string | null {
  const match = UPGRADE_PATH.exec(pathname);
  if (!match) return null;
  let id: string;
  try {
    id = decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
  return PARTICIPANT_ID_PATTERN.test(id) ? id : null;
}

/**
 * Checks a participant id the caller names against what the object knows: the stored session's id
 * and, when the runtime gives it, the name the object was addressed by. Null when it may serve.
 */
export function identityConflict(
  asked: string | undefined,
  known: { stored: string | undefined; addressedAs: string | undefined },
): ({ ok: false } & Refusal) | null {
  if (asked === undefined) return null;
  if (known.addressedAs !== undefined && known.addressedAs !== asked) {
    return refuse(409, "wrong_participant", "this object is addressed by another participant id");
  }
  if (known.stored !== undefined && known.stored !== asked) {
    return refuse(409, "wrong_participant", "this object holds the session of another participant");
  }
  return null;
}
