/** The CLI as a user runs it: bin/qdeploy in a folder, exit codes and messages. */
import { describe, expect, test } from "bun:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { cpSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const REPO = path.resolve(import.meta.dir, "..");
const QDEPLOY = path.join(REPO, "bin/qdeploy");

function run(cwd: string, args: string[], env: Record<string, string> = {}) {
  const p = Bun.spawnSync([QDEPLOY, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...env } });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), "qdeploy-cli-"));
}

describe("qdeploy", () => {
  test("--help lists the commands; no command is a usage error", () => {
    const r = run(REPO, ["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["init", "check", "plan", "setup", "push", "rollback", "releases", "status", "logs", "restart", "exec", "secrets", "lock", "sandbox"]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, "m"));
    }
    expect(run(REPO, []).code).toBe(2);
    const bad = run(REPO, ["frobnicate"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: unknown command "frobnicate" (see qdeploy --help)\n');
  });

  test("the app folder's .env and .env.local are not read into qdeploy's environment (Bun would by default)", () => {
    const dir = tempDir();
    // FORCE_COLOR wins over the NO_COLOR run() sets: loaded, it would colour the error.
    writeFileSync(path.join(dir, ".env"), "FORCE_COLOR=1\n");
    writeFileSync(path.join(dir, ".env.local"), "FORCE_COLOR=1\n");
    expect(run(dir, ["frobnicate"]).stderr).toBe('error: unknown command "frobnicate" (see qdeploy --help)\n');
  });

  test("per-command help, help CMD, a typo's suggestion, strict flags and counts (exit 2)", () => {
    const help = run(REPO, ["push", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toStartWith("usage: qdeploy push ENV [OPTIONS]\n");
    expect(help.stdout).toContain("  qdeploy push prod --hosts web-1 --lock-wait 300\n");
    expect(run(REPO, ["help", "push"]).stdout).toBe(help.stdout);
    expect(run(REPO, ["pus", "sandbox"])).toEqual({ code: 2, stdout: "", stderr: 'error: unknown command "pus" (did you mean push?; see qdeploy --help)\n' });
    expect(run(REPO, ["plan", "sandbox", "extra"]).stderr).toBe('error: plan: unexpected argument "extra" (usage: qdeploy plan ENV)\n');
    expect(run(REPO, ["plan", "sandbox", "--follow"]).code).toBe(2);
    expect(run(REPO, ["logs", "sandbox", "-n", "abc"]).stderr).toBe('error: --lines must be a whole number of at least 1, not "abc"\n');
  });

  test("--version: qdeploy's, Bun's and Go's", () => {
    const r = run(REPO, ["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^qdeploy \d+\.\d+\.\d+ \(bun \d+\.\d+\.\d+; go \d+\.\d+(\.\d+)? \S+\/\S+\)\n$/);
    const j = JSON.parse(run(REPO, ["version", "--json"]).stdout);
    expect(j).toEqual({ qdeploy: JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")).version, bun: Bun.version, go: expect.stringMatching(/^go\d/) });
  });

  test("under --json an error is {ok:false,error} on stdout, with the same exit status", () => {
    const usage = run(REPO, ["push", "--json"]);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({ ok: false, error: { kind: "usage", message: "push: ENV is missing (usage: qdeploy push ENV)" } });
    const config = run(REPO, ["plan", "staging", "--json"]);
    expect(config.code).toBe(2);
    expect(JSON.parse(config.stdout).error.kind).toBe("config");
    // A failure past the config: the host's key file is not there (a fresh folder).
    const dir = tempDir();
    writeFileSync(path.join(dir, "deploy.toml"), readFileSync(path.join(REPO, "deploy.toml"), "utf8").replace("127.0.0.1:2222", "127.0.0.1:1"));
    const op = run(dir, ["status", "sandbox", "--json"]);
    expect(op.code).toBe(1);
    expect(JSON.parse(op.stdout)).toEqual({ ok: false, error: { kind: "operation", message: `root@127.0.0.1:1: ssh.identity ${path.join(realpathSync(dir), ".qdeploy/sandbox/id_ed25519")} does not exist` } });
    expect(op.stderr).toStartWith("error: root@127.0.0.1:1: ssh.identity ");
  });

  test("check passes the repository's deploy.toml", () => {
    const r = run(REPO, ["check"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("deploy.toml: ok (app hello; environments: sandbox, sandbox-fleet)\n");
    expect(r.code).toBe(0);
  });

  test("plan of the sandbox fleet: the waves; the worker host gets the worker and the job, no web unit, site or Caddy", () => {
    const r = run(REPO, ["plan", "sandbox-fleet"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("switch in waves: 1) root@127.0.0.1:2222  2) root@127.0.0.1:2223, root@127.0.0.1:2224\n");
    const worker = r.stdout.slice(r.stdout.indexOf("== root@127.0.0.1:2224"));
    const web = r.stdout.slice(r.stdout.indexOf("== root@127.0.0.1:2222"), r.stdout.indexOf("== root@127.0.0.1:2223"));
    expect(worker).toContain("units/hello-worker@.service");
    expect(worker).toContain("units/hello-job-cleanup.timer");
    expect(worker).not.toContain("hello-web@.service");
    expect(worker).not.toContain("site.caddy");
    expect(worker).not.toMatch(/install -y -q caddy|\/etc\/caddy|systemctl \S+ caddy/);
    expect(web).toContain("units/hello-web@.service");
    expect(web).toMatch(/install -y -q caddy/);
    expect(web).not.toContain("hello-worker@.service");
    expect(web).not.toContain("hello-job-cleanup");
  });

  test("check names every mistake with its line, exit 2, no stack trace", () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "deploy.toml"),
      [
        'app = "Hello"', //                      1: bad name
        "[processes]", //                        2
        'web = "hello serve"', //                3
        "[web]", //                              4
        "domains = []", //                       5: empty
        "health = 42", //                        6: not a string
        'drain = "soon"', //                     7: not a duration
        "[restart]", //                          8
        'at = "every tuesday"', //               9: not a calendar
        "[environments.prod]", //               10
        'hosts = ["root@host:99999"]', //       11: no such port
      ].join("\n"),
    );
    const r = run(dir, ["check"]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    for (const [line, key] of [[1, "app"], [5, "web.domains"], [6, "web.health"], [7, "web.drain"], [9, "restart.at"], [11, "environments.prod.hosts"]] as const) {
      expect(lines.some((l) => l.startsWith(`error: deploy.toml:${line} ${key}`))).toBe(true);
    }
    expect(r.stderr).not.toContain("    at ");
  });

  test("a TOML syntax error gives its line", () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "deploy.toml"), 'app = "x"\n[web\n');
    const r = run(dir, ["check"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: deploy\.toml:2: /);
  });

  test("plan shows the build, the units, the Caddy site and the steps, touching no server", () => {
    const r = run(REPO, ["plan", "sandbox", "--arch", "aarch64"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("plan: push hello to sandbox as release");
    expect(r.stdout).toContain("(linux/arm64; assumes fresh hosts, touches none)");
    expect(r.stdout).toMatch(/upload \S+ -> \/srv\/qdeploy\/hello\/blobs\/[0-9a-f]{64}/);
    expect(r.stdout).toContain("| [Service]");
    expect(r.stdout).toContain("| ExecStart=/srv/qdeploy/hello/slots/%i/bin/hello serve");
    expect(r.stdout).toContain("| hello.localhost {");
    expect(r.stdout).toContain("run    /srv/qdeploy/hello/switch activate");
    expect(r.stdout).toMatch(/variables: LOG_LEVEL, QDEPLOY_APP, QDEPLOY_ENV; values not shown/);
  }, 180_000); // a cold Go cache cross-compiles the standard library first

  test("plan of an unknown environment is a config error", () => {
    const r = run(REPO, ["plan", "staging"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no environment "staging"; defined: sandbox');
  });

  test("init writes a deploy.toml that check accepts, and refuses to overwrite it", () => {
    const dir = tempDir();
    cpSync(path.join(REPO, "examples/hello"), dir, { recursive: true });
    const r = run(dir, ["init"]);
    expect(r.code).toBe(0);
    const toml = readFileSync(path.join(dir, "deploy.toml"), "utf8");
    expect(toml).toStartWith("#:schema ");
    expect(toml).toContain('app = "hello"');
    expect(run(dir, ["check"]).code).toBe(0);
    const again = run(dir, ["init"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("exists");
  }, 30_000);

  test("secrets: the table's rows parse the words and print the operations' results, lines or --json; values never", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "deploy.toml"), ['app = "hello"', "[processes]", 'worker = "x"', "[secrets]", 'store = "age"', "[environments.prod]", 'hosts = ["root@192.0.2.1"]'].join("\n"));
    const env = { QDEPLOY_AGE_KEY: await generateIdentity(), XDG_CONFIG_HOME: path.join(dir, "config") };
    const bob = await identityToRecipient(await generateIdentity());
    const secrets = (...args: string[]) => run(dir, ["secrets", ...args], env);

    const set = secrets("set", "prod", "A=value-a", "B=value-b");
    expect(set.stdout).toBe("set A, B in prod (secrets/prod.env.age)\n");
    expect(set.stderr).toContain("warning: A, B: a value on the command line stays in your shell history");
    expect(secrets("list", "prod")).toMatchObject({ code: 0, stdout: "A\nB\n" });
    expect(JSON.parse(secrets("unset", "prod", "A", "C", "--json").stdout)).toEqual({ env: "prod", unset: ["A"], absent: ["C"], file: "secrets/prod.env.age" });
    expect(JSON.parse(secrets("recipients", "add", bob, "--json").stdout)).toEqual({
      ok: true,
      messages: [`added ${bob} to secrets/recipients.txt`, "re-encrypted secrets/prod.env.age to 2 recipients"],
    });
    expect(secrets("recipients", "list").stdout).toMatch(new RegExp(`^age1\\w+ \\(you\\)\n${bob}\n$`));
    const all = [set, secrets("list", "prod", "--json")].map((r) => r.stdout + r.stderr).join("");
    expect(all).not.toContain("value-");
    expect(secrets("set", "prod")).toEqual({ code: 2, stdout: "", stderr: "error: secrets set: KEY[=VALUE]... is missing (usage: qdeploy secrets set ENV KEY[=VALUE]...)\n" });
  }, 30_000);

  test("a failing go build prints go's own error and stops", () => {
    const dir = tempDir();
    cpSync(path.join(REPO, "examples/hello"), dir, { recursive: true });
    run(dir, ["init"]);
    writeFileSync(path.join(dir, "cmd/hello/broken.go"), "package main\nfunc broken() { undefinedThing() }\n");
    const r = run(dir, ["plan", "sandbox"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("go build failed for linux/amd64");
    expect(r.stderr).toMatch(/cmd\/hello\/broken\.go:2:\d+: undefined: undefinedThing/);
  }, 180_000);
});
