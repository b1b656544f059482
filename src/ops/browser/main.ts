/**
 * The operations view (docs/DESIGN.md §12), GET /rooms and GET /rooms/:room: one page whose script picks
 * the view from the path. It asks for the admin key only when the service answers 401 (development
 * mode on loopback is open), keeps it for this tab, and restarts the view once it has one.
 * Bundled by scripts/build-playground.mjs into src/ops/generated/assets.ts.
 */
import { PARTICIPANT_ID_PATTERN as ROOM_ID } from "../../config/limits.js";
import { fetchHealth, storeKey, storedKey } from "./api.js";
import { $, setData, setText } from "./dom.js";
import { RoomPage, type PageHooks } from "./room-page.js";
import { RoomsPage } from "./rooms-page.js";

const KEY_NOTE = "This view needs the deployment's admin key. It stays in this tab only and is never put in a URL.";

let view: RoomPage | RoomsPage | null = null;

const hooks: PageHooks = {
  needKey(refused) {
    view?.stop();
    view = null;
    askForKey(refused);
  },
  problem(text) {
    const banner = $("problem");
    banner.hidden = text === null;
    setText(banner, text ?? "");
  },
  connection(text, state) {
    const pill = $("conn");
    setText(pill, text);
    setData(pill, "state", state);
  },
};

function askForKey(refused: boolean): void {
  if (refused) storeKey(null);
  $("rooms-view").hidden = true;
  $("room-view").hidden = true;
  $("forget-key").hidden = true;
  hooks.connection("LOCKED", "offline");
  setText($("key-note"), refused ? "That key was refused. Enter the deployment's admin key." : KEY_NOTE);
  $("key-form").hidden = false;
  ($("key") as HTMLInputElement).focus();
}

function roomFromPath(): string | null | undefined {
  const match = /^\/rooms\/([^/]+)\/?$/.exec(location.pathname);
  if (!match) return undefined;
  let room: string;
  try {
    room = decodeURIComponent(match[1] ?? "");
  } catch {
    return null;
  }
  return ROOM_ID.test(room) ? room : null;
}

function startView(): void {
  $("key-form").hidden = true;
  $("forget-key").hidden = storedKey() === null;
  const room = roomFromPath();
  if (room === null) {
    hooks.problem("a room id is 1-128 characters of A-Z a-z 0-9 . _ : -");
    return;
  }
  view = room === undefined ? new RoomsPage(hooks) : new RoomPage(room, hooks);
  view.start().catch((err: unknown) => hooks.problem(`the view failed: ${(err as Error).message}`));
}

async function init(): Promise<void> {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("key") as HTMLInputElement;
    const key = input.value.trim();
    if (!key) return;
    input.value = "";
    storeKey(key);
    startView();
  });
  $("forget-key").addEventListener("click", () => {
    storeKey(null);
    location.reload();
  });
  startView();
  try {
    const health = await fetchHealth();
    const mode = $("mode");
    mode.hidden = false;
    setText(mode, health.simulated ? "dev mode · simulator" : health.devMode ? "dev mode" : "production");
    mode.classList.toggle("dev", health.devMode);
    $("sim-banner").hidden = !health.simulated;
  } catch {
    // The view itself reports an unreachable service.
  }
}

void init();
