/**
 * The participant object hosts capabilities (docs/DESIGN.md §2.3, §16.6). Each part
 * of the object (connections and intake, transitions, upstream, webhooks, track expiry, retention,
 * room reporting, checks) implements this one small interface, and the shell loops over a list of
 * them: for the alarm, when a socket goes, when the session is purged and when the object starts.
 * A new capability is one module added to that list; purge is complete because every part forgets
 * its own state. Pure: no Workers imports, so capabilities test in Node.
 */
import type { DeadlinePart } from "./alarm.js";

/** A socket the object is forgetting (closed, errored, or closed by the object itself). */
export interface DepartedSocket {
  readonly connectionId: string;
  readonly role: string;
  /** Sockets of any role still open after this one. */
  readonly remaining: number;
}

export interface Capability extends DeadlinePart {
  /** The object started with a stored session for `participantId` (after a restart, eviction or hibernation). */
  onStart?(participantId: string, nowMs: number): void;
  /** A socket was accepted for the participant. */
  onSocketJoined?(connectionId: string, role: string, nowMs: number): void;
  /** A socket went away. */
  onSocketGone?(socket: DepartedSocket, nowMs: number): void;
  /** The session is being purged: forget every piece of in-memory state this part holds. */
  onPurge?(reason: string): void | Promise<void>;
}
