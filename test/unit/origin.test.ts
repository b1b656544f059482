/**
 * Which browser pages may open a socket (docs/DESIGN.md §6): the service's own origin and
 * ALLOWED_ORIGINS, in every mode; no Origin (servers) passes. And ALLOWED_ORIGINS's validation.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseAllowedOrigins, parseConfig } from "../../src/config/config";
import { checkSocketOrigin, originAllowed } from "../../src/router/origin";

const PRODUCTION = {
  DATASPIKE_API_KEY: "ds_key",
  CONNECT_TOKEN_SECRET: "unit-connect-token-secret-0123456789",
  ADMIN_API_KEY: "unit-admin-key-0123456789",
};
const socket = (url: string, origin?: string) =>
  new Request(url, { headers: { upgrade: "websocket", ...(origin === undefined ? {} : { origin }) } });

describe("socket origins", () => {
  const config = parseConfig({ ...PRODUCTION, ALLOWED_ORIGINS: "https://app.example.com, http://localhost:5173" });
  const url = "https://edge.example.com/v1/participants/alice/stream";

  it("accepts the own origin, an ALLOWED_ORIGINS entry and no Origin at all", () => {
    for (const origin of [undefined, "https://edge.example.com", "https://app.example.com", "http://localhost:5173"]) {
      expect(checkSocketOrigin(config, socket(url, origin)), String(origin)).toEqual({ ok: true });
    }
    // The own host reached through a TLS proxy in front of wrangler dev (which sees http).
    expect(originAllowed(config, socket("http://dev.example.net/v1/participants/a/stream", "https://dev.example.net"))).toBe(true);
  });

  it("refuses every other origin with 403 (0 accepted)", () => {
    const foreign = [
      "https://evil.example",
      "https://app.example.com.evil.example",
      "https://edge.example.com:8443",
      "http://localhost:5174",
      "https://sub.app.example.com",
      "null",
      "file://",
      "chrome-extension://abcdef",
      "",
      "not an origin",
    ];
    const accepted = foreign.filter((origin) => checkSocketOrigin(config, socket(url, origin)).ok);
    expect(accepted).toEqual([]);
    const refusal = checkSocketOrigin(config, socket(url, "https://evil.example"));
    expect(refusal).toMatchObject({ ok: false, status: 403, message: expect.stringContaining("ALLOWED_ORIGINS") });
  });

  it("applies in development mode too: a page elsewhere cannot reach the loopback service", () => {
    const dev = parseConfig({ DEV_MODE: "true" });
    const local = "http://127.0.0.1:8787/v1/participants/alice/stream";
    expect(originAllowed(dev, socket(local, "http://127.0.0.1:8787"))).toBe(true);
    expect(originAllowed(dev, socket(local))).toBe(true);
    for (const origin of ["https://evil.example", "http://localhost:8787", "http://127.0.0.1:3000"]) {
      expect(originAllowed(dev, socket(local, origin)), origin).toBe(false);
    }
  });
});

describe("ALLOWED_ORIGINS", () => {
  it("normalises entries as browsers send them and ignores empty ones", () => {
    const problems: string[] = [];
    const origins = parseAllowedOrigins(" https://App.Example.com/ ,http://localhost:5173,, https://x.test:443 ,", problems);
    expect(problems).toEqual([]);
    expect(origins).toEqual(["https://app.example.com", "http://localhost:5173", "https://x.test"]);
    expect(parseAllowedOrigins(undefined, problems)).toEqual([]);
    expect(parseConfig(PRODUCTION).allowedOrigins).toEqual([]);
  });

  it("refuses anything that is not a bare http(s) origin, naming the entry but not its value", () => {
    const bad = [
      "https://app.example.com/path",
      "https://app.example.com?x=1",
      "https://user:pw@app.example.com",
      "https://*.example.com",
      "*",
      "ftp://app.example.com",
      "app.example.com",
      "null",
    ];
    for (const entry of bad) {
      let error: unknown;
      try {
        parseConfig({ ...PRODUCTION, ALLOWED_ORIGINS: `https://ok.example, ${entry}` });
      } catch (err) {
        error = err;
      }
      expect(error, entry).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems, entry).toEqual([expect.stringMatching(/^ALLOWED_ORIGINS entry 2 must be an origin/)]);
      expect(problems.join(" "), entry).not.toContain(entry);
    }
  });
});
