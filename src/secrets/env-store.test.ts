import { describe, expect, test } from "bun:test";
import { ConfigError, OperationError } from "../errors.ts";
import { loadSecrets } from "./store.ts";

const cfg = (names: string[]) => ({ root: "/nowhere", env: "prod", secrets: { store: "env" as const, names } });

describe("env store", () => {
  test("reads the listed names from the environment, nothing else", async () => {
    const environ = { DATABASE_URL: "postgres://x", API_KEY: "k-123", OTHER: "not listed" };
    expect(await loadSecrets(cfg(["DATABASE_URL", "API_KEY"]), { environ })).toEqual({
      DATABASE_URL: "postgres://x",
      API_KEY: "k-123",
    });
  });

  test("a missing or empty variable is an error naming it", async () => {
    const err = await loadSecrets(cfg(["A", "B", "C"]), { environ: { A: "value-a", B: "" } }).catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toContain("secrets B, C (listed in secrets.names) are not set or empty in the environment");
    expect(err.message).not.toContain("value-a");
  });

  test("reserved names are a config error", async () => {
    await expect(loadSecrets(cfg(["PORT"]), { environ: { PORT: "80" } })).rejects.toThrow(
      "deploy.toml secrets.names[0]: PORT is set by qdeploy",
    );
  });

  test("a value systemd would refuse from the env file is a config error naming the secret, not its value", async () => {
    const err = await loadSecrets(cfg(["OK", "API_KEY"]), { environ: { OK: "fine", API_KEY: "k-123\ufffe" } }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("the environment (secrets.names) API_KEY: contains U+FFFE, which systemd refuses");
  });

  test("no names, no secrets", async () => {
    expect(await loadSecrets(cfg([]), { environ: {} })).toEqual({});
  });
});
