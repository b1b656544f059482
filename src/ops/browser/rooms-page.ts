/**
 * The live rooms (GET /rooms): each room's level, connected participants and alerts in the last
 * hour, worst first, refreshed from GET /v1/rooms every two seconds (the directory has no socket).
 */
import { PARTICIPANT_ID_PATTERN as ROOM_ID } from "../../config/limits.js";
import { ago, pageTitle, sortRooms } from "../view/format.js";
import { parseRoomList, type RoomSummary } from "../view/parse.js";
import { NeedKey, api } from "./api.js";
import { $, h, setText } from "./dom.js";
import type { PageHooks } from "./room-page.js";

const ROOMS_POLL_MS = 2_000;
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

export class RoomsPage {
  #timer: number | undefined;
  #lastOkMs: number | null = null;
  #stopped = false;

  constructor(readonly hooks: PageHooks) {}

  async start(): Promise<void> {
    $("rooms-view").hidden = false;
    $("goto-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const room = ($("goto-room") as HTMLInputElement).value.trim();
      if (ROOM_ID.test(room)) location.assign(`/rooms/${encodeURIComponent(room)}`);
    });
    await this.#poll();
  }

  stop(): void {
    this.#stopped = true;
    window.clearTimeout(this.#timer);
  }

  async #poll(): Promise<void> {
    try {
      const parsed = parseRoomList(await api("/v1/rooms"));
      if (!parsed.ok) throw new Error(parsed.error);
      this.#lastOkMs = Date.now();
      this.#render(sortRooms(parsed.value));
      this.hooks.connection("LIVE", "live");
      this.hooks.problem(null);
    } catch (err) {
      if (err instanceof NeedKey) {
        this.stop();
        this.hooks.needKey(err.refused);
        return;
      }
      const since = this.#lastOkMs ? ` (last update ${ago(this.#lastOkMs, Date.now())} ago)` : "";
      this.hooks.connection("OFFLINE", "offline");
      this.hooks.problem(`cannot list the rooms: ${(err as Error).message}${since}`);
    }
    if (!this.#stopped) this.#timer = window.setTimeout(() => void this.#poll(), ROOMS_POLL_MS);
  }

  #render(rooms: RoomSummary[]): void {
    const alerts = rooms.filter((r) => r.level === "alert").length;
    const suspicious = rooms.filter((r) => r.level === "suspicious").length;
    const parts = [plural(rooms.length, "room")];
    if (alerts) parts.push(`${alerts} in ALERT`);
    if (suspicious) parts.push(`${suspicious} SUSPICIOUS`);
    setText($("rooms-summary"), parts.join(" · "));
    document.title = pageTitle("rooms · deepfake-edge", alerts ? "alert" : suspicious ? "suspicious" : null);
    $("rooms-empty").hidden = rooms.length > 0;
    $("rooms").replaceChildren(...rooms.map((r) => this.#item(r)));
  }

  #item(r: RoomSummary): HTMLElement {
    const link = h(
      "a",
      { class: "room", href: `/rooms/${encodeURIComponent(r.roomId)}`, "data-level": r.level, "data-room": r.roomId },
      h("span", { class: "badge", "data-level": r.level }, r.level.toUpperCase()),
      h("span", { class: "room-id" }, r.roomId),
      h(
        "span",
        { class: "counts" },
        h("span", {}, `${r.connected} of ${r.participants} connected`),
        h("span", { class: r.alertsLastHour ? "hot" : "" }, `${plural(r.alertsLastHour, "alert")} in the last hour`),
      ),
    );
    return h("li", {}, link);
  }
}
