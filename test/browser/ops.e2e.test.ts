/**
 * The operations view (docs/DESIGN.md §12) in Debian's headless Chromium (playwright-core).
 *
 * A moderator opens /rooms, is asked for the admin key once, sees the live rooms, opens a room of
 * three participants, watches a badge turn ALERT within 2 s of the result, starts a check with
 * "check now", survives a dropped watch socket, and uses the page at 390 px. Throughout: the key is
 * in no URL (the page's, any request's, the socket's), it rides on the socket as `bearer.<key>`,
 * and the console stays free of errors. Screenshots go to test-artifacts/.
 *
 * Chromium is required: when it is missing the test FAILS with instructions, it never skips.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { REPO_ROOT } from "../e2e/harness/wrangler-dev.js";
import { startOpsBackend, type OpsBackend } from "./support/ops-backend.js";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
/** From the result to the badge showing ALERT (the issue: within 2 s). */
const ALERT_BUDGET_MS = 2_000;
const ARTIFACTS = join(REPO_ROOT, "test-artifacts");
const ROOM = "panel-1";
const OTHER_ROOM = "support-7";
const PEOPLE = ["alice", "bob", "carol"];

let backend: OpsBackend | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
const pageErrors: string[] = [];
const consoleErrors: Array<{ text: string; keyEntered: boolean }> = [];
const requestUrls: string[] = [];
const sockets: Array<{ url: string; protocol?: string; answered?: string }> = [];
let keyEntered = false;

function measure(...parts: unknown[]): void {
  console.log("[measure]", ...parts);
}

const tile = (pid: string) => `.tile[data-pid="${pid}"]`;

async function badgeOf(pid: string): Promise<string | null> {
  return page.textContent(`${tile(pid)} .badge`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}. The operations-view browser test needs Debian's chromium: ` +
        "`apt-get update && apt-get install -y chromium` (as root; `npm test` does it through scripts/ensure-deps.mjs --browser), " +
        "or set CHROMIUM_PATH. This test fails rather than skips so CI cannot pass without it.",
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  backend = await startOpsBackend();
  for (const pid of PEOPLE) await backend.join(ROOM, pid);
  await backend.join(OTHER_ROOM, "dave");
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push({ text: msg.text(), keyEntered });
  });
  page.on("request", (req) => requestUrls.push(req.url()));
  // What the browser puts on the wire for each WebSocket upgrade.
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const lower = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  cdp.on("Network.webSocketCreated", (e: { url: string }) => sockets.push({ url: e.url }));
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e: { request: { headers: Record<string, string> } }) => {
    const last = sockets.at(-1);
    if (last) last.protocol = lower(e.request.headers)["sec-websocket-protocol"];
  });
  cdp.on("Network.webSocketHandshakeResponseReceived", (e: { response: { headers: Record<string, string> } }) => {
    const last = sockets.at(-1);
    if (last) last.answered = lower(e.response.headers)["sec-websocket-protocol"];
  });
}, 120_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await backend?.stop();
}, 60_000);

describe("operations view", () => {
  it("asks for the admin key once and lists the live rooms, worst first", async () => {
    await page.goto(`${backend!.url}/rooms`);
    await page.waitForSelector("#key-form:not([hidden])", { timeout: 10_000 });
    await page.fill("#key", backend!.adminKey);
    keyEntered = true;
    await page.click("#key-form button[type=submit]");
    await page.waitForSelector(`.room[data-room="${ROOM}"]`, { timeout: 10_000 });
    expect(await page.textContent(`.room[data-room="${ROOM}"]`)).toContain("3 of 3 connected");
    expect(await page.textContent(`.room[data-room="${OTHER_ROOM}"]`)).toContain("1 of 1 connected");
    expect(await page.textContent("#conn")).toBe("LIVE");
    // Kept for the tab only.
    expect(await page.evaluate(() => Object.keys(localStorage).length)).toBe(0);
    expect(await page.evaluate(() => Object.values(sessionStorage))).toContain(backend!.adminKey);

    await backend!.steer(OTHER_ROOM, "dave", "suspicious");
    await page.waitForFunction((room) => document.querySelector("#rooms li:first-child .room")?.getAttribute("data-room") === room, OTHER_ROOM, { timeout: 10_000 });
    expect(await page.textContent(`.room[data-room="${OTHER_ROOM}"] .badge`)).toBe("SUSPICIOUS");
    await page.screenshot({ path: join(ARTIFACTS, "ops-rooms.png"), fullPage: true });
  });

  it("shows a room's tiles, and a badge turns ALERT within 2 s of the result", async () => {
    await page.click(`.room[data-room="${ROOM}"]`);
    await page.waitForURL(`**/rooms/${ROOM}`);
    for (const pid of PEOPLE) await page.waitForSelector(`${tile(pid)} .badge[data-level=clear]`, { timeout: 10_000 });
    await page.waitForFunction(() => document.getElementById("conn")?.textContent === "LIVE", null, { timeout: 10_000 });
    expect(await page.textContent("#room-level")).toBe("CLEAR");
    expect(await page.textContent("#room-counts")).toBe("3 of 3 connected");
    expect(await page.textContent(`${tile("bob")} .tracks`)).toContain("camera");

    const resultAt = await backend!.steer(ROOM, "bob", "alert");
    await page
      .waitForFunction((sel) => document.querySelector(sel)?.textContent === "ALERT", `${tile("bob")} .badge`, { timeout: ALERT_BUDGET_MS, polling: 20 })
      .catch(async () => {
        throw new Error(`bob's badge did not turn ALERT within ${ALERT_BUDGET_MS} ms of the result (it shows ${await badgeOf("bob")})`);
      });
    const alertMs = Date.now() - resultAt;
    measure(`result -> ALERT badge in the operations view: ${alertMs} ms`);
    expect(alertMs).toBeLessThanOrEqual(ALERT_BUDGET_MS);
    await page.waitForFunction(() => document.getElementById("room-level")?.textContent === "ALERT", null, { timeout: ALERT_BUDGET_MS });
    expect(await page.getAttribute(tile("bob"), "data-fresh")).toBe("true");
    expect(await page.textContent("#room-worst")).toBe("ALERT: bob");
    expect(await page.title()).toMatch(/^⚠ ALERT/);
    expect(await page.textContent("#log")).toMatch(/bob: ALERT \(was clear\)/);
    expect(await badgeOf("alice")).toBe("CLEAR");
    // The alert draws the eye: the badge is animated (motion allowed here).
    expect(await page.$eval(`${tile("bob")} .badge`, (el) => getComputedStyle(el).animationName)).toBe("pulse");
  });

  it('"check now" starts a check and shows its result', async () => {
    const button = `${tile("alice")} .check-now`;
    await page.click(button);
    await page.waitForFunction((sel) => /^Checking… \d+ s$/.test(document.querySelector(sel)?.textContent ?? ""), button, { timeout: 3_000 });
    expect(await page.isDisabled(button)).toBe(true);
    expect(await backend!.checksStarted("alice")).toBeGreaterThanOrEqual(1);
    await page.waitForFunction(() => /alice: check started/.test(document.getElementById("log")?.textContent ?? ""), null, { timeout: 5_000 });
    const status = `${tile("alice")} .check-status`;
    const done = (sel: string) => /^Last check \d\d:\d\d:\d\d: (CLEAR|SUSPICIOUS|ALERT) · answered/.test(document.querySelector(sel)?.textContent ?? "");
    await page.waitForFunction(done, status, { timeout: 20_000 });
    await page.screenshot({ path: join(ARTIFACTS, "ops-room.png"), fullPage: true });
  });

  it("reconnects the watch socket on its own and says so meanwhile", async () => {
    const before = sockets.length;
    await backend!.dropWatchers();
    await page.waitForFunction(() => document.getElementById("conn")?.dataset.state !== "live", null, { timeout: 5_000 });
    expect(await page.isVisible("#stale")).toBe(true);
    await page.waitForFunction(() => document.getElementById("conn")?.textContent === "LIVE", null, { timeout: 15_000 });
    expect(sockets.length).toBeGreaterThan(before);
    await backend!.steer(ROOM, "carol", "suspicious");
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === "SUSPICIOUS", `${tile("carol")} .badge`, { timeout: 5_000 });
  });

  it("works at 390 px: no horizontal scroll, the level in view", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    expect(await page.isVisible("#room-level")).toBe(true);
    const fontPx = await page.$eval("#room-level", (el) => parseFloat(getComputedStyle(el).fontSize));
    expect(fontPx).toBeGreaterThanOrEqual(40);
    await page.screenshot({ path: join(ARTIFACTS, "ops-room-phone.png"), fullPage: true });
    await page.goto(`${backend!.url}/rooms`);
    await page.waitForSelector(`.room[data-room="${ROOM}"]`, { timeout: 10_000 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, "ops-rooms-phone.png"), fullPage: true });
  });

  it("never puts the key in a URL, carries it as a subprotocol, and logs no console errors", async () => {
    const key = backend!.adminKey;
    expect(page.url()).not.toContain(key);
    expect(requestUrls.length).toBeGreaterThan(5);
    for (const url of requestUrls) expect(url, "a request URL").not.toContain(key);
    const watch = sockets.filter((s) => s.url.includes(`/v1/rooms/${ROOM}/watch`));
    expect(watch.length).toBeGreaterThanOrEqual(2);
    for (const s of watch) {
      expect(s.url).not.toContain(key);
      expect(s.url).not.toMatch(/token|key/i);
      expect(s.protocol).toBe(`deepfake-edge.v1, bearer.${key}`);
      expect(s.answered).toBe("deepfake-edge.v1");
    }
    measure(`${requestUrls.length} requests and ${watch.length} watch sockets, none with the key in its URL`);
    expect(pageErrors, "uncaught errors in the page").toEqual([]);
    // Before the key was typed, the first API call's 401 is the only error Chromium logs.
    const beforeKey = consoleErrors.filter((e) => !e.keyEntered).map((e) => e.text);
    for (const text of beforeKey) expect(text).toMatch(/status of 401/);
    expect(consoleErrors.filter((e) => e.keyEntered).map((e) => e.text), "console errors").toEqual([]);
  });
});
