/**
 * `npm start` (scripts/dev-plan.mjs): on loopback it starts development mode with open auth for this
 * machine; bound to an address other machines reach, it passes the secrets that end open auth and
 * says that auth is required (docs/DESIGN.md §6).
 */
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { devPlan, devVarNames, isLoopbackBind } from "../../scripts/dev-plan.mjs";

type Plan = { args: string[]; banner: string; authRequired: boolean; generated: Record<string, string> };
const plan = (env: Record<string, string>, devVarsText: string | null = null): Plan =>
  devPlan({ env, devVarsText, secret: () => "generated-secret-0123456789abcdef" });
const vars = (p: Plan) => p.args.flatMap((arg, i) => (p.args[i - 1] === "--var" ? [arg.split(":")[0]] : []));

describe("npm start", () => {
  it("on loopback: development mode, no secrets passed, open auth for this machine only", () => {
    for (const host of [undefined, "127.0.0.1", "localhost", "::1", "127.0.0.2"]) {
      const p = plan(host === undefined ? {} : { HOST: host });
      expect(p.authRequired, String(host)).toBe(false);
      expect(vars(p)).toEqual(["DEV_MODE"]);
      expect(p.banner).toContain("open to this machine only");
      expect(p.banner).not.toContain("AUTH REQUIRED");
    }
    expect(plan({}).args.slice(0, 5)).toEqual(["dev", "--ip", "127.0.0.1", "--port", "8787"]);
  });

  it("on a LAN address: passes CONNECT_TOKEN_SECRET and ADMIN_API_KEY and says auth is required", () => {
    for (const host of ["0.0.0.0", "192.0.2.2", "::"]) {
      const p = plan({ HOST: host, PORT: "8790" });
      expect(p.authRequired, host).toBe(true);
      expect(vars(p)).toEqual(["DEV_MODE", "CONNECT_TOKEN_SECRET", "ADMIN_API_KEY"]);
      expect(p.banner).toContain("AUTH REQUIRED");
      expect(p.banner).toContain("generated-secret-0123456789abcdef (generated for this run");
      expect(p.args).toContain(`ADMIN_API_KEY:${p.generated.ADMIN_API_KEY}`);
    }
  });

  it("keeps the developer's own secrets: from the environment (passed on) or .dev.vars (wrangler reads it)", () => {
    const fromEnv = plan({ HOST: "0.0.0.0", ADMIN_API_KEY: "my-admin-key-0123456789" });
    expect(fromEnv.args).toContain("ADMIN_API_KEY:my-admin-key-0123456789");
    expect(fromEnv.generated).toEqual({ CONNECT_TOKEN_SECRET: "generated-secret-0123456789abcdef" });
    expect(fromEnv.banner).toContain("the ADMIN_API_KEY of the environment");
    expect(fromEnv.banner).not.toContain("my-admin-key");
    const fromFile = plan({ HOST: "0.0.0.0" }, "CONNECT_TOKEN_SECRET=file-secret-0123456789\nADMIN_API_KEY = 'file-admin-0123456789'\n");
    expect(vars(fromFile)).toEqual(["DEV_MODE"]);
    expect(fromFile.banner).toContain("the ADMIN_API_KEY of .dev.vars");
  });

  it("reads .dev.vars names and tells loopback binds apart", () => {
    expect([...devVarNames("# c\nA=1\nexport B=x\nEMPTY=\nQUOTED=''\n C = y z\n")]).toEqual(["A", "B", "C"]);
    expect(["0.0.0.0", "192.168.1.2", "::", "10.0.0.1", "example.com"].filter(isLoopbackBind)).toEqual([]);
  });
});
