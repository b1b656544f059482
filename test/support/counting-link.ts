/**
 * An UpstreamLink that counts, for tests: messages handed to the socket and successful connections,
 * counted through the link's own hooks (`sent`, `connected`), which the object uses the same way.
 */
import { UpstreamLink, type UpstreamLinkOptions } from "../../src/upstream/link";

export class CountingUpstreamLink extends UpstreamLink {
  readonly #counts: { sent: number; connects: number };

  constructor(options: UpstreamLinkOptions) {
    const counts = { sent: 0, connects: 0 };
    const { hooks } = options;
    super({
      ...options,
      hooks: {
        ...hooks,
        connected: () => {
          counts.connects++;
          hooks.connected();
        },
        sent: (trackId) => {
          counts.sent++;
          hooks.sent?.(trackId);
        },
      },
    });
    this.#counts = counts;
  }

  /** Messages handed to the upstream socket. */
  get sent(): number {
    return this.#counts.sent;
  }
  /** Successful connections since creation. */
  get connects(): number {
    return this.#counts.connects;
  }
}
