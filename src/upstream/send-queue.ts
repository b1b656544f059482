/**
 * Bounded FIFO of messages waiting for the upstream socket (docs/DESIGN.md §4.5).
 *
 * Three bounds, all enforced by dropping the OLDEST items (stale media is worth less than fresh):
 * - items: at most `maxItems` pending;
 * - bytes: at most `maxBytes` pending in total;
 * - age: an item queued more than `maxAgeMs` ago is dropped by `dropStale()` instead of being sent,
 *   so after an outage the API gets current media, not a backlog.
 * (The Python reference dropped the newest instead; see docs/DESIGN.md §11.)
 * Ring buffer, so push and shift are O(1). Pure: no Workers or Node imports.
 */

export interface SendQueueLimits<T> {
  maxItems: number;
  /** Total bytes pending; default unbounded. An item larger than this on its own is refused (dropped). */
  maxBytes?: number;
  /** Age after which an item is stale, in ms; default never. */
  maxAgeMs?: number;
  /** Size of one item in bytes; default its `byteLength`, or 0. */
  sizeOf?: (item: T) => number;
}

interface Slot<T> {
  item: T;
  bytes: number;
  queuedAtMs: number;
}

const defaultSize = (item: unknown): number => {
  const length = (item as { byteLength?: unknown } | null)?.byteLength;
  return typeof length === "number" ? length : 0;
};

export class SendQueue<T> {
  readonly #slots: Array<Slot<T> | undefined>;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #sizeOf: (item: T) => number;
  #head = 0; // index of the oldest item
  #length = 0;
  #bytes = 0;
  #dropped = 0;
  #droppedStale = 0;

  /** @param limits the maximum number of pending items (an integer >= 1), or all the limits. */
  constructor(limits: number | SendQueueLimits<T>) {
    const {
      maxItems,
      maxBytes = Infinity,
      maxAgeMs = Infinity,
      sizeOf = defaultSize,
    } = typeof limits === "number" ? { maxItems: limits } : limits;
    if (!Number.isInteger(maxItems) || maxItems < 1) {
      throw new RangeError(`SendQueue capacity must be an integer >= 1, got ${maxItems}`);
    }
    if (!(maxBytes > 0)) throw new RangeError(`SendQueue maxBytes must be > 0, got ${maxBytes}`);
    if (!(maxAgeMs > 0)) throw new RangeError(`SendQueue maxAgeMs must be > 0, got ${maxAgeMs}`);
    this.#slots = new Array<Slot<T> | undefined>(maxItems).fill(undefined);
    this.#maxBytes = maxBytes;
    this.#maxAgeMs = maxAgeMs;
    this.#sizeOf = sizeOf;
  }

  /**
   * Appends an item queued at nowMs. Returns the items evicted to make room (oldest first), each
   * counted in `dropped`; an item that alone exceeds maxBytes is itself returned and not queued.
   */
  push(item: T, nowMs = 0): T[] {
    const bytes = this.#sizeOf(item);
    if (bytes > this.#maxBytes) {
      this.#dropped += 1;
      return [item];
    }
    const evicted: T[] = [];
    while (this.#length > 0 && (this.#length === this.#slots.length || this.#bytes + bytes > this.#maxBytes)) {
      evicted.push(this.#removeHead());
    }
    this.#dropped += evicted.length;
    this.#slots[(this.#head + this.#length) % this.#slots.length] = { item, bytes, queuedAtMs: nowMs };
    this.#length += 1;
    this.#bytes += bytes;
    return evicted;
  }

  /** Removes the items queued more than maxAgeMs before nowMs (all at the head); counted in `droppedStale`. */
  dropStale(nowMs: number): T[] {
    const stale: T[] = [];
    while (this.#length > 0 && nowMs - this.#slots[this.#head]!.queuedAtMs > this.#maxAgeMs)
      stale.push(this.#removeHead());
    this.#droppedStale += stale.length;
    return stale;
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    return this.#length === 0 ? undefined : this.#removeHead();
  }

  /** The oldest item without removing it, or undefined when empty. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head]!.item;
  }

  get length(): number {
    return this.#length;
  }

  /** Bytes pending. */
  get bytes(): number {
    return this.#bytes;
  }

  get capacity(): number {
    return this.#slots.length;
  }

  /** Items evicted by `push` (the item or byte bound) since creation. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Items dropped by `dropStale` since creation. */
  get droppedStale(): number {
    return this.#droppedStale;
  }

  /** Removes all items and returns how many were removed (NOT counted as dropped). */
  clear(): number {
    const removed = this.#length;
    this.#slots.fill(undefined);
    this.#head = 0;
    this.#length = 0;
    this.#bytes = 0;
    return removed;
  }

  #removeHead(): T {
    const slot = this.#slots[this.#head]!;
    this.#slots[this.#head] = undefined; // release the reference (frames are large)
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#length -= 1;
    this.#bytes -= slot.bytes;
    return slot.item;
  }
}
