/**
 * One home for defaults (docs/DESIGN.md §16.8): every default lives in src/config/limits.ts, and
 * wrangler.toml's [vars] only changes some of them. A var there that parses to exactly what its
 * absence gives only repeats a default: it would silently keep the old value after the default
 * changes, so this test fails on it.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig, type ConfigVars } from "../../src/config/config";

const WRANGLER_TOML = new URL("../../wrangler.toml", import.meta.url);
// A valid secret, so that a WEBHOOK_URLS var parses; secrets never live in wrangler.toml.
const BASE: ConfigVars = { DEV_MODE: "true", WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" };

/** The [vars] table of a wrangler.toml: `NAME = "value"` (or a bare number or boolean) per line. */
function tomlVars(toml: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const raw of toml.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      inVars = line === "[vars]";
      continue;
    }
    if (!inVars || line === "" || line.startsWith("#")) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^#\s]+))/.exec(line);
    if (!match) throw new Error(`wrangler.toml [vars]: cannot read ${JSON.stringify(line)}`);
    vars[match[1]!] = match[2] ?? match[3]!;
  }
  return vars;
}

/** The parsed configuration, and the names parseConfig read from the vars. */
function parse(vars: ConfigVars): { config: string; read: Set<string> } {
  const read = new Set<string>();
  const proxy = new Proxy({ ...vars }, {
    get(target, key, receiver) {
      if (typeof key === "string") read.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { config: JSON.stringify(parseConfig(proxy)), read };
}

describe("wrangler.toml [vars]", () => {
  it("reads the [vars] table", () => {
    const toml = '[vars]\nA = "1"\n# comment\nB = 2\n\n[[migrations]]\nC = "no"\n';
    expect(tomlVars(toml)).toEqual({ A: "1", B: "2" });
  });

  it("no var only repeats the default of src/config/limits.ts", () => {
    const vars = tomlVars(readFileSync(WRANGLER_TOML, "utf8"));
    const defaults = parse(BASE);
    const repeating = Object.entries(vars)
      .filter(([name]) => defaults.read.has(name))
      .filter(([name, value]) => parse({ ...BASE, [name]: value }).config === defaults.config)
      .map(([name, value]) => `${name} = "${value}"`);
    expect(repeating, "these vars repeat a default: remove them from wrangler.toml").toEqual([]);
  });

  it("a var that repeats a default is caught, one that changes it is not", () => {
    const defaults = parse(BASE);
    expect(defaults.read.has("VIDEO_NORMAL_FPS")).toBe(true);
    expect(parse({ ...BASE, VIDEO_NORMAL_FPS: "0.2" }).config).toBe(defaults.config);
    expect(parse({ ...BASE, VIDEO_NORMAL_FPS: "0.5" }).config).not.toBe(defaults.config);
  });
});
