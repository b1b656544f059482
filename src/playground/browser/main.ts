/**
 * The playground page (GET /): camera and microphone streamed through the client SDK, the live
 * detection level, rate, upstream status, server counters and an event log; in dev mode, simulator
 * controls. Bundled by scripts/build-playground.mjs into src/playground/generated/assets.ts.
 */
import { PARTICIPANT_ID_PATTERN } from "../../config/limits.js";
import { DeepfakeEdgeClient, tokenClaims, type SendResult, type TokenProvider } from "@deepfake-edge/client";
import { fetchHealth, fetchSnapshot, mintToken, steerSimulator, type Health } from "./api.js";
import { openCamera, openMicrophone, type Camera, type Microphone } from "./media.js";
import { $, fps, input, kb, log, plural, setBadge, setText } from "./ui.js";

/** How often the capture loop asks the SDK whether a frame is due (the SDK decides; this is only the granularity). */
const CAPTURE_TICK_MS = 50;
const SNAPSHOT_POLL_MS = 2_000;
const STATS_REFRESH_MS = 500;

let health: Health = { ok: false, devMode: false, simulated: false, problems: [] };
let client: DeepfakeEdgeClient | null = null;
let camera: Camera | null = null;
let microphone: Microphone | null = null;
let timers: number[] = [];

function randomParticipant(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `web-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Reads the page's parameters once: `?participant=`, and a token from the fragment (`#token=`),
 * which browsers never send to a server, so it lands in no request log. A `?token=` still works but
 * was already logged by the request for this page; either way the token is removed from the address
 * bar and history at once. The SDK then carries it as a WebSocket subprotocol, never in a URL.
 */
function readUrlParams(): { token: string | null; participant: string | null; fromQuery: boolean } {
  const url = new URL(location.href);
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
  const queryToken = url.searchParams.get("token");
  const fragmentToken = fragment.get("token");
  const token = fragmentToken ?? queryToken;
  const participant = url.searchParams.get("participant") ?? fragment.get("participant");
  if (token !== null) {
    url.searchParams.delete("token");
    fragment.delete("token");
    const hash = fragment.toString();
    history.replaceState(null, "", url.pathname + url.search + (hash ? `#${hash}` : ""));
  }
  return { token, participant, fromQuery: fragmentToken === null && queryToken !== null };
}

async function init(): Promise<void> {
  const params = readUrlParams();
  const participant = input("participant");
  const tokenInput = input("token");
  const sub = params.token ? tokenClaims(params.token)?.sub : undefined;
  participant.value = params.participant ?? sub ?? randomParticipant();
  if (params.token) {
    tokenInput.value = params.token;
    log("info", "using the connect token from the page address (removed from the address bar)");
    if (params.fromQuery)
      log("error", "a token in ?token= reaches the server's request logs: open the page with #token= instead");
  }
  $("connect-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void start();
  });
  $("disconnect").addEventListener("click", () => void stop("disconnected by you"));
  for (const button of document.querySelectorAll<HTMLButtonElement>("#sim-controls button[data-level]")) {
    button.addEventListener("click", () => void steer(button.dataset.level ?? "clear"));
  }

  try {
    health = await fetchHealth();
  } catch (err) {
    showProblem(`cannot reach the service: ${(err as Error).message}`);
    return;
  }
  const mode = $("mode");
  mode.textContent = health.simulated ? "dev mode · simulator" : health.devMode ? "dev mode · real API" : "production";
  mode.classList.toggle("dev", health.devMode);
  $("sim-banner").hidden = !health.simulated;
  $("sim-controls").hidden = !health.simulated;
  tokenInput.placeholder = health.devMode
    ? "optional in dev mode: one is minted for you"
    : "paste a token from POST /v1/tokens, or open this page with #token=";
  if (!health.ok) showProblem(`service misconfigured: ${health.problems.join("; ") || "see /healthz"}`);
}

function showProblem(text: string): void {
  const banner = $("problem-banner");
  banner.textContent = text;
  banner.hidden = false;
  log("error", text);
}

/** The token for each connection attempt: pasted or from the URL as is; in dev mode, a fresh minted one. */
function tokenProvider(participantId: string): TokenProvider | null {
  const pasted = input("token").value.trim();
  if (pasted) return () => pasted;
  if (!health.devMode) return null;
  return async () => {
    const minted = await mintToken(participantId);
    if (minted.token !== null) return minted.token;
    log("info", `token not minted (${minted.reason}); connecting without one`);
    return undefined;
  };
}

async function start(): Promise<void> {
  const participantId = input("participant").value.trim();
  if (!PARTICIPANT_ID_PATTERN.test(participantId))
    return log("error", "participant id must be 1-128 characters of A-Z a-z 0-9 . _ : -");
  const sub = tokenClaims(input("token").value.trim())?.sub;
  if (sub !== undefined && sub !== participantId)
    return log("error", `this token is for participant ${sub}, not ${participantId}`);
  const token = tokenProvider(participantId);
  if (!token) return log("error", "a connect token is required: paste one, or open the page with #token=");
  setBusy(true);
  await openMedia();

  const sdk = new DeepfakeEdgeClient({
    baseUrl: location.origin,
    participantId,
    token,
    hello: { client: "playground", vad: false },
  });
  client = sdk;
  wire(sdk);
  timers.push(window.setInterval(() => void captureTick(sdk), CAPTURE_TICK_MS));
  timers.push(window.setInterval(() => showStats(sdk), STATS_REFRESH_MS));
  timers.push(window.setInterval(() => void pollSnapshot(participantId), SNAPSHOT_POLL_MS));
  log("info", `connecting as ${participantId} …`);
  sdk.connect().catch((err: Error) => log("error", `${err.name}: ${err.message}`));
}

async function openMedia(): Promise<void> {
  try {
    camera = await openCamera($("preview") as HTMLVideoElement, $("frame") as HTMLCanvasElement);
    setText("preview-note", "camera on");
  } catch (err) {
    log("error", `camera unavailable: ${(err as Error).message}`);
  }
  if (!input("use-mic").checked) return setText("mic", "off");
  try {
    microphone = await openMicrophone((samples, sampleRate) => {
      client?.sendAudio({ trackId: "microphone", sampleRate, channels: 1, data: samples });
    });
    setText("mic", `on · ${microphone.sampleRate} Hz mono s16, 20 ms frames sent 100 ms to a message`);
  } catch (err) {
    setText("mic", "unavailable");
    log("error", `microphone unavailable: ${(err as Error).message}`);
  }
}

function wire(sdk: DeepfakeEdgeClient): void {
  sdk.on("state", (s) => {
    const detail = s.state === "reconnecting" ? ` (retry in ${((s.retryInMs ?? 0) / 1000).toFixed(1)} s)` : "";
    setText("conn", s.state + detail);
    if (s.state !== "open") setText("upstream", "—");
    if (s.state === "reconnecting" || s.state === "closed") {
      setBadge(null, s.state === "closed" ? "NOT CONNECTED" : "RECONNECTING");
      const why = s.error ? `: ${s.error.message}` : s.code ? ` (${s.code}${s.reason ? ` ${s.reason}` : ""})` : "";
      log("info", `${s.state}${detail}${why}`);
    }
    if (s.state === "closed" && sdk === client) void stop(null);
  });
  sdk.on("ready", (e) => {
    setBadge(e.level);
    setText("rate", fps(e.video_fps));
    log(
      e.level,
      `ready: ${e.participant_id} is ${e.level.toUpperCase()}, video at ${e.video_fps} ` +
        `fps${e.simulated ? " · SIMULATED" : ""}`,
    );
    if (e.simulated) $("sim-banner").hidden = false;
    if (e.notice) log("info", e.notice);
  });
  sdk.on("deepfake_alert", (e) => {
    setBadge(e.level);
    log(e.level, `${e.level.toUpperCase()} (was ${e.previous_level}) on track ${e.track_id}: ${e.message}`);
  });
  sdk.on("rate", (e) => {
    setText("rate", fps(e.video_fps));
    log("info", `rate: video now ${e.video_fps} fps`);
  });
  sdk.on("upstream", (e) => {
    const text =
      e.status === "connected" ? "connected" : `reconnecting (retry in ${((e.retry_in_ms ?? 0) / 1000).toFixed(1)} s)`;
    setText("upstream", text);
    log("info", `upstream ${text}`);
  });
  sdk.on("upstream_error", (e) => log("error", `upstream error on ${e.track_id}: ${e.message}`));
  sdk.on("error", (e) => log("error", `server rejected a message: ${e.code}: ${e.message}`));
  sdk.on("auth_error", (e) => showProblem(`connect token refused: ${e.message}`));
}

let capturing = false;
async function captureTick(sdk: DeepfakeEdgeClient): Promise<void> {
  const cam = camera;
  if (!cam || capturing || !sdk.isReady) return;
  capturing = true;
  try {
    // 640x480 is a placeholder: the renderer reports the size it actually drew.
    const raw = input("raw-rgba").checked;
    const result: SendResult = raw
      ? await sdk.captureVideo({ trackId: "camera", format: "RGBA", width: 640, height: 480 }, () => cam.grabRgba())
      : await sdk.captureVideo({ trackId: "camera", format: "JPEG", width: 640, height: 480 }, () => cam.grabJpeg());
    if (result === "too_large") log("error", "a camera frame was over the message size limit and was not sent");
  } catch (err) {
    log("error", `frame capture failed: ${(err as Error).message}`);
  } finally {
    capturing = false;
  }
}

function showStats(sdk: DeepfakeEdgeClient): void {
  const { sent, dropped } = sdk.stats;
  const drops = Object.entries(dropped)
    .filter(([reason, n]) => n > 0 && reason !== "rate_limited")
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
  setText(
    "sent",
    `${plural(sent.videoFrames, "video frame")} (${kb(sent.videoBytes)}) · ` +
      `${plural(sent.audioFrames, "audio frame")} (${kb(sent.audioBytes)})` +
      (drops ? ` · dropped: ${drops}` : ""),
  );
}

let snapshotRefused = false;
async function pollSnapshot(participantId: string): Promise<void> {
  if (snapshotRefused) return;
  try {
    const snap = await fetchSnapshot(participantId);
    const box = $("counters");
    if ("status" in snap) {
      snapshotRefused = snap.status === 401;
      setText(
        "counters-note",
        snap.status === 401 ? "(need the admin key: not shown in production)" : `(HTTP ${snap.status})`,
      );
      return;
    }
    setText(
      "counters-note",
      `level ${snap.level} · upstream ${snap.upstream}, ${snap.queued ?? 0} queued · ${snap.clients ?? 0} client(s)`,
    );
    box.replaceChildren(
      ...snap.counters.map(([name, value]) => {
        const row = document.createElement("div");
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = name.replace(/_/g, " ");
        dd.textContent = value.toLocaleString();
        row.append(dt, dd);
        return row;
      }),
    );
  } catch {
    setText("counters-note", "(snapshot unavailable)");
  }
}

async function steer(level: string): Promise<void> {
  const participantId = input("participant").value.trim();
  try {
    const result = await steerSimulator(participantId, level);
    log(result.ok ? "info" : "error", result.detail);
  } catch (err) {
    log("error", `steering failed: ${(err as Error).message}`);
  }
}

async function stop(reason: string | null): Promise<void> {
  const sdk = client;
  client = null;
  for (const id of timers) clearInterval(id);
  timers = [];
  sdk?.close();
  camera?.stop();
  camera = null;
  const mic = microphone;
  microphone = null;
  await mic?.stop().catch(() => undefined);
  setText("preview-note", "camera off");
  setText("mic", "—");
  setText("rate", "—");
  setBadge(null);
  snapshotRefused = false;
  setBusy(false);
  if (reason) log("info", reason);
}

function setBusy(connected: boolean): void {
  input("participant").disabled = connected;
  input("token").disabled = connected;
  ($("connect") as HTMLButtonElement).disabled = connected;
  ($("disconnect") as HTMLButtonElement).disabled = !connected;
}

void init();
