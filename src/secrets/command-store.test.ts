import { describe, expect, test } from "bun:test";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, OperationError } from "../errors.ts";
import { loadSecrets } from "./store.ts";

const environ = { PATH: process.env.PATH };
const cfg = (command: string[], root = "/") => ({ root, env: "prod", secrets: { store: "command" as const, command } });

describe("command store", () => {
  test("parses what the command prints, argv without a shell", async () => {
    const out = await loadSecrets(cfg(["printf", 'A=1\\nB=two words\\nC="x\\\\ny"\\n# c\\n', "$HOME"]), { environ });
    expect(out).toEqual({ A: "1", B: "two words", C: "x\ny" });
  });

  test("runs in the deploy.toml folder with the given environment", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "qdeploy-cmd-test-")));
    try {
      const out = await loadSecrets(cfg(["sh", "-c", 'echo "DIR=$(pwd)"; echo "TOKEN=$VAULT_TOKEN"'], root), {
        environ: { ...environ, VAULT_TOKEN: "from-env" },
      });
      expect(out).toEqual({ DIR: root, TOKEN: "from-env" });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("a failure shows the exit code and stderr's tail, never stdout", async () => {
    const script = 'echo "A=topsecretvalue"; for i in $(seq 1 20); do echo "err $i" >&2; done; echo "leak topsecretvalue" >&2; exit 3';
    const err = await loadSecrets(cfg(["sh", "-c", script]), { environ }).catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toContain("secrets.command (sh) exited with 3");
    expect(err.message).toContain("err 20");
    expect(err.message).not.toContain("err 5\n");
    expect(err.message).toContain("leak [redacted]");
    expect(err.message).not.toContain("topsecretvalue");
  });

  test("a bad line is reported by number only", async () => {
    const err = await loadSecrets(cfg(["printf", "A=1\\nthisisthesecret\\nB=2\\n"]), { environ }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("output of secrets.command (printf):2: expected KEY=VALUE");
  });

  test("a command that does not exist", async () => {
    const err = await loadSecrets(cfg(["qdeploy-no-such-tool", "x"]), { environ }).catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toContain('cannot run "qdeploy-no-such-tool"');
  });

  test("a command that gives no answer within timeoutMs is killed with what it started, and is an error", async () => {
    const root = await realpath(await mkdtemp(join(tmpdir(), "qdeploy-cmd-test-")));
    try {
      const started = Date.now();
      // The background sleep holds the pipes open: the error must not wait for it.
      const err = await loadSecrets(cfg(["sh", "-c", "sleep 3 & echo $! > child.pid; sleep 3; echo A=1"], root), { environ, timeoutMs: 200 }).catch((e) => e);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.message).toBe("secrets.command (sh) gave no answer within 0.2 s: stopped; run it yourself to see where it waits");
      expect(Date.now() - started).toBeLessThan(1500);
      const child = (await Bun.file(join(root, "child.pid")).text()).trim();
      // Gone, or a zombie waiting for its reaper: not running.
      const running = async () => (await Bun.file(`/proc/${child}/stat`).text().catch(() => "")).split(" ")[2] ?? "";
      for (let i = 0; i < 20 && !["", "Z"].includes(await running()); i++) await Bun.sleep(50);
      expect(["", "Z"]).toContain(await running());
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("an empty command is a config error", async () => {
    await expect(loadSecrets(cfg([]), { environ })).rejects.toBeInstanceOf(ConfigError);
  });
});

test("secrets.command does not inherit QDEPLOY_AGE_KEY (qdeploy's own key is not the command's business)", async () => {
  const out = await loadSecrets(cfg(["sh", "-c", 'echo "SEEN=${QDEPLOY_AGE_KEY:-none}"; echo "OTHER=$SOPS_AGE_KEY"']), {
    environ: { ...environ, QDEPLOY_AGE_KEY: "AGE-SECRET-KEY-1QDEPLOYS", SOPS_AGE_KEY: "AGE-SECRET-KEY-1SOPSOWN" },
  });
  // sops and friends keep their own key variables; only qdeploy's is withheld.
  expect(out).toEqual({ SEEN: "none", OTHER: "AGE-SECRET-KEY-1SOPSOWN" });
});
