/**
 * Bounded FIFO of messages waiting for the upstream socket (DESIGN §2, §4).
 *
 * When full, a push evicts the OLDEST item: stale media is worth less than fresh media.
 * (The Python reference dropped the newest instead; see DESIGN §10.)
 * Ring buffer, so push and shift are O(1). Pure: no Workers or Node imports.
 */
export class SendQueue<T> {
  readonly #slots: Array<T | undefined>;
  #head = 0; // index of the oldest item
  #length = 0;
  #dropped = 0;

  /** @param capacity maximum number of pending items; an integer >= 1. */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`SendQueue capacity must be an integer >= 1, got ${capacity}`);
    }
    this.#slots = new Array<T | undefined>(capacity).fill(undefined);
  }

  /** Appends; if the queue was full the oldest item is removed, counted in `dropped`, and returned. */
  push(item: T): T | undefined {
    const capacity = this.#slots.length;
    if (this.#length < capacity) {
      this.#slots[(this.#head + this.#length) % capacity] = item;
      this.#length += 1;
      return undefined;
    }
    // Full: the oldest slot becomes the newest one.
    const evicted = this.#slots[this.#head] as T;
    this.#slots[this.#head] = item;
    this.#head = (this.#head + 1) % capacity;
    this.#dropped += 1;
    return evicted;
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#slots[this.#head] as T;
    this.#slots[this.#head] = undefined; // release the reference (frames are large)
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#length -= 1;
    return item;
  }

  /** The oldest item without removing it, or undefined when empty. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  get length(): number {
    return this.#length;
  }

  get capacity(): number {
    return this.#slots.length;
  }

  /** Total items evicted by `push` since creation. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Removes all items and returns how many were removed (NOT counted as dropped). */
  clear(): number {
    const removed = this.#length;
    this.#slots.fill(undefined);
    this.#head = 0;
    this.#length = 0;
    return removed;
  }
}
