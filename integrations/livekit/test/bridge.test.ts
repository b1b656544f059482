/**
 * The bridge's pure parts: LiveKit names to service ids, the data message it publishes, the
 * command line, and which disconnects it rejoins after. (Everything that needs LiveKit runs in
 * room.e2e.test.ts against a real server.)
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DisconnectReason } from "@livekit/rtc-node";
import type { DeepfakeAlert, SocketFactory, WebSocketLike } from "@deepfake-edge/client";
import { liveKitAlert } from "../src/alert-message.js";
import { parseCommand } from "../src/config.js";
import { MAX_ROOM_ID_CHARS, participantIdFor, roomIdFor, SERVICE_ID_PATTERN } from "../src/ids.js";
import { roomSocketFactory } from "../src/edge.js";
import { finalDisconnect } from "../src/disconnects.js";

describe("ids", () => {
  it("keeps names that fit the service's alphabet: R + alice -> R:alice", () => {
    expect(roomIdFor("R")).toBe("R");
    expect(participantIdFor("R", "alice")).toBe("R:alice");
    expect(participantIdFor("call-42", "agent_7.backup")).toBe("call-42:agent_7.backup");
  });

  it("cleans any other name into a valid, stable id that no other name shares", () => {
    expect(participantIdFor("R", "Zoë Smith")).toMatch(/^R:Zo_Smith\.[0-9a-f]{8}$/);
    expect(participantIdFor("R", "Zoë Smith")).toBe(participantIdFor("R", "Zoë Smith"));
    expect(participantIdFor("R", "a b")).not.toBe(participantIdFor("R", "a_b"));
    const name = fc.string({ minLength: 1, maxLength: 300 });
    fc.assert(
      fc.property(name, name, (r, who) => {
        const roomId = roomIdFor(r);
        const id = participantIdFor(roomId, who);
        expect(roomId.length).toBeLessThanOrEqual(MAX_ROOM_ID_CHARS);
        expect(id).toMatch(SERVICE_ID_PATTERN);
        expect(id.startsWith(`${roomId}:`)).toBe(true);
      }),
    );
  });
});

describe("the data message", () => {
  const alert: DeepfakeAlert = {
    type: "deepfake_alert",
    id: "evt_1",
    level: "alert",
    previous_level: "suspicious",
    participant_id: "R:bob",
    track_id: "TR_VCabc",
    message: "face swap",
    timestamp_ms: 1_730_000_000_000,
    reason: "result",
    simulated: false,
    room_id: null,
  };

  it("has the Dataspike plugin's fields (LiveKit identity and track sid), plus reason, simulated and room_id", () => {
    const message = liveKitAlert(alert, { identity: "bob", roomId: "R", trackSid: (id) => id });
    expect(message).toEqual({
      type: "deepfake_alert",
      level: "alert",
      participant_id: "bob",
      track_id: "TR_VCabc",
      message: "face swap",
      timestamp_ms: 1_730_000_000_000,
      reason: "result",
      simulated: false,
      room_id: "R",
    });
  });

  it("takes room_id from the service's event when it carries one", () => {
    const withRoom: DeepfakeAlert = { ...alert, room_id: "R.1a2b3c4d" };
    expect(liveKitAlert(withRoom, { identity: "bob", roomId: "R", trackSid: (id) => id }).room_id).toBe("R.1a2b3c4d");
  });
});

describe("the command line", () => {
  const env = {
    LIVEKIT_URL: "ws://127.0.0.1:7880",
    LIVEKIT_API_KEY: "devkey",
    LIVEKIT_API_SECRET: "secret",
    DEEPFAKE_EDGE_URL: "http://127.0.0.1:8787",
  };

  it("--room with the defaults: on-alert none, the service's voice gate, no admin key", () => {
    expect(parseCommand(["--room", "R"], env)).toEqual({
      ok: true,
      config: {
        rooms: ["R"],
        allRooms: false,
        onAlert: "none",
        speaking: "service",
        livekit: { url: env.LIVEKIT_URL, apiKey: "devkey", apiSecret: "secret" },
        edge: { url: env.DEEPFAKE_EDGE_URL },
      },
    });
  });

  it("--all-rooms, --on-alert, --speaking and the admin key", () => {
    const parsed = parseCommand(["--all-rooms", "--on-alert", "remove", "--speaking", "livekit"], {
      ...env,
      DEEPFAKE_EDGE_ADMIN_KEY: "k",
    });
    const config = { allRooms: true, rooms: [], onAlert: "remove", speaking: "livekit" };
    expect(parsed).toMatchObject({ ok: true, config });
    expect(parsed.ok && parsed.config.edge.adminKey).toBe("k");
  });

  it("refuses what it cannot run, saying why", () => {
    const error = (argv: string[], e: Record<string, string> = env) => {
      const parsed = parseCommand(argv, e);
      return parsed.ok ? null : parsed.error;
    };
    expect(error([])).toBe("give either --room NAME or --all-rooms");
    expect(error(["--room", "R", "--all-rooms"])).toBe("give either --room NAME or --all-rooms");
    expect(error(["--room", "R", "--on-alert", "kick"])).toBe(
      '--on-alert must be one of none, mute, remove, got "kick"',
    );
    expect(error(["--room", "R"], { ...env, LIVEKIT_API_SECRET: "" })).toBe("missing environment: LIVEKIT_API_SECRET");
    expect(error(["--room", "R"], { ...env, DEEPFAKE_EDGE_URL: "ws://x" })).toBe(
      "DEEPFAKE_EDGE_URL must be http:// or https://",
    );
    expect(error(["--rooms", "R"])).toMatch(/--rooms/);
    expect(parseCommand(["--help"], {})).toEqual({ ok: false, help: true });
  });
});

describe("the stream URL", () => {
  it("names the room with ?room= when there is no token (development mode), and not when tokens carry it", () => {
    const opened: Array<[string, string | undefined]> = [];
    const recording: SocketFactory = (url, token) => {
      opened.push([url, token]);
      return {} as WebSocketLike;
    };
    const stream = "ws://127.0.0.1:8787/v1/participants/R%3Aalice/stream";
    roomSocketFactory("R", recording)(stream, undefined);
    roomSocketFactory(null, recording)(stream, "tok");
    expect(opened).toEqual([
      [`${stream}?room=R`, undefined],
      [stream, "tok"],
    ]);
  });
});

describe("after a disconnect", () => {
  it("stays out of a room an operator removed it from, or where another participant took its identity", () => {
    expect(finalDisconnect(DisconnectReason.PARTICIPANT_REMOVED, "R", "deepfake-edge-1")).toBe(
      "an operator removed deepfake-edge-1 from R: not rejoining",
    );
    expect(finalDisconnect(DisconnectReason.DUPLICATE_IDENTITY, "R", "deepfake-edge-1")).toBe(
      "another participant joined R as deepfake-edge-1: not rejoining",
    );
  });

  it("rejoins after any other disconnect: the network, a server shutdown, a deleted or closed room", () => {
    const final = new Set([DisconnectReason.PARTICIPANT_REMOVED, DisconnectReason.DUPLICATE_IDENTITY]);
    const reasons = Object.values(DisconnectReason).filter((r): r is DisconnectReason => typeof r === "number");
    expect(reasons.length).toBeGreaterThan(10);
    for (const reason of reasons.filter((r) => !final.has(r))) {
      expect(finalDisconnect(reason, "R", "deepfake-edge-1"), DisconnectReason[reason]).toBeNull();
    }
  });
});
