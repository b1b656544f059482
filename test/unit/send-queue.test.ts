import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SendQueue } from "../../src/upstream/send-queue";

describe("SendQueue", () => {
  it("is FIFO", () => {
    const q = new SendQueue<string>(4);
    expect(q.push("a")).toEqual([]);
    expect(q.push("b")).toEqual([]);
    expect(q.peek()).toBe("a");
    expect(q.shift()).toBe("a");
    q.push("c");
    expect([q.shift(), q.shift(), q.shift()]).toEqual(["b", "c", undefined]);
    expect(q.peek()).toBeUndefined();
    expect(q.length).toBe(0);
  });

  it("keeps the newest 16 of 20 pushes and counts the 4 oldest as dropped", () => {
    const q = new SendQueue<number>(16);
    const returned: number[] = [];
    for (let i = 1; i <= 20; i++) returned.push(...q.push(i));
    expect(returned).toEqual([1, 2, 3, 4]);
    expect(q.dropped).toBe(4);
    expect(q.length).toBe(16);
    expect(q.capacity).toBe(16);
    const drained: number[] = [];
    for (let item = q.shift(); item !== undefined; item = q.shift()) drained.push(item);
    expect(drained).toEqual(Array.from({ length: 16 }, (_, i) => i + 5));
  });

  it("clear empties the queue without counting drops", () => {
    const q = new SendQueue<number>(2);
    [1, 2, 3].forEach((n) => q.push(n));
    expect(q.dropped).toBe(1);
    expect(q.clear()).toBe(2);
    expect(q.length).toBe(0);
    expect(q.dropped).toBe(1);
    expect(q.shift()).toBeUndefined();
    q.push(9);
    expect(q.peek()).toBe(9);
  });

  it("works with capacity 1", () => {
    const q = new SendQueue<string>(1);
    expect(q.push("a")).toEqual([]);
    expect(q.push("b")).toEqual(["a"]);
    expect(q.shift()).toBe("b");
    expect(q.dropped).toBe(1);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("rejects capacity %s", (capacity) => {
    expect(() => new SendQueue(capacity)).toThrow(RangeError);
  });

  it("matches a plain-array model (property)", () => {
    type Op = { op: "push"; value: number } | { op: "shift" } | { op: "peek" } | { op: "clear" };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.integer().map((value): Op => ({ op: "push", value })) },
      { weight: 3, arbitrary: fc.constant<Op>({ op: "shift" }) },
      { weight: 1, arbitrary: fc.constant<Op>({ op: "peek" }) },
      { weight: 1, arbitrary: fc.constant<Op>({ op: "clear" }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(opArb, { maxLength: 200 }), (capacity, ops) => {
        const q = new SendQueue<number>(capacity);
        const model: number[] = [];
        let dropped = 0;
        for (const op of ops) {
          switch (op.op) {
            case "push": {
              model.push(op.value);
              const expected = model.length > capacity ? [model.shift()] : [];
              dropped += expected.length;
              expect(q.push(op.value)).toEqual(expected);
              break;
            }
            case "shift":
              expect(q.shift()).toBe(model.shift());
              break;
            case "peek":
              expect(q.peek()).toBe(model[0]);
              break;
            case "clear":
              expect(q.clear()).toBe(model.length);
              model.length = 0;
              break;
          }
          expect(q.length).toBe(model.length);
          expect(q.dropped).toBe(dropped);
        }
      }),
    );
  });

  it("is bounded by bytes as well as items: the oldest go until the new item fits", () => {
    const q = new SendQueue<Uint8Array>({ maxItems: 16, maxBytes: 1_000 });
    expect(q.push(new Uint8Array(400))).toEqual([]);
    expect(q.push(new Uint8Array(400))).toEqual([]);
    expect(q.bytes).toBe(800);
    const evicted = q.push(new Uint8Array(700));
    expect(evicted.map((b) => b.byteLength)).toEqual([400, 400]);
    expect(q.length).toBe(1);
    expect(q.bytes).toBe(700);
    expect(q.dropped).toBe(2);
  });

  it("refuses (and counts) an item larger than the byte bound, keeping what was queued", () => {
    const q = new SendQueue<Uint8Array>({ maxItems: 4, maxBytes: 100 });
    q.push(new Uint8Array(50));
    expect(q.push(new Uint8Array(101)).map((b) => b.byteLength)).toEqual([101]);
    expect(q.length).toBe(1);
    expect(q.bytes).toBe(50);
    expect(q.dropped).toBe(1);
  });

  it("drops items older than the max age from the head, counting them as stale", () => {
    const q = new SendQueue<string>({ maxItems: 8, maxAgeMs: 10_000 });
    q.push("t0", 0);
    q.push("t5", 5_000);
    q.push("t12", 12_000);
    expect(q.dropStale(10_000)).toEqual([]); // exactly max age: still fresh
    expect(q.dropStale(15_001)).toEqual(["t0", "t5"]);
    expect(q.droppedStale).toBe(2);
    expect(q.dropped).toBe(0);
    expect(q.shift()).toBe("t12");
  });

  it("never holds more than maxItems or maxBytes, and drops only the oldest (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 100 }),
        (maxItems, maxBytes, sizes) => {
          const q = new SendQueue<{ id: number; byteLength: number }>({ maxItems, maxBytes });
          const model: Array<{ id: number; byteLength: number }> = [];
          sizes.forEach((byteLength, id) => {
            const item = { id, byteLength };
            const evicted = q.push(item);
            if (byteLength > maxBytes) {
              expect(evicted).toEqual([item]);
              return;
            }
            model.push(item);
            const expected: typeof model = [];
            const total = () => model.reduce((sum, m) => sum + m.byteLength, 0);
            while (model.length > maxItems || total() > maxBytes) expected.push(model.shift()!);
            expect(evicted).toEqual(expected);
            expect(q.length).toBe(model.length);
            expect(q.bytes).toBe(total());
          });
        },
      ),
    );
  });
});
