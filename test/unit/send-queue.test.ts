import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SendQueue } from "../../src/upstream/send-queue";

describe("SendQueue", () => {
  it("is FIFO", () => {
    const q = new SendQueue<string>(4);
    expect(q.push("a")).toBeUndefined();
    expect(q.push("b")).toBeUndefined();
    expect(q.peek()).toBe("a");
    expect(q.shift()).toBe("a");
    q.push("c");
    expect([q.shift(), q.shift(), q.shift()]).toEqual(["b", "c", undefined]);
    expect(q.peek()).toBeUndefined();
    expect(q.length).toBe(0);
  });

  it("keeps the newest 16 of 20 pushes and counts the 4 oldest as dropped", () => {
    const q = new SendQueue<number>(16);
    const returned: Array<number | undefined> = [];
    for (let i = 1; i <= 20; i++) returned.push(q.push(i));
    expect(returned).toEqual([...Array<undefined>(16).fill(undefined), 1, 2, 3, 4]);
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
    expect(q.push("a")).toBeUndefined();
    expect(q.push("b")).toBe("a");
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
              const expected = model.length > capacity ? model.shift() : undefined;
              if (expected !== undefined) dropped++;
              expect(q.push(op.value)).toBe(expected);
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
});
