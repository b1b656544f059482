/**
 * The rooms' HTTP surface (docs/DESIGN.md §6, §12), mounted at /v1/rooms: the directory listing, one
 * room's snapshot and event log (admin key), and the moderators' watch socket (admin key or a
 * `watch` token for the room), which is upgraded inside the room object.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { ROOM_ID_PATTERN } from "../config/limits.js";
import type { Env } from "../env.js";
import { offeredProtocols, selectProtocol } from "../protocol/subprotocol.js";
import { authorizeWatch } from "../router/auth.js";
import {
  eventsQuery, replyAuthRefusal, replyError, reply, requireAdmin, requireAllowedOrigin, type AppEnv,
} from "../router/respond.js";
import { DIRECTORY_NAME } from "./directory-object.js";
import { ROOM_ID_MESSAGE } from "./membership.js";

export const roomObject = (env: Env, room: string) => env.ROOMS.get(env.ROOMS.idFromName(room));
const directory = (env: Env) => env.ROOM_DIRECTORY.get(env.ROOM_DIRECTORY.idFromName(DIRECTORY_NAME));

/** The one room-id check, for every route with a `:room`. */
const validRoomId: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!ROOM_ID_PATTERN.test(c.req.param("room") ?? "")) return replyError(c, 400, "bad_room_id", ROOM_ID_MESSAGE);
  await next();
};

export const rooms = new Hono<AppEnv>();

// The watch socket first: it authenticates itself (a watch token opens it, not only the admin key). A page
// of a foreign origin is refused (403) before anything else; servers send no Origin.
rooms.get("/:room/watch", requireAllowedOrigin, validRoomId, async (c) => {
  const room = c.req.param("room");
  const auth = await authorizeWatch(c.var.config, c.req.raw, room);
  if (!auth.ok) return replyAuthRefusal(c, auth);
  const protocol = selectProtocol(offeredProtocols(c.req.header("sec-websocket-protocol")));
  if (!protocol.ok) return replyError(c, 400, "bad_subprotocol", protocol.message);
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    return replyError(c, 426, "upgrade_required", "this endpoint is a WebSocket: send Upgrade: websocket");
  }
  return roomObject(c.env, room).fetch(c.req.raw);
});

const managed = new Hono<AppEnv>();
managed.use("*", requireAdmin);
managed.get("/", async (c) => c.json(await directory(c.env).list()));
managed.get("/:room", validRoomId, async (c) => reply(c, await roomObject(c.env, c.req.param("room")).snapshot()));
managed.get("/:room/events", validRoomId, eventsQuery, async (c) =>
  reply(c, await roomObject(c.env, c.req.param("room")).events(c.req.valid("query"))),
);
rooms.route("/", managed);
