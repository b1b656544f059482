/**
 * The playground in a real browser: Debian's headless Chromium (playwright-core) with a fake camera
 * and microphone, against a real `wrangler dev` in development mode (no Dataspike key, so the
 * built-in simulator answers). It opens the page, connects, checks that camera frames reach the
 * simulator and audio leaves the page, steers to SUSPICIOUS then ALERT with the page's own buttons
 * and checks the badge and the log, and saves screenshots (laptop and phone widths).
 *
 * Chromium is required: when it is missing the test FAILS with instructions, it never skips.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { REPO_ROOT, startWranglerDev, type WranglerDev } from "../e2e/harness/wrangler-dev.js";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** From a click on a simulator button to the badge showing the new level (the issue: "within a second"; 2 s of slack for CI). */
const STEER_BUDGET_MS = 2_000;
const ARTIFACTS = join(REPO_ROOT, "test-artifacts");

let dev: WranglerDev | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
const pageErrors: string[] = [];
const consoleErrors: string[] = [];

function measure(...parts: unknown[]): void {
  console.log("[measure]", ...parts);
}

async function simulatorStats(participantId: string): Promise<{ jpeg_frames: number; rejected: number; last_jpeg: { width: number; height: number; bytes: number } | null }> {
  const res = await fetch(`${dev!.url}/v1/dev/simulator/${participantId}`);
  expect(res.status, "GET /v1/dev/simulator/:id").toBe(200);
  return (await res.json()) as { jpeg_frames: number; rejected: number; last_jpeg: { width: number; height: number; bytes: number } | null };
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Clicks a simulator button and returns how long the badge took to show `label`. */
async function steerAndWait(page: Page, level: "suspicious" | "alert", label: string): Promise<number> {
  const clickedAt = Date.now();
  await page.click(`#sim-controls button[data-level=${level}]`);
  await page.waitForFunction(
    (text) => document.getElementById("badge")?.textContent === text,
    label,
    { timeout: STEER_BUDGET_MS, polling: 50 },
  ).catch(async () => {
    const badge = await page.textContent("#badge");
    const log = await page.textContent("#log");
    throw new Error(
      `the badge did not show ${label} within ${STEER_BUDGET_MS} ms of the click (it shows ${JSON.stringify(badge)}).\n` +
        "The simulator answers the next sampled frame, so steering takes up to one sampling period (5 s in CLEAR) unless the " +
        `simulator pushes the steered result at once.\nlog:\n${log}`,
    );
  });
  return Date.now() - clickedAt;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}. The playground browser test needs Debian's chromium: ` +
        "`apt-get update && apt-get install -y chromium` (as root; `npm test` does it through scripts/ensure-deps.mjs --browser), " +
        "or set CHROMIUM_PATH. This test fails rather than skips so CI cannot pass without it.",
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  dev = await startWranglerDev({ vars: { DEV_MODE: "true" } });
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
}, 120_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await dev?.stop();
}, 60_000);

describe("playground", () => {
  it("serves the page, script, stylesheet and worklet from the Worker with a CSP and no external URLs", async () => {
    const page = await fetch(`${dev!.url}/`);
    expect(page.status, "GET / (is the playground mounted in src/index.ts with app.route(\"/\", playground)?)").toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`ws://127.0.0.1:${dev!.port}`);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    for (const [path, type] of [
      ["/playground/app.js", /^text\/javascript/],
      ["/playground/audio-worklet.js", /^text\/javascript/],
      ["/playground/app.css", /^text\/css/],
    ] as const) {
      const res = await fetch(`${dev!.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(type);
      expect((await res.text()).length, path).toBeGreaterThan(100);
    }
  });

  it("streams the camera, and the simulator buttons move the badge to SUSPICIOUS then ALERT", async () => {
    const page = await context!.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error") consoleErrors.push(msg.text());
    });
    const participantId = `browser-${Date.now().toString(36)}`;
    // What the browser puts on the wire for the WebSocket upgrade (docs/DESIGN.md §6: no token in a URL).
    const cdp = await context!.newCDPSession(page);
    await cdp.send("Network.enable");
    const handshakes: Array<{ url: string; protocol?: string }> = [];
    const answers: Array<string | undefined> = [];
    cdp.on("Network.webSocketCreated", (e: { url: string }) => handshakes.push({ url: e.url }));
    cdp.on("Network.webSocketWillSendHandshakeRequest", (e: { request: { headers: Record<string, string> } }) => {
      const headers = Object.fromEntries(Object.entries(e.request.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const last = handshakes.at(-1);
      if (last) last.protocol = headers["sec-websocket-protocol"];
    });
    cdp.on("Network.webSocketHandshakeResponseReceived", (e: { response: { headers: Record<string, string> } }) => {
      answers.push(Object.entries(e.response.headers).find(([k]) => k.toLowerCase() === "sec-websocket-protocol")?.[1]);
    });
    await page.goto(`${dev!.url}/`);
    await page.waitForSelector("#sim-banner:not([hidden])", { timeout: 10_000 });
    expect(await page.textContent("#sim-banner")).toContain("SIMULATED RESULTS");
    await page.fill("#participant", participantId);
    await page.click("#connect");

    // Connected: the page minted a token, got `ready` and shows the level.
    await page.waitForFunction(() => document.getElementById("badge")?.textContent === "CLEAR", null, { timeout: 20_000 });
    expect(await page.textContent("#log")).toMatch(/ready: .* is CLEAR, video at 0\.2 fps · SIMULATED/);
    expect(await page.textContent("#rate")).toContain("0.2 fps");
    // The page minted a token and the SDK carried it as a subprotocol, answered deepfake-edge.v1.
    const stream = handshakes.find((h) => h.url.includes(`/v1/participants/${participantId}/stream`));
    expect(stream?.url, "the stream socket's URL").not.toMatch(/token/i);
    expect(stream?.protocol ?? "").toMatch(/^deepfake-edge\.v1, bearer\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(answers).toContain("deepfake-edge.v1");
    measure(`stream socket: URL without a token, Sec-WebSocket-Protocol "deepfake-edge.v1, bearer.<${(stream?.protocol ?? "").length - 25} chars>", answered ${JSON.stringify(answers[0])}`);

    // Camera frames (JPEG from the canvas) reach the simulator through the Worker and the object.
    const stats = await waitFor("a JPEG frame at the simulator", 15_000, async () => {
      const s = await simulatorStats(participantId);
      return s.jpeg_frames >= 1 ? s : null;
    });
    measure(`first frame at the simulator: ${stats.last_jpeg?.width}x${stats.last_jpeg?.height}, ${stats.last_jpeg?.bytes} B JPEG`);
    expect(stats.rejected).toBe(0);
    expect(stats.last_jpeg?.width).toBeGreaterThanOrEqual(160);

    // Microphone audio (AudioWorklet -> 20 ms s16 frames) reaches the participant's object and is accepted.
    const audio = await waitFor("audio frames at the participant object", 10_000, async () => {
      const res = await fetch(`${dev!.url}/v1/participants/${participantId}`);
      const snapshot = (await res.json()) as { counters?: Record<string, number> };
      const counters = snapshot.counters ?? {};
      return (counters.audio_frames_received ?? 0) >= 10 ? counters : null;
    });
    expect(audio.bad_messages, "messages the server rejected").toBe(0);
    await page.waitForFunction(() => /[1-9][\d,]* audio frames/.test(document.getElementById("sent")?.textContent ?? ""), null, { timeout: 5_000 });

    const suspiciousMs = await steerAndWait(page, "suspicious", "SUSPICIOUS");
    await page.waitForFunction(() => /SUSPICIOUS \(was clear\)/.test(document.getElementById("log")?.textContent ?? ""), null, { timeout: 1_000 });
    await page.waitForFunction(() => document.getElementById("rate")?.textContent?.startsWith("1 fps"), null, { timeout: 2_000 });

    const alertMs = await steerAndWait(page, "alert", "ALERT");
    await page.waitForFunction(() => /ALERT \(was suspicious\)/.test(document.getElementById("log")?.textContent ?? ""), null, { timeout: 1_000 });
    expect(await page.getAttribute("#badge", "data-level")).toBe("alert");
    measure(`steer -> badge: SUSPICIOUS ${suspiciousMs} ms, ALERT ${alertMs} ms`);

    // Server counters from the snapshot API are shown.
    await page.waitForFunction(() => /frames received/.test(document.getElementById("counters")?.textContent ?? ""), null, { timeout: 5_000 });
    await page.screenshot({ path: join(ARTIFACTS, "playground.png"), fullPage: true });

    // Phone width: nothing overflows horizontally and the badge is still in view.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await page.isVisible("#badge")).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "playground-phone.png"), fullPage: true });

    expect(pageErrors, "uncaught errors in the page").toEqual([]);
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e)), "CSP violations").toEqual([]);
    await page.click("#disconnect");
    await page.waitForFunction(() => document.getElementById("badge")?.textContent === "NOT CONNECTED", null, { timeout: 5_000 });
  });
});
