/**
 * `qdeploy serve --install ENV`: runs `qdeploy serve` for real on the environment's first web
 * host (the one with Caddy), as the hardened unit of src/render/serve-unit.ts behind Caddy at
 * [serve].domain. Decide, then do: the host's facts (server/serve-facts.sh) and the local
 * project are read first, planServeInstall / planServeFinish turn them into steps (pure), and
 * installServe carries them out, so a second run changes only what changed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import { $ } from "zx";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { ConfigError, OperationError, RemoteError } from "../errors.ts";
import type { EventSink } from "../events.ts";
import type { Step } from "../plan/steps.ts";
import type { Remote } from "../remote/remote.ts";
import { formatBytes, runBatch } from "../remote/run-plan.ts";
import { renderBuildService, renderBuildSocket, renderServeSite, renderServeUnit, SERVE_HOST } from "../render/serve-unit.ts";
import { serveAuthorizeScript, serveFactsScript, serveSiteScript } from "../server-scripts.ts";

/** What the server's host has already (server/serve-facts.sh). */
export interface ServeHostFacts {
  arch: string;
  user: boolean;
  git: boolean;
  zstd: boolean;
  ageKeygen: boolean;
  caddy: boolean;
  /** /etc/caddy/Caddyfile is qdeploy's (imports the sites folder). */
  caddyfile: boolean;
  /** Where `go` is, or "" (pushes from the server need it). */
  go: string;
  exeSha: string;
  unitSha: string;
  siteSha: string;
  /** The build sandbox's socket and service units, and whether the socket listens. */
  buildSocketSha: string;
  buildServiceSha: string;
  buildActive: boolean;
  knownHostsSha: string;
  repo: boolean;
  head: string;
  origin: string;
  sshPub: string;
  ageRecipient: string;
  tokens: boolean;
  active: boolean;
}

/** Reads serve-facts.sh's `key=value` lines. */
export function parseServeFacts(text: string): ServeHostFacts {
  const kv = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) kv.set(line.slice(0, at), line.slice(at + 1));
  }
  const get = (k: string) => kv.get(k) ?? "";
  const on = (k: string) => get(k) === "1";
  if (!kv.has("arch")) throw new OperationError(`the server's host answered no facts: ${JSON.stringify(text.slice(0, 200))}`);
  return {
    arch: get("arch"),
    user: on("user"),
    git: on("git"),
    zstd: on("zstd"),
    ageKeygen: on("age_keygen"),
    caddy: on("caddy"),
    caddyfile: on("caddyfile"),
    go: get("go"),
    exeSha: get("exe_sha"),
    unitSha: get("unit_sha"),
    siteSha: get("site_sha"),
    buildSocketSha: get("build_socket_sha"),
    buildServiceSha: get("build_service_sha"),
    buildActive: on("build_active"),
    knownHostsSha: get("known_hosts_sha"),
    repo: on("repo"),
    head: get("head"),
    origin: get("origin"),
    sshPub: get("ssh_pub"),
    ageRecipient: get("age_recipient"),
    tokens: on("tokens"),
    active: on("active"),
  };
}

/** The local side of an install, read before anything is planned. */
export interface ServeInstallInput {
  app: string;
  env: string;
  domain: string;
  tls: "auto" | "internal";
  /** deploy.toml relative to the git repository's top (posix). */
  configInRepo: string;
  /** The commit the host's checkout is to have (local HEAD). */
  head: string;
  /** The URL of [serve] remote, which webhook deploys fetch from; null when the repo has none. */
  origin: string | null;
  executable: { local: string; sha256: string; size: number };
  /** A `git bundle` of HEAD, made only when the host lacks that commit. */
  bundle: string | null;
}

export interface ServeInstallPlan {
  /** The packages and the user, before anything is uploaded. */
  prepare: Step[];
  /** The executable (unless its sha256 is there) and the bundle (unless the commit is). */
  uploads: Extract<Step, { kind: "upload" }>[];
  /** The checkout, the server's ssh key and age identity. */
  apply: Step[];
  /** What the install changes, for the summary ("nothing" on a second run). */
  changes: string[];
  warnings: string[];
}

const H = SERVE_HOST;
const asUser = (...argv: string[]) => ["runuser", "-u", H.user, "--", "env", `HOME=${H.home}`, ...argv];
const git = (...args: string[]) => asUser("git", "-C", H.repo, ...args);

/** The host's install up to the keys (pure). */
export function planServeInstall(i: ServeInstallInput, f: ServeHostFacts): ServeInstallPlan {
  const prepare: Step[] = [];
  const apply: Step[] = [];
  const uploads: ServeInstallPlan["uploads"] = [];
  const changes: string[] = [];
  const warnings: string[] = [];
  if (!f.caddy) throw new OperationError("Caddy is not installed on the server's host; run `qdeploy setup " + i.env + "` first");
  if (!f.git) {
    // The checkout and the webhook's fetches need git; setup installs nftables the same way.
    prepare.push(
      { kind: "run", argv: ["apt-get", "update", "-q"], why: "refresh the package lists for git" },
      { kind: "run", argv: ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "git"], why: "install git (the server's checkout)" },
    );
    changes.push("installed git");
  }
  if (!f.user) {
    prepare.push({
      kind: "run",
      argv: ["useradd", "--system", "--user-group", "--home-dir", H.home, "--create-home", "--shell", "/usr/sbin/nologin", H.user],
      why: `create the system user ${H.user}`,
    });
    changes.push(`created user ${H.user}`);
  }
  prepare.push(
    { kind: "run", argv: ["install", "-d", "-m", "0700", "-o", H.user, "-g", H.user, H.home, `${H.home}/.ssh`, `${H.home}/.config`, `${H.home}/.config/qdeploy`], why: "the server's state folders" },
    { kind: "run", argv: ["install", "-d", "-m", "0755", path.posix.dirname(H.executable)], why: "the executable's folder" },
  );
  if (f.exeSha !== i.executable.sha256) {
    uploads.push({ kind: "upload", local: i.executable.local, remote: H.executable, sha256: i.executable.sha256, size: i.executable.size, why: "the qdeploy executable" });
    changes.push(`uploaded the executable (sha256 ${i.executable.sha256.slice(0, 12)})`);
  }
  if (f.head !== i.head) {
    if (!i.bundle) throw new Error("planServeInstall: the host lacks the commit, and no bundle was made");
    const size = statSync(i.bundle).size;
    const sha = createHash("sha256").update(readFileSync(i.bundle)).digest("hex");
    uploads.push({ kind: "upload", local: i.bundle, remote: H.bundle, sha256: sha, size, why: `a git bundle of ${i.head.slice(0, 12)}` });
    apply.push(
      { kind: "run", argv: ["chown", `${H.user}:${H.user}`, H.bundle], why: "the bundle, the server's" },
      ...(f.repo ? [] : [{ kind: "run" as const, argv: asUser("git", "init", "-q", H.repo), why: "the server's checkout" }]),
      { kind: "run", argv: git("fetch", "-q", H.bundle, "HEAD"), why: "fetch the bundle" },
      { kind: "run", argv: git("checkout", "-q", "--force", "--detach", i.head), why: `check out ${i.head.slice(0, 12)}` },
      { kind: "run", argv: ["rm", "-f", "--", H.bundle], why: "remove the bundle" },
    );
    changes.push(`checked out ${i.head.slice(0, 12)} in ${H.repo}`);
  }
  if (i.origin && f.origin !== i.origin) {
    apply.push({ kind: "run", argv: git("remote", f.origin ? "set-url" : "add", "origin", i.origin), why: "origin: where webhook deploys fetch" });
    changes.push(`origin set to ${i.origin}`);
  }
  if (!i.origin) warnings.push("this repository has no such remote: the server's checkout gets no origin, so webhook deploys cannot fetch new commits");
  if (!f.sshPub) {
    apply.push({
      kind: "run",
      argv: asUser("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `${H.user}@${i.app}`, "-f", `${H.home}/.ssh/id_ed25519`),
      why: "the server's ssh key (made here, never leaves the host)",
    });
    changes.push("made the server's ssh key");
  }
  if (!f.ageRecipient) {
    if (f.ageKeygen) {
      apply.push({ kind: "run", argv: asUser("age-keygen", "-o", `${H.home}/.config/qdeploy/age-identity.txt`), why: "the server's age identity (made here, never leaves the host)" });
      changes.push("made the server's age identity");
    } else {
      warnings.push(
        `age-keygen is not on the server's host, so it has no age identity for the secret store: install it (apt-get install age), then run this again, ` +
          `or make one yourself: runuser -u ${H.user} -- age-keygen -o ${H.home}/.config/qdeploy/age-identity.txt`,
      );
    }
  }
  if (!f.go) warnings.push("go is not installed on the server's host: the server cannot build, so API and webhook pushes from it fail (rollback, restart, status work); install Go (https://go.dev/dl/) in /usr/local/go");
  return { prepare, uploads, apply, changes, warnings };
}

/** A known_hosts line for a host as the server reaches it. */
export function knownHostsLine(address: string, port: number, hostKey: string): string {
  return `${port === 22 ? address : `[${address}]:${port}`} ${hostKey}`;
}

/** The rest once the keys are there: known_hosts, the unit, the site, (re)start (pure). */
export function planServeFinish(i: ServeInstallInput, f: ServeHostFacts, knownHosts: string[], changedBefore: boolean): { steps: Step[]; changes: string[] } {
  const steps: Step[] = [];
  const changes: string[] = [];
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");
  const known = knownHosts.length ? `${knownHosts.join("\n")}\n` : "";
  const knownChanged = known !== "" && sha(known) !== f.knownHostsSha;
  if (knownChanged) {
    steps.push(
      { kind: "write", path: `${H.home}/.ssh/known_hosts`, content: known, mode: 0o644, why: "the environment's host keys" },
      { kind: "run", argv: ["chown", `${H.user}:${H.user}`, `${H.home}/.ssh/known_hosts`], why: "known_hosts, the server's" },
    );
    changes.push("wrote the hosts' keys to the server's known_hosts");
  }
  // The build sandbox first: the server sends every received commit's build there.
  const socketUnit = renderBuildSocket();
  const buildUnit = renderBuildService();
  if (sha(socketUnit) !== f.buildSocketSha || sha(buildUnit) !== f.buildServiceSha || !f.buildActive) {
    steps.push(
      { kind: "write", path: H.buildSocketFile, content: socketUnit, mode: 0o644, why: H.buildSocket },
      { kind: "write", path: H.buildServiceFile, content: buildUnit, mode: 0o644, why: "the build unit each connection starts" },
      { kind: "run", argv: ["systemctl", "daemon-reload"], why: "systemd reads the units" },
      { kind: "run", argv: ["systemctl", "enable", "--quiet", H.buildSocket], why: "listen at boot" },
      { kind: "run", argv: ["systemctl", "restart", H.buildSocket], why: "listen now" },
    );
    changes.push(`the build sandbox listens on ${H.buildSocketPath} (${H.buildSocket}, qdeploy-build@.service)`);
  }
  const unit = renderServeUnit({ app: i.app, configFile: path.posix.join(H.repo, i.configInRepo) });
  const unitChanged = sha(unit) !== f.unitSha;
  if (unitChanged) {
    steps.push(
      { kind: "write", path: H.unitFile, content: unit, mode: 0o644, why: H.unit },
      { kind: "run", argv: ["systemctl", "daemon-reload"], why: "systemd reads the unit" },
      { kind: "run", argv: ["systemctl", "enable", "--quiet", H.unit], why: "start at boot" },
    );
    changes.push(`wrote ${H.unitFile}`);
  }
  if (changedBefore || knownChanged || unitChanged || !f.active) {
    steps.push(
      { kind: "run", argv: ["systemctl", "restart", H.unit], why: "(re)start the server" },
      // "started" means it answers: Caddy's first request (and the user's) must not get a 502.
      { kind: "run", argv: ["bash", "-c", WAIT_FOR_SERVER, "serve-wait", H.socket, H.unit], why: "wait until the server listens" },
    );
    changes.push(f.active ? "restarted the server" : "started the server");
  }
  const site = renderServeSite({ domain: i.domain, tls: i.tls });
  if (sha(site) !== f.siteSha) {
    steps.push(
      { kind: "write", path: `${H.site}.new`, content: site, mode: 0o644, why: "the server's Caddy site (validated before it is used)" },
      { kind: "run", argv: ["bash", "-c", serveSiteScript, "serve-site"], why: "caddy validate, then reload" },
    );
    changes.push(`Caddy serves ${i.domain}`);
  }
  return { steps, changes };
}

/**
 * Waits up to 60 s for the server's socket: it is made once the server listens, and a restart
 * removes the old one with its folder (RuntimeDirectory). Else fails with the journal's tail.
 */
export const WAIT_FOR_SERVER = `socket=$1 unit=$2
for _ in $(seq 1 120); do
  if [ -S "$socket" ]; then exit 0; fi
  sleep 0.5
done
echo "the server did not listen on $socket within 60s; its journal:" >&2
journalctl -u "$unit" -n 30 --no-pager >&2
exit 1`;

// ---- effects ----

/** `bun build --compile` targets by `uname -m`. */
export function bunTarget(unameM: string): string {
  const t = ({ x86_64: "bun-linux-x64", amd64: "bun-linux-x64", aarch64: "bun-linux-arm64", arm64: "bun-linux-arm64" } as Record<string, string>)[unameM.trim()];
  if (!t) throw new OperationError(`the server's host is ${JSON.stringify(unameM)}; qdeploy serve runs on x86_64 and aarch64 (Bun's linux targets)`);
  return t;
}

/** qdeploy's own checkout (src/, server/, ...), or null when this is a compiled qdeploy. */
const SOURCE_ROOT = path.resolve(import.meta.dir, "../..");

/**
 * The executable for the host: `bun build --compile` of src/cli.ts for its CPU, kept in
 * cacheDir under a key of every source file, Bun's version and the target, since Bun's
 * output differs from build to build and an unchanged qdeploy must not upload again. A
 * compiled qdeploy uploads itself (same CPU only).
 */
export async function serverExecutable(unameM: string, cacheDir: string, log: (l: string) => void): Promise<{ local: string; sha256: string; size: number }> {
  const target = bunTarget(unameM);
  let file: string;
  if (!existsSync(path.join(SOURCE_ROOT, "src/cli.ts"))) {
    const mine = process.arch === "arm64" ? "bun-linux-arm64" : "bun-linux-x64";
    if (mine !== target || process.platform !== "linux") throw new OperationError(`this qdeploy is a compiled ${process.platform} ${process.arch} program; install the server on a ${unameM} host from a qdeploy checkout (npm ci) instead`);
    file = process.execPath;
  } else {
    const key = await sourceKey(target);
    file = path.join(cacheDir, `qdeploy-${target}-${key.slice(0, 16)}`);
    if (!existsSync(file)) {
      mkdirSync(cacheDir, { recursive: true });
      log(`compiling qdeploy for ${target} (bun build --compile)`);
      const tmp = `${file}.tmp-${process.pid}`;
      const r = await $({ quiet: true, nothrow: true })`${process.execPath} build --compile --no-compile-autoload-dotenv --target=${target} ${path.join(SOURCE_ROOT, "src/cli.ts")} --outfile ${tmp}`;
      if (r.exitCode !== 0) throw new OperationError(`bun build --compile failed (exit ${r.exitCode}): ${r.stderr.trim().slice(-2000)}`);
      renameSync(tmp, file);
    }
  }
  const bytes = readFileSync(file);
  return { local: file, sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
}

/** A hash of what goes into the compiled qdeploy. */
async function sourceKey(target: string): Promise<string> {
  const h = createHash("sha256").update(`${Bun.version}\0${target}\0`);
  const files: string[] = [];
  for (const pattern of ["src/**/*", "server/**/*", "caddy/**/*", "systemd/**/*", "package-lock.json"]) {
    for await (const f of new Bun.Glob(pattern).scan({ cwd: SOURCE_ROOT, onlyFiles: true })) if (!f.endsWith(".test.ts")) files.push(f);
  }
  for (const f of files.sort()) h.update(`${f}\0`).update(readFileSync(path.join(SOURCE_ROOT, f))).update("\0");
  return h.digest("hex");
}

/** The git side of the project: its top, HEAD, the remote's URL, deploy.toml's place in it. */
export async function localProject(configFile: string, remote: string): Promise<{ top: string; head: string; origin: string | null; configInRepo: string }> {
  const dir = path.dirname(path.resolve(configFile));
  const g = $({ cwd: dir, quiet: true, nothrow: true });
  const top = await g`git rev-parse --show-toplevel`;
  if (top.exitCode !== 0) throw new OperationError(`${dir} is not in a git repository: serve --install sends the server a git bundle of HEAD`);
  const head = await g`git rev-parse --verify HEAD`;
  if (head.exitCode !== 0) throw new OperationError("the repository has no commit yet: commit deploy.toml and the app first");
  const origin = await g`git remote get-url ${remote}`;
  const configInRepo = path.relative(top.stdout.trim(), path.resolve(configFile)).split(path.sep).join("/");
  const tracked = await g`git ls-files --error-unmatch ${path.resolve(configFile)}`;
  if (tracked.exitCode !== 0) throw new OperationError(`${configFile} is not committed: the server runs from a checkout of HEAD`);
  return { top: top.stdout.trim(), head: head.stdout.trim(), origin: origin.exitCode === 0 ? origin.stdout.trim() : null, configInRepo };
}

/** Makes `git bundle create FILE HEAD` in the repository. */
export async function makeBundle(top: string, file: string): Promise<string> {
  const r = await $({ cwd: top, quiet: true, nothrow: true })`git bundle create -q ${file} HEAD`;
  if (r.exitCode !== 0) throw new OperationError(`git bundle create failed: ${r.stderr.trim()}`);
  return file;
}

/** The environment's first web host: with roles, the first of the web role; else the first host. */
export function serverHost(cfg: ResolvedConfig): HostAddress {
  const label = cfg.roles ? cfg.roles.web?.[0] : cfg.hosts[0]?.label;
  const host = cfg.hosts.find((h) => h.label === label);
  if (!host) throw new ConfigError([{ file: path.join(cfg.root, "deploy.toml"), path: `environments.${cfg.env}`, message: "serve --install needs a host that runs the web process (Caddy is there)" }]);
  return host;
}

/** Reads the server host's facts. */
export async function gatherServeFacts(remote: Remote): Promise<ServeHostFacts> {
  const r = await remote.exec(["bash", "-s"], { stdin: serveFactsScript });
  return parseServeFacts(r.stdout);
}

/** Adds the server's public key to a host's login user; returns the host's ed25519 key and whether it was added. */
export async function authorizeServer(remote: Remote, loginUser: string, publicKey: string): Promise<{ hostKey: string; added: boolean }> {
  const r = await remote.exec(["bash", "-c", serveAuthorizeScript, "serve-authorize", loginUser], { stdin: `${publicKey}\n`, check: false });
  if (r.code !== 0) throw new RemoteError(remote.label, `authorizing the server's key for ${loginUser} failed: ${r.stderr.trim() || `exit ${r.code}`}`, { code: r.code });
  return { hostKey: /^hostkey=(.*)$/m.exec(r.stdout)?.[1]?.trim() ?? "", added: /^authorized=added$/m.test(r.stdout) };
}

/** Reads back what the apply batch made: the server's ssh public key and age recipient. */
export async function readServerKeys(remote: Remote): Promise<{ sshPub: string; ageRecipient: string }> {
  const f = await gatherServeFacts(remote);
  return { sshPub: f.sshPub, ageRecipient: f.ageRecipient };
}

/** Runs the prepare batch, the uploads and the apply batch on the server's host. */
export async function runServeInstall(remote: Remote, plan: ServeInstallPlan, facts: ServeHostFacts, events: EventSink): Promise<void> {
  await runBatch(remote, plan.prepare, events);
  for (const u of plan.uploads) {
    events({ type: "host", host: remote.label, line: `uploading ${u.why} (${formatBytes(u.size)} raw)` });
    const t = performance.now();
    const r = await remote.upload(u.local, u.remote, { sha256: u.sha256, mode: u.remote === H.executable ? 0o755 : 0o600, compression: facts.zstd ? "zstd" : "gzip" });
    events({ type: "host", host: remote.label, line: `uploaded ${formatBytes(r.bytesSent)} in ${((performance.now() - t) / 1000).toFixed(1)}s` });
  }
  await runBatch(remote, plan.apply, events);
}

/** Makes the first deploy token on the host (as the server's user); returns it, shown once. */
export async function addFirstToken(remote: Remote, configInRepo: string): Promise<string> {
  const r = await remote.exec(
    asUser(`QDEPLOY_SERVE_TOKENS=${H.tokens}`, H.executable, "serve", "token", "add", "admin", "--role", "deploy", "--config", path.posix.join(H.repo, configInRepo)),
    { check: false },
  );
  const token = /qdp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}/.exec(r.stdout)?.[0];
  if (r.code !== 0 || !token) throw new RemoteError(remote.label, `qdeploy serve token add admin failed (exit ${r.code}): ${r.stderr.trim().slice(-500)}`, { code: r.code });
  return token;
}
