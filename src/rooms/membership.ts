/**
 * How a participant's room reaches its object (docs/DESIGN.md §12): the router decides the room of a
 * socket upgrade (the connect token's `room` claim; in development mode on loopback without tokens,
 * `?room=` on the stream URL) and forwards it to the participant object in an internal header that
 * only the router sets: a client's own copy of that header is always stripped first. Pure.
 */
import { ROOM_ID_PATTERN } from "../config/limits.js";
import type { RoomReport } from "./room-state.js";

/** The room objects, as a participant object reaches them (structural: the ROOMS binding). */
export interface RoomsNamespace<Id = unknown> {
  idFromName(name: string): Id;
  get(id: Id): { report(batch: RoomReport[]): Promise<unknown> };
}

/** What a participant object needs of the Worker's env for rooms. */
export interface RoomsEnv {
  ROOMS: RoomsNamespace;
}

/** Set by the router on the upgrade request it forwards to the participant object; never trusted from a client. */
export const ROOM_HEADER = "x-deepfake-edge-room";

export const ROOM_ID_MESSAGE = "room must be 1-128 characters of [A-Za-z0-9._:-]";

export type RoomChoice = { ok: true; room: string | null } | { ok: false; message: string };

/**
 * The room of a participant socket: the token's claim, or `?room=` where tokens are not required
 * (development mode on loopback). A `?room=` elsewhere, or one that contradicts the token, is refused.
 */
export function chooseRoom(tokenRoom: string | undefined, queryRoom: string | null, queryAllowed: boolean): RoomChoice {
  if (queryRoom === null || queryRoom === "") return { ok: true, room: tokenRoom ?? null };
  if (!ROOM_ID_PATTERN.test(queryRoom)) return { ok: false, message: ROOM_ID_MESSAGE };
  if (tokenRoom !== undefined) {
    if (tokenRoom === queryRoom) return { ok: true, room: tokenRoom };
    return { ok: false, message: "?room= differs from the connect token's room" };
  }
  if (!queryAllowed) {
    const message =
      '?room= works only in development mode on loopback; name the room in the token (POST /v1/tokens {"room": …})';
    return { ok: false, message };
  }
  return { ok: true, room: queryRoom };
}

/** The upgrade request as the participant object gets it: the router's room header, and no client copy. */
export function withRoomHeader(request: Request, room: string | null): Request {
  const headers = new Headers(request.headers);
  headers.delete(ROOM_HEADER);
  if (room !== null) headers.set(ROOM_HEADER, room);
  return new Request(request, { headers });
}

/** The room the router set on a forwarded upgrade (null: none, or not a valid id). */
export function roomFromHeaders(headers: { get(name: string): string | null }): string | null {
  const room = headers.get(ROOM_HEADER);
  return room !== null && ROOM_ID_PATTERN.test(room) ? room : null;
}

/**
 * The room a participant ends up in when a socket asks for `requested`: a participant with no
 * socket open moves to the requested room (or out of any); one with sockets open keeps its room,
 * and a socket naming another room is refused (a socket naming none joins the participant as it is).
 */
export function admitRoom(current: string | null, requested: string | null, socketsOpen: number): RoomChoice {
  if (socketsOpen === 0) return { ok: true, room: requested };
  if (requested === null || requested === current) return { ok: true, room: current };
  const where = current === null ? "no room" : `room ${current}`;
  return { ok: false, message: `the participant is connected in ${where}; close its sockets before joining another` };
}

/**
 * Puts the participant in the room its new socket asks for (the router's header; see admitRoom),
 * storing a change with `save` before adopting it. Refused: the participant is left as it was.
 */
export function joinRoom(
  live: { roomId: string | null },
  headers: { get(name: string): string | null },
  socketsOpen: number,
  save: (room: string | null) => void,
): RoomChoice {
  const choice = admitRoom(live.roomId, roomFromHeaders(headers), socketsOpen);
  if (choice.ok && choice.room !== live.roomId) {
    save(choice.room);
    live.roomId = choice.room;
  }
  return choice;
}
