import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "../test/tools.ts";
import { layout, layoutShell, processPlace, unitNames } from "./server-layout.ts";
import { renderCaddySite, SLOT_MATCHER } from "./render/caddy.ts";
import { helloConfig } from "../test/fixtures/config.ts";
import { processHardening } from "./render/units.ts";
import { factsText, lockText, switchScript, switchText, withLayout } from "./server-scripts.ts";

/** switch.sh's functions by name, their text in that order (a one-line `f() { …; }` or a block to its closing `}`), for bash to run alone. */
function switchFunctions(...names: string[]): string {
  return names.map((name) => new RegExp(`^${name}\\(\\) \\{(.*\\}\\n|\\n[\\s\\S]*?\\n\\}\\n)`, "m").exec(switchText)?.[0] ?? "").join("");
}

// `switch exec` runs the real switch script against a release laid out in a temp dir, with a
// stand-in systemd-run that prints where it was started and its argv (the VM suites run the
// real one).
let dir = "";
let bash = "";
beforeAll(() => {
  bash = requireTool("bash");
  dir = mkdtempSync(join(tmpdir(), "qdeploy-switch-exec-"));
  const root = join(dir, "hello");
  mkdirSync(join(root, "releases", "01", "app", "bin"), { recursive: true });
  mkdirSync(join(root, "releases", "02"), { recursive: true });
  // A release an older qdeploy pushed: its programs in bin/, no app/.
  mkdirSync(join(root, "releases", "03", "bin"), { recursive: true });
  writeFileSync(join(root, "switch"), withLayout(switchText, dir), { mode: 0o755 });
  mkdirSync(join(dir, "tools"));
  const probe = (who: string) => `#!/bin/sh\nprintf '%s\\n' "${who}" "$(pwd)" "$PATH" "$@"\n`;
  writeFileSync(join(dir, "tools", "systemd-run"), probe("systemd-run"), { mode: 0o755 });
  // A file of the app named like it must never be what the switch (root) runs.
  writeFileSync(join(root, "releases", "01", "app", "bin", "systemd-run"), probe("the app's"), { mode: 0o755 });
});
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

function exec(live: string, ...argv: string[]) {
  const root = join(dir, "hello");
  rmSync(join(root, "current"), { force: true });
  symlinkSync(`releases/${live}`, join(root, "current"));
  const r = Bun.spawnSync([bash, join(root, "switch"), "exec", ...argv], {
    env: { PATH: `${join(dir, "tools")}:/usr/bin:/bin` },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString().split("\n").slice(0, -1), err: r.stderr.toString() };
}

test("switch exec: CMD runs in the live release's app/, HOME there, its bin/ first on PATH, looked up there too, hardened as the process units are", () => {
  const rel = join(dir, "hello", "releases", "01");
  const place = processPlace(rel);
  expect(exec("01", "bin/console", "--env", "prod")).toEqual({
    code: 0,
    // systemd-run resolves CMD itself (with its PATH, from its directory) before the unit starts.
    out: [
      "systemd-run",
      place.workingDirectory,
      place.path,
      "--quiet",
      "--pipe",
      "--wait",
      "--collect",
      "--service-type=exec",
      // The process units' own identity and sandbox, every property of it (a console too).
      ...processHardening("hello").flatMap((p) => ["-p", p]),
      "-p",
      `EnvironmentFile=${rel}/env`,
      "-p",
      `WorkingDirectory=${place.workingDirectory}`,
      `--setenv=HOME=${place.home}`,
      `--setenv=PATH=${place.path}`,
      "--",
      "bin/console",
      "--env",
      "prod",
    ],
    err: "",
  });
});

test("switch exec: a release an older qdeploy pushed (bin/, no app/) runs as it did: the state dir, its bin/ on PATH", () => {
  const rel = join(dir, "hello", "releases", "03");
  const r = exec("03", "hello", "version");
  expect(r.code).toBe(0);
  expect(r.out).toContain("WorkingDirectory=/var/lib/hello");
  expect(r.out).toContain(`--setenv=PATH=${rel}/bin:/usr/local/bin:/usr/bin:/bin`);
});

test("switch exec: a release without app/ is refused, naming it", () => {
  expect(exec("02", "ls")).toEqual({ code: 1, out: [], err: `error: release 02 has no app directory (${join(dir, "hello", "releases", "02", "app")})\n` });
});

// `lock release` runs the real lock.sh against a lock directory in a temp dir (the script's
// /srv/qdeploy/APP, moved): the holder a push leaves, and pids that are no longer it.
describe("lock release", () => {
  let lockDir = "";
  let script = "";
  const spawned: Subprocess[] = [];
  beforeAll(() => {
    requireTool("flock");
    lockDir = mkdtempSync(join(tmpdir(), "qdeploy-lock-"));
    script = withLayout(lockText, lockDir);
  });
  afterAll(() => {
    for (const p of spawned) p.kill("SIGKILL");
    if (lockDir) rmSync(lockDir, { recursive: true, force: true });
  });
  const holder = () => join(lockDir, "hello", "lock.holder");
  const lock = (...args: string[]) => {
    const r = Bun.spawnSync([bash, "-c", script, "lock", "hello", ...args], { stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString() };
  };
  /** A process that is not the lock's holder, as a pid reused after the holder died would be. */
  const bystander = () => {
    const p = Bun.spawn(["sleep", "60"]);
    spawned.push(p);
    return p;
  };
  /** A push's holder: lock.sh hold on a pipe that stays open, once it says LOCKED. */
  const hold = async () => {
    const p = Bun.spawn([bash, "-c", script, "lock", "hello", "hold", "alice@laptop", "5"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    spawned.push(p);
    const reader = p.stdout.getReader();
    let seen = "";
    while (!seen.includes("LOCKED")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`lock.sh hold ended: ${seen}`);
      seen += new TextDecoder().decode(value);
    }
    return p;
  };
  /** Whether `p` is still running a moment later (a signal would have ended it by then). */
  const running = (p: Subprocess) => Promise.race([p.exited.then(() => false), Bun.sleep(200).then(() => true)]);

  test("a stale record (its holder was killed, the lock is free) is removed; the process that now has its pid is left alone", async () => {
    const other = bystander();
    mkdirSync(join(lockDir, "hello"), { recursive: true });
    writeFileSync(holder(), `alice@laptop, pid ${other.pid}, since 2026-01-01T00:00:00Z\n`);
    const r = lock("release");
    expect(await running(other)).toBe(true);
    expect(r).toEqual({ code: 0, out: `not held; removed the record of a holder that is gone (alice@laptop, pid ${other.pid}, since 2026-01-01T00:00:00Z)`, err: "" });
    expect(existsSync(holder())).toBe(false);
  });

  test("a live holder (the process that took the lock) is ended and the lock is free", async () => {
    const h = await hold();
    expect(lock("status").out).toMatch(/^held by alice@laptop, pid \d+, since \S+$/);
    expect(lock("release")).toEqual({ code: 0, out: `released (ended pid ${h.pid})`, err: "" });
    await h.exited;
    expect(lock("status").out).toBe("free");
    expect(existsSync(holder())).toBe(false);
  });

  test("a held lock whose record names another process (its pid reused) ends nothing and says so", async () => {
    const h = await hold();
    // A reused pid's process starts after the holder did: start times count in 10 ms ticks.
    await Bun.sleep(50);
    const other = bystander();
    // The record as if pid `other` had taken the lock, but the process there now started later.
    const text = readFileSync(holder(), "utf8").replace(`pid ${h.pid},`, `pid ${other.pid},`);
    writeFileSync(holder(), text);
    const r = lock("release");
    expect(await running(other)).toBe(true);
    expect(await running(h)).toBe(true);
    expect(r.out).toContain(`pid ${other.pid} is no longer the process that took the lock: nothing was ended`);
    expect(lock("status").out).toStartWith("held by");
    h.stdin.end();
    await h.exited;
  });

  test("a push that has ended keeps the lock while its switch still holds switch.lock (the old web slot draining), and its record says so; release still ends it", async () => {
    const h = await hold();
    // The slot the push left, still stopping: its stop holds switch.lock (switch.sh's drain_slot).
    // -o: flock itself holds it (not its sleep), so killing flock frees it.
    const drain = Bun.spawn(["flock", "-o", join(lockDir, "hello", "switch.lock"), "sleep", "60"]);
    spawned.push(drain);
    await Bun.sleep(200);
    h.stdin.end(); // the push's command is done
    const deadline = Date.now() + 5000;
    while (!lock("status").out.includes("(its command has ended") && Date.now() < deadline) await Bun.sleep(50);
    expect(lock("status").out).toMatch(/^held by alice@laptop, pid \d+, since \S+ \(its command has ended; the switch it started still runs, or drains the old web slot\)$/);
    expect(await running(h)).toBe(true);
    // The record still proves its holder: `lock release` ends it, and the lock is free.
    expect(lock("release")).toEqual({ code: 0, out: `released (ended pid ${h.pid})`, err: "" });
    await h.exited;
    expect(lock("status").out).toBe("free");
    drain.kill();
    await drain.exited;
    // Once switch.lock is free, a holder lets go by itself and removes its record.
    const h2 = await hold();
    h2.stdin.end();
    await h2.exited;
    expect(lock("status").out).toBe("free");
    expect(existsSync(holder())).toBe(false);
  });

  test("a push that finds the lock held says whom it waits for, then takes the lock once it is free; with no wait it fails at once", async () => {
    const h = await hold();
    const line = readFileSync(holder(), "utf8").split("\n")[0];
    expect(lock("hold", "bob@ci", "0")).toEqual({ code: 75, out: "", err: `deploy lock on hello is held by ${line} (waited 0s)\n` });
    const waiter = Bun.spawn([bash, "-c", script, "lock", "hello", "hold", "bob@ci", "5"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    spawned.push(waiter);
    const reader = waiter.stdout.getReader();
    let seen = "";
    while (!seen.includes("\n")) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toBe(`WAITING ${line}\n`);
    h.stdin.end();
    await h.exited;
    while (!seen.includes("LOCKED\n")) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toBe(`WAITING ${line}\nLOCKED\n`);
    expect(lock("status").out).toMatch(/^held by bob@ci, pid \d+, since \S+$/);
    waiter.stdin.end();
    await waiter.exited;
    expect(lock("status").out).toBe("free");
  });

  test("a held lock recorded by an older qdeploy (no start time) ends nothing: the pid proves nothing", async () => {
    const h = await hold();
    writeFileSync(holder(), `${readFileSync(holder(), "utf8").split("\n")[0]}\n`);
    const r = lock("release");
    expect(await running(h)).toBe(true);
    expect(r.out).toStartWith(`held by alice@laptop, pid ${h.pid}, since `);
    expect(r.out).toContain("recorded without its start time: nothing was ended");
    h.stdin.end();
    await h.exited;
  });
});

test("the switch keeps a standby only with a site whose live slot is picked by route/b, as renderCaddySite writes it", () => {
  // keeps_standby and prefer (server/switch.sh) against the site's matcher (src/render/caddy.ts).
  expect(switchScript).toContain(`*"${SLOT_MATCHER}"*`);
  const site = renderCaddySite(helloConfig, [8101, 8102]);
  expect(site).toContain(`${SLOT_MATCHER}\n\t\troot ${layout("hello").route}\n\t\ttry_files /b\n`);
  expect(switchScript).toContain(': > "$route_dir/b"');
});

test("the switch waits for Caddy only for what is left of the release's CADDY_SETTLE since the new slot answered", () => {
  const fn = switchFunctions("settle_left_to", "left_of_to");
  expect(fn).toStartWith("settle_left_to() {");
  expect(fn).toContain("\nleft_of_to() {\n");
  // Into a variable named as activate's: the function's own locals must not shadow it.
  const left = (settle: string, answeredMsAgo?: number) => {
    const healthy = answeredMsAgo === undefined ? "" : `healthy_ms=$(( \${EPOCHREALTIME/./} / 1000 - ${answeredMsAgo} ))`;
    const r = Bun.spawnSync([bash, "-euc", `${fn}\nCADDY_SETTLE=${settle}\n${healthy}\nleft=unset\nsettle_left_to left\nprintf '[%s]' "$left"`], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    return r.stdout.toString();
  };
  // A slot started elsewhere (staged), or none: all of it.
  expect(left("0.7")).toBe("[0.700]");
  expect(left("1.25")).toBe("[1.250]");
  expect(left("2")).toBe("[2.000]");
  // Answered 300 ms ago: 0.4 s left, less the few ms bash took since.
  expect(left("0.7", 300)).toMatch(/^\[0\.(3[5-9]\d|400)\]$/);
  // The switch's bookkeeping took longer than the settle: nothing to wait for.
  expect(left("0.7", 900)).toBe("[]");
  // A release written now: its site has no active check, Caddy takes the slot on the flip.
  expect(left("0")).toBe("[]");
  expect(left("0", 0)).toBe("[]");
});

test("the switch's probe tells a port nothing listens on from one that took the connection and never answered", async () => {
  const fn = switchFunctions("probe_to");
  expect(fn).toStartWith("probe_to() {");
  const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const answering = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response("", { status: new URL(req.url).pathname === "/up" ? 204 : 503 }) });
  const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const closedPort = closed.port;
  closed.stop(true);
  try {
    const status = async (port: number, path = "/health") => {
      const p = Bun.spawn([bash, "-euc", `${fn}\nPROBE_TIMEOUT=1\nprobe_to s ${port} ${path}\nprintf '[%s]' "$s"`], { stdout: "pipe", stderr: "pipe" });
      const [out, err] = [await new Response(p.stdout).text(), await new Response(p.stderr).text()];
      expect(err).toBe("");
      return out;
    };
    expect(await status(answering.port!, "/up")).toBe("[204]");
    expect(await status(answering.port!)).toBe("[503]");
    expect(await status(closedPort)).toBe("[]");
    expect(await status(silent.port)).toBe("[none]");
  } finally {
    silent.stop(true);
    answering.stop(true);
  }
});

/** switch.sh's slice_to, which the cgroup readers below call. */
const sliceFn = switchFunctions("slice_to");

test("the running instances of a template are the unit folders under its slice, systemd's escape of an app name with dashes included", () => {
  const fn = switchFunctions("slice_to", "running_instances");
  expect(sliceFn).toStartWith("slice_to() {");
  expect(fn).toContain("\nrunning_instances() {\n");
  const cg = mkdtempSync(join(tmpdir(), "qdeploy-cgroup-"));
  try {
    const run = (template: string) => Bun.spawnSync([bash, "-euc", `${fn}\ncgroup_dir=${cg}\nrunning_instances '${template}' || echo "(no hierarchy)"`], { stdout: "pipe", stderr: "pipe" });
    expect(run("my-shop-web@.service").stdout.toString()).toBe("(no hierarchy)\n");
    writeFileSync(join(cg, "cgroup.controllers"), "cpu memory pids\n");
    const slice = join(cg, "system.slice", "system-my\\x2dshop\\x2dweb.slice");
    for (const u of ["my-shop-web@8001.service", "my-shop-web@8002.service"]) mkdirSync(join(slice, u), { recursive: true });
    // A worker of the app, and another app whose name starts the same: not its web slots.
    mkdirSync(join(cg, "system.slice", "system-my\\x2dshop\\x2dworker.slice", "my-shop-worker@1.service"), { recursive: true });
    mkdirSync(join(cg, "system.slice", "system-my\\x2dshop\\x2dweb\\x2dx\\x2dweb.slice", "my-shop-web-x-web@8003.service"), { recursive: true });
    const r = run("my-shop-web@.service");
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString()).toBe("my-shop-web@8001.service\nmy-shop-web@8002.service\n");
    expect(run("my-shop-worker@.service").stdout.toString()).toBe("my-shop-worker@1.service\n");
    expect(run("other-web@.service").stdout.toString()).toBe("");
  } finally {
    rmSync(cg, { recursive: true, force: true });
  }
});

test("who listens on a port is read from /proc (no ss): the unit's process holding it passes, anyone else's does not", async () => {
  const fn = switchFunctions("slice_to", "unit_holds_listeners");
  expect(sliceFn).toStartWith("slice_to() {");
  expect(fn).toContain("\nunit_holds_listeners() {\n");
  // A real listener in a process of its own, as a web slot's app is.
  const app = Bun.spawn([process.execPath, "-e", "const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } }); console.log(s.port); setInterval(() => {}, 1000);"], { stdout: "pipe" });
  const cg = mkdtempSync(join(tmpdir(), "qdeploy-cgroup-"));
  try {
    const reader = app.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    expect(port).toBeGreaterThan(0);
    // The kernel must say a socket's inode in fdinfo (Linux 5.14+), or the switch falls back to ss.
    expect(readFileSync(`/proc/${app.pid}/fdinfo/0`, "utf8")).toMatch(/^ino:\s+\d+$/m);
    writeFileSync(join(cg, "cgroup.controllers"), "cpu memory pids\n");
    const unit = join(cg, "system.slice", "system-my\\x2dshop\\x2dweb.slice", `my-shop-web@${port}.service`);
    mkdirSync(unit, { recursive: true });
    const holds = (pids: number[], p = port) => {
      writeFileSync(join(unit, "cgroup.procs"), pids.map((x) => `${x}\n`).join(""));
      return Bun.spawnSync([bash, "-euc", `${fn}\ncgroup_dir=${cg}\nunit_holds_listeners 'my-shop-web@${port}.service' ${p} && echo yes || echo no`], { stdout: "pipe", stderr: "pipe" });
    };
    const yes = holds([app.pid]);
    expect(yes.stderr.toString()).toBe("");
    expect(yes.stdout.toString()).toBe("yes\n");
    // The unit's processes do not hold the socket (another program does): ss is asked then.
    expect(holds([process.pid]).stdout.toString()).toBe("no\n");
    // Nothing listens on the port.
    expect(holds([app.pid], 1).stdout.toString()).toBe("no\n");
  } finally {
    app.kill();
    rmSync(cg, { recursive: true, force: true });
  }
});

test("the slot the traffic left gets its stop HANDOVER_MS after the move (prefer's moved_ms), at once when that has passed", () => {
  const fn = switchFunctions("say", "left_of_to", "drain_slot");
  expect(fn).toContain("\ndrain_slot() {\n");
  expect(switchText).toContain("\nHANDOVER_MS=200\n");
  const d = mkdtempSync(join(tmpdir(), "qdeploy-handover-"));
  try {
    // A stand-in systemctl that says when it was asked to stop, in ms since the epoch.
    mkdirSync(join(d, "tools"));
    writeFileSync(join(d, "tools", "systemctl"), `#!/bin/bash\necho $(( \${EPOCHREALTIME/./} / 1000 ))\n`, { mode: 0o755 });
    // Milliseconds from the move to the stop, the traffic having moved movedMsAgo before drain_slot.
    const stopAfter = (movedMsAgo: number) => {
      const script = `${fn}\nHANDOVER_MS=1000\nmoved_ms=$(( \${EPOCHREALTIME/./} / 1000 - ${movedMsAgo} ))\ndrain_slot my-web@8001.service\nwait "$draining"\necho "$moved_ms"`;
      const r = Bun.spawnSync([bash, "-euc", script], { env: { PATH: `${join(d, "tools")}:/usr/bin:/bin` }, stdout: "pipe", stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
      const [stopped, moved] = r.stdout.toString().trim().split("\n").map(Number);
      return stopped! - moved!;
    };
    expect(stopAfter(300)).toBeGreaterThanOrEqual(1000);
    // The switch's bookkeeping since the move took longer than the hand-over: no wait.
    expect(stopAfter(1500)).toBeLessThan(2400);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("a push's or rollback's switch does not wait for the slot it left: that stop holds switch.lock, not the deploy lock, and logs to switch.log", () => {
  const fn = switchFunctions("say", "left_of_to", "drain_slot");
  expect(fn).toContain("\ndrain_slot() {\n");
  const d = mkdtempSync(join(tmpdir(), "qdeploy-drain-"));
  try {
    // A stand-in systemctl whose stop takes two seconds, as a slot finishing its requests does.
    mkdirSync(join(d, "tools"));
    writeFileSync(join(d, "tools", "systemctl"), `#!/bin/sh\nsleep 2\necho "$@" > ${d}/stopped\n`, { mode: 0o755 });
    const script = (behind: string) => `${fn}
HANDOVER_MS=100
switch_log=${d}/switch.log
exec 8>>${d}/switch.lock 9>>${d}/lock
flock 8; flock 9
${behind} drain_slot my-web@8001.service
exec 8>&- 9>&-
flock -w 1 ${d}/lock true && echo deploy-lock-free
flock -n ${d}/switch.lock true || echo switch-lock-held
[ -n "${behind}" ] || wait "$draining"
cat ${d}/stopped 2>/dev/null || echo not-stopped`;
    const run = (behind: string) => Bun.spawnSync([bash, "-euc", script(behind)], { env: { PATH: `${join(d, "tools")}:/usr/bin:/bin` }, stdout: "pipe", stderr: "pipe" });
    const behind = run("drain_behind=1");
    expect(behind.stderr.toString()).toBe("");
    // Returned at once: the deploy lock free (once the stop's process has closed it: -w 1), the
    // slot not yet stopped, switch.lock still held.
    expect(behind.stdout.toString()).toBe("deploy-lock-free\nswitch-lock-held\nnot-stopped\n");
    Bun.spawnSync(["flock", join(d, "switch.lock"), "true"]); // until the stop has ended
    expect(readFileSync(join(d, "stopped"), "utf8")).toBe("stop my-web@8001.service\n");
    expect(readFileSync(join(d, "switch.log"), "utf8")).toBe("drained my-web@8001.service\n");
    rmSync(join(d, "stopped"));
    // A restart's switch (the timer's, the watchdog's) waits for it, both locks held meanwhile.
    const waits = run("");
    expect(waits.stdout.toString()).toBe("switch-lock-held\nstop my-web@8001.service\n");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("the layout the scripts get is the layout's own paths and names, as bash reads them", () => {
  const l = layout("hello");
  const names = { releases_dir: l.releases, live_slot_file: l.liveSlot, standby_file: l.standby, route_dir: l.route, lock_file: l.lock, holder_file: l.lockHolder, switch_file: l.switchScript, site: l.caddySite, units_dir: l.unitDir, ports_registry: l.portsRegistry, standby_end_unit: unitNames.standbyEnd("hello") };
  const r = Bun.spawnSync([bash, "-uc", `app=hello\n${layoutShell()}\nfor n in ${Object.keys(names).join(" ")}; do printf '%s\\n' "\${!n}"; done`], { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.stdout.toString().split("\n").slice(0, -1)).toEqual(Object.values(names));
  // Each script reads it: none spells out a path of the layout.
  for (const text of [switchText, lockText, factsText]) {
    expect(text).toContain("\n# @layout\n");
    expect(text).not.toMatch(/\/srv\/qdeploy\/\$app|\$root\/(releases|slots|current|live-slot|standby|route|lock|audit\.log|switch)\b/);
  }
});
