import { afterAll } from "vitest";

// Objects keep working briefly after a test's last assertion (idle-close timers, close handlers)
// and log when they do; let that finish before the pool tears the runtime down.
afterAll(() => new Promise((resolve) => setTimeout(resolve, 600)));
