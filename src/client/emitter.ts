/**
 * Typed events of DeepfakeEdgeClient: the server's events by `type`, plus connection state and
 * refused auth. A listener that throws is reported and does not stop the others.
 */
import type {
  AudioEvent,
  ReadyEvent,
  RateEvent,
  ServerErrorEvent,
  UpstreamErrorEvent,
  UpstreamEvent,
} from "./events.js";
import type { CheckCompletedEvent, CheckStartedEvent } from "./events.js";
import type { DeepfakeAlert } from "../protocol/events.js";
import type { AuthError } from "./socket.js";
import type { StateChange } from "./options.js";

export interface ClientEventMap {
  ready: ReadyEvent;
  rate: RateEvent;
  /** Whether the service wants speech now (the client sends no audio while it does not). */
  audio: AudioEvent;
  deepfake_alert: DeepfakeAlert;
  upstream: UpstreamEvent;
  upstream_error: UpstreamErrorEvent;
  /** An on-demand check of the participant began / ended (docs/DESIGN.md §13), whoever asked for it. */
  check_started: CheckStartedEvent;
  check_completed: CheckCompletedEvent;
  /** The server rejected a message (the socket stays usable). */
  error: ServerErrorEvent;
  /** Connection state changes: connecting, open, reconnecting (with retryInMs), closed (with error). */
  state: StateChange;
  /** The token was refused; the client has stopped (connect() rejects with the same error). */
  auth_error: AuthError;
}

export type ClientEventName = keyof ClientEventMap;
export type ClientListener<K extends ClientEventName> = (event: ClientEventMap[K]) => void;

export class ClientEmitter {
  readonly #listeners = new Map<ClientEventName, Set<(event: never) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends ClientEventName>(type: K, listener: ClientListener<K>): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (event: never) => void);
    return () => this.off(type, listener);
  }

  /** Like on(), for one event only. */
  once<K extends ClientEventName>(type: K, listener: ClientListener<K>): () => void {
    const off = this.on(type, (event) => {
      off();
      listener(event);
    });
    return off;
  }

  off<K extends ClientEventName>(type: K, listener: ClientListener<K>): void {
    this.#listeners.get(type)?.delete(listener as (event: never) => void);
  }

  protected emit<K extends ClientEventName>(type: K, event: ClientEventMap[K]): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        (listener as ClientListener<K>)(event);
      } catch (err) {
        console.error(`deepfake-edge client: a "${type}" listener threw`, err);
      }
    }
  }
}
