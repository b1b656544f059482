/**
 * Bindings and vars of the Worker, declared once (see wrangler.toml and the README's configuration table).
 * Every var arrives as a string; parseConfig (src/config/config.ts) validates them.
 */
import type { ConfigVars } from "./config/config.js";
import type { RoomDirectory } from "./rooms/directory-object.js";
import type { RoomObject } from "./rooms/room-object.js";
import type { ParticipantSession } from "./session/participant-session.js";
import type { UpstreamSimulator } from "./simulator/upstream-simulator.js";

/** Durable Object bindings plus every var (declared in ConfigVars, parsed by parseConfig). */
export interface Env extends ConfigVars {
  PARTICIPANT_SESSION: DurableObjectNamespace<ParticipantSession>;
  UPSTREAM_SIMULATOR: DurableObjectNamespace<UpstreamSimulator>;
  ROOMS: DurableObjectNamespace<RoomObject>;
  ROOM_DIRECTORY: DurableObjectNamespace<RoomDirectory>;
}

type WorkerEnv = Env;
declare global {
  // Types `env` imported from "cloudflare:workers" (used by the Workers-pool tests).
  namespace Cloudflare {
    interface Env extends WorkerEnv {}
    interface GlobalProps {
      mainModule: typeof import("./index.js");
    }
  }
}
