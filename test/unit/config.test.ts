/**
 * Deployment configuration (docs/DESIGN.md §4 defaults, §6 fail-closed secrets, §9 simulator only
 * without a key). parseConfig caches per vars object, so every test passes a fresh object.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, SIMULATOR_API_KEY, upgradeUrl, type ConfigVars } from "../../src/config/config";
import { DEFAULT_DATASPIKE_WS_URL } from "../../src/config/limits";

const PRODUCTION: ConfigVars = {
  DATASPIKE_API_KEY: "ds_live_key",
  CONNECT_TOKEN_SECRET: "0123456789abcdef0123",
  ADMIN_API_KEY: "admin-key-0123456789",
};

/** Returns the ConfigError parseConfig throws (failing the test if it returns or throws anything else). */
function configError(vars: ConfigVars): ConfigError {
  try {
    parseConfig({ ...vars });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig defaults (docs/DESIGN.md §4)", () => {
  it("match the design table", () => {
    const config = parseConfig({ ...PRODUCTION });
    expect(config.video.normalFps).toBe(0.2);
    expect(config.video.burstFps).toBe(1.0);
    expect(config.video.jpegQuality).toBe(75);
    expect(config.queue.maxItems).toBe(16);
    expect(config.reconnect).toEqual({ initialMs: 1000, maxMs: 10_000, jitterRatio: 0.5 });
    expect(config.dataspikeWsUrl).toBe("wss://api.dataspike.io/api/v4/deepfake/stream");
    expect(DEFAULT_DATASPIKE_WS_URL).toBe("wss://api.dataspike.io/api/v4/deepfake/stream");
  });

  it("empty or blank vars count as unset", () => {
    const config = parseConfig({ ...PRODUCTION, VIDEO_NORMAL_FPS: "", QUEUE_MAX_ITEMS: "  ", DATASPIKE_WS_URL: " " });
    expect(config.video.normalFps).toBe(0.2);
    expect(config.queue.maxItems).toBe(16);
    expect(config.dataspikeWsUrl).toBe(DEFAULT_DATASPIKE_WS_URL);
  });

  it("vars override the defaults", () => {
    const config = parseConfig({
      ...PRODUCTION,
      VIDEO_NORMAL_FPS: "0.5",
      VIDEO_BURST_FPS: "2",
      VIDEO_JPEG_QUALITY: "90",
      QUEUE_MAX_ITEMS: "4",
      RECONNECT_INITIAL_MS: "500",
      RECONNECT_MAX_MS: "30000",
      RECONNECT_JITTER_RATIO: "0",
      DATASPIKE_WS_URL: "ws://127.0.0.1:9000/stream",
    });
    expect(config.video).toMatchObject({ normalFps: 0.5, burstFps: 2, jpegQuality: 90 });
    expect(config.queue.maxItems).toBe(4);
    expect(config.reconnect).toEqual({ initialMs: 500, maxMs: 30_000, jitterRatio: 0 });
    expect(config.dataspikeWsUrl).toBe("ws://127.0.0.1:9000/stream");
  });

  it("fps 0 (video disabled) is valid", () => {
    expect(parseConfig({ ...PRODUCTION, VIDEO_NORMAL_FPS: "0" }).video.normalFps).toBe(0);
  });
});

describe("parseConfig secrets and modes", () => {
  it("production (DEV_MODE unset) fails closed naming every missing secret", () => {
    const err = configError({});
    expect(err.problems).toHaveLength(3);
    expect(err.message).toContain("DATASPIKE_API_KEY");
    expect(err.message).toContain("CONNECT_TOKEN_SECRET");
    expect(err.message).toContain("ADMIN_API_KEY");
  });

  it.each(["DATASPIKE_API_KEY", "CONNECT_TOKEN_SECRET", "ADMIN_API_KEY"] as const)("production without %s throws naming only it", (name) => {
    for (const value of [undefined, "", "   "]) {
      const err = configError({ ...PRODUCTION, [name]: value });
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]).toContain(name);
    }
  });

  it('DEV_MODE="false" is production too', () => {
    expect(configError({ DEV_MODE: "false" }).problems).toHaveLength(3);
  });

  it("production with every secret is not simulated", () => {
    const config = parseConfig({ ...PRODUCTION });
    expect(config).toMatchObject({ devMode: false, simulated: false, dataspikeApiKey: "ds_live_key", adminApiKey: "admin-key-0123456789" });
  });

  it("DEV_MODE=true without a key runs the simulator, with its own fixed key", () => {
    for (const DEV_MODE of ["true", "TRUE", " true "]) {
      const config = parseConfig({ DEV_MODE });
      expect(config).toMatchObject({ devMode: true, simulated: true, dataspikeApiKey: SIMULATOR_API_KEY });
      expect(config.connectTokenSecret).toBeNull();
      expect(config.adminApiKey).toBeNull();
    }
    expect(parseConfig({ DEV_MODE: "true", DATASPIKE_API_KEY: "  " }).simulated).toBe(true);
  });

  it("with a key the simulator never runs, even in DEV_MODE", () => {
    const config = parseConfig({ DEV_MODE: "true", DATASPIKE_API_KEY: " ds_test_key " });
    expect(config).toMatchObject({ devMode: true, simulated: false, dataspikeApiKey: "ds_test_key" });
  });

  it("rejects a DEV_MODE that is neither true nor false", () => {
    const err = configError({ ...PRODUCTION, DEV_MODE: "yes" });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain("DEV_MODE");
  });

  it("rejects a connect token secret shorter than 16 characters, even in DEV_MODE", () => {
    expect(configError({ ...PRODUCTION, CONNECT_TOKEN_SECRET: "short" }).problems[0]).toContain("CONNECT_TOKEN_SECRET");
    expect(configError({ DEV_MODE: "true", CONNECT_TOKEN_SECRET: "0123456789abcde" }).problems[0]).toContain("at least 16");
    expect(parseConfig({ DEV_MODE: "true", CONNECT_TOKEN_SECRET: "0123456789abcdef" }).connectTokenSecret).toBe("0123456789abcdef");
  });

  it("rejects an admin key (or the previous one) shorter than 16 characters, in every mode, without echoing it", () => {
    for (const vars of [
      { ...PRODUCTION, ADMIN_API_KEY: "admin-key-01234" },
      { DEV_MODE: "true", ADMIN_API_KEY: "admin-key-01234" },
      { ...PRODUCTION, ADMIN_API_KEY_PREVIOUS: "admin-key-01234" },
    ] as ConfigVars[]) {
      const problems = configError(vars).problems;
      expect(problems).toEqual([expect.stringMatching(/^ADMIN_API_KEY(_PREVIOUS)? must be at least 16 characters$/)]);
      expect(problems.join(" ")).not.toContain("admin-key-01234");
    }
    expect(parseConfig({ ...PRODUCTION, ADMIN_API_KEY: "admin-key-0123456" }).adminApiKey).toBe("admin-key-0123456");
  });

  it("rejects a DATASPIKE_WS_URL that is not a ws(s) or http(s) URL", () => {
    for (const url of ["not a url", "ftp://api.dataspike.io/x", "api.dataspike.io/stream"]) {
      const err = configError({ ...PRODUCTION, DATASPIKE_WS_URL: url });
      expect(err.problems).toHaveLength(1);
      expect(err.problems[0]).toContain("DATASPIKE_WS_URL");
    }
  });
});

describe("problems name settings, never their values (/healthz is public)", () => {
  it("bad numbers, URLs, DEV_MODE and webhook settings are named without echoing what they hold", () => {
    const secretish = "sekrit-value-7f3a";
    const err = configError({
      ...PRODUCTION,
      DEV_MODE: secretish,
      DATASPIKE_WS_URL: `ftp://${secretish}`,
      VIDEO_NORMAL_FPS: secretish,
      QUEUE_MAX_ITEMS: `${secretish}9`,
      WEBHOOK_URLS: `https://hooks.example.com/${secretish}, notaurl-${secretish}`,
      WEBHOOK_RETRY_SCHEDULE: `5s,${secretish}`,
      WEBHOOK_TIMEOUT_MS: secretish,
    });
    const text = err.problems.join("\n");
    for (const name of ["DEV_MODE", "DATASPIKE_WS_URL", "VIDEO_NORMAL_FPS", "QUEUE_MAX_ITEMS", "WEBHOOK_URLS"]) expect(text).toContain(name);
    expect(text).not.toContain(secretish);
    expect(err.message).not.toContain(secretish);
  });

  it("a short CONNECT_TOKEN_SECRET or a bad WEBHOOK_SECRET is named, never shown", () => {
    const err = configError({ ...PRODUCTION, CONNECT_TOKEN_SECRET: "short-s3cr3t", WEBHOOK_URLS: "https://h.example.com/x", WEBHOOK_SECRET: "whsec_c2hvcnQ=" });
    expect(err.message).toContain("CONNECT_TOKEN_SECRET");
    expect(err.message).toContain("WEBHOOK_SECRET");
    expect(err.message).not.toContain("short-s3cr3t");
    expect(err.message).not.toContain("c2hvcnQ=");
  });

  it("CONNECT_TOKEN_SECRET_PREVIOUS verifies only next to a current secret, and must be as long", () => {
    expect(parseConfig({ ...PRODUCTION, CONNECT_TOKEN_SECRET_PREVIOUS: "previous-secret-0123" }).connectTokenSecretPrevious).toBe("previous-secret-0123");
    expect(configError({ ...PRODUCTION, CONNECT_TOKEN_SECRET_PREVIOUS: "short" }).problems[0]).toContain("CONNECT_TOKEN_SECRET_PREVIOUS");
    expect(configError({ DEV_MODE: "true", CONNECT_TOKEN_SECRET_PREVIOUS: "previous-secret-0123" }).problems[0]).toContain("without CONNECT_TOKEN_SECRET");
  });

  it("secretsConfigured is true as soon as any secret is set", () => {
    expect(parseConfig({ DEV_MODE: "true" }).secretsConfigured).toBe(false);
    expect(parseConfig({ DEV_MODE: "true", DATASPIKE_API_KEY: "k" }).secretsConfigured).toBe(true);
    expect(parseConfig({ DEV_MODE: "true", ADMIN_API_KEY: "admin-key-0123456789" }).secretsConfigured).toBe(true);
    expect(parseConfig({ ...PRODUCTION }).secretsConfigured).toBe(true);
  });
});

describe("parseConfig invalid numbers", () => {
  it.each([
    ["VIDEO_NORMAL_FPS", "abc"],
    ["VIDEO_NORMAL_FPS", "-1"],
    ["VIDEO_NORMAL_FPS", "NaN"],
    ["VIDEO_BURST_FPS", "Infinity"],
    ["VIDEO_BURST_FPS", "31"],
    ["VIDEO_JPEG_QUALITY", "101"],
    ["VIDEO_JPEG_QUALITY", "75.5"],
    ["QUEUE_MAX_ITEMS", "0"],
    ["QUEUE_MAX_ITEMS", "1.5"],
    ["QUEUE_MAX_ITEMS", "16 items"],
    ["RECONNECT_INITIAL_MS", "0"],
    ["RECONNECT_JITTER_RATIO", "1.5"],
    ["UPSTREAM_IDLE_CLOSE_MS", "-5"],
  ] as const)("%s=%j is rejected with a message naming the var, never its value", (name, value) => {
    const err = configError({ ...PRODUCTION, [name]: value });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain(name);
    expect(err.problems[0]).not.toContain(JSON.stringify(value));
    expect(err.message).toContain(err.problems[0]);
  });

  it("RECONNECT_MAX_MS below the initial delay is rejected", () => {
    const err = configError({ ...PRODUCTION, RECONNECT_MAX_MS: "500" });
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain("RECONNECT_MAX_MS");
    expect(err.problems[0]).toContain("RECONNECT_INITIAL_MS");
    expect(configError({ ...PRODUCTION, RECONNECT_INITIAL_MS: "20000" }).problems[0]).toContain("RECONNECT_MAX_MS");
    expect(parseConfig({ ...PRODUCTION, RECONNECT_INITIAL_MS: "10000" }).reconnect).toMatchObject({ initialMs: 10_000, maxMs: 10_000 });
  });

  it("every problem is reported at once", () => {
    const err = configError({ VIDEO_NORMAL_FPS: "abc", QUEUE_MAX_ITEMS: "0" });
    expect(err.problems).toHaveLength(5);
    for (const name of ["DATASPIKE_API_KEY", "CONNECT_TOKEN_SECRET", "ADMIN_API_KEY", "VIDEO_NORMAL_FPS", "QUEUE_MAX_ITEMS"]) {
      expect(err.message).toContain(name);
    }
  });

  it("a failed parse is not cached: fixing the vars object makes it parse", () => {
    const vars: ConfigVars = { ...PRODUCTION, QUEUE_MAX_ITEMS: "0" };
    expect(() => parseConfig(vars)).toThrow(ConfigError);
    vars.QUEUE_MAX_ITEMS = "8";
    expect(parseConfig(vars).queue.maxItems).toBe(8);
  });
});

describe("upgradeUrl", () => {
  it("maps wss to https and ws to http, keeping host, path and query", () => {
    expect(upgradeUrl("wss://api.dataspike.io/api/v4/deepfake/stream")).toBe("https://api.dataspike.io/api/v4/deepfake/stream");
    expect(upgradeUrl("ws://127.0.0.1:8787/sim?x=ws://y")).toBe("http://127.0.0.1:8787/sim?x=ws://y");
  });

  it("leaves http(s) URLs alone", () => {
    expect(upgradeUrl("https://api.dataspike.io/x")).toBe("https://api.dataspike.io/x");
    expect(upgradeUrl("http://localhost/x")).toBe("http://localhost/x");
  });

  it("handles upper-case schemes (schemes are case-insensitive)", () => {
    expect(new URL(upgradeUrl("WSS://api.dataspike.io/x")).protocol).toBe("https:");
    expect(new URL(upgradeUrl("Ws://api.dataspike.io/x")).protocol).toBe("http:");
  });
});
