/**
 * One alarm for many deadlines (docs/DESIGN.md §16.5): each part of the object contributes its next
 * deadline and handles its own; the registry arms the single physical alarm to the earliest.
 * Pure: the alarm is injected, so it tests in Node.
 */

export interface DeadlinePart {
  readonly name: string;
  /** When this part next needs the alarm (ms since epoch), or null. */
  nextDeadline(nowMs: number): number | null;
  /**
   * Brings a stored deadline up to date before the alarm is armed (retention starts counting when
   * the session goes idle). Optional; nextDeadline itself only reads.
   */
  refresh?(nowMs: number): void;
  /** The alarm fired at or after this part's deadline. */
  onDeadline(nowMs: number): Promise<void> | void;
}

export interface PhysicalAlarm {
  set(atMs: number): void;
  clear(): void;
}

export class DeadlineRegistry {
  constructor(
    private readonly parts: readonly DeadlinePart[],
    private readonly alarm: PhysicalAlarm,
    private readonly onError: (part: string, err: unknown) => void,
  ) {}

  /** The earliest deadline of any part, or null. */
  next(nowMs: number): number | null {
    let earliest: number | null = null;
    for (const part of this.parts) {
      const at = part.nextDeadline(nowMs);
      if (at !== null && (earliest === null || at < earliest)) earliest = at;
    }
    return earliest;
  }

  /** Lets the parts update their stored deadlines, then arms the physical alarm to the earliest (or clears it). */
  arm(nowMs: number): void {
    for (const part of this.parts) part.refresh?.(nowMs);
    const at = this.next(nowMs);
    if (at === null) this.alarm.clear();
    else this.alarm.set(at);
  }

  /** Runs every part that is due, each isolated from the others' failures, then re-arms. */
  async fire(nowMs: number): Promise<void> {
    for (const part of this.parts) {
      const at = part.nextDeadline(nowMs);
      if (at === null || at > nowMs) continue;
      try {
        await part.onDeadline(nowMs);
      } catch (err) {
        this.onError(part.name, err);
      }
    }
  }
}
