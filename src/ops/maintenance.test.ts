import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { OperationError, UsageError } from "../errors.ts";
import { renderBatchScript } from "../plan/script.ts";
import { MAINTENANCE_MATCHER, renderCaddySite } from "../render/caddy.ts";
import type { ExecOptions, Remote } from "../remote/remote.ts";
import { Redactor } from "../secrets/redact.ts";
import type { OpContext } from "./context.ts";
import {
  checkPage,
  maintenance,
  maintenanceStatusArgv,
  MAX_PAGE_BYTES,
  type MaintenanceState,
  parseMaintenanceStatus,
  planMaintenanceOff,
  planMaintenanceOn,
  refuseMaintenanceOn,
} from "./maintenance.ts";

const AUDIT = 'printf "%s %s\\n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$2" >> "$1"';

describe("planMaintenanceOn / planMaintenanceOff", () => {
  test("on: caddy's setgid folder, the page 0640 by rename, an audit line", () => {
    expect(planMaintenanceOn("hello", "<h1>x</h1>\n", "alice@laptop", false)).toEqual([
      { kind: "run", argv: ["install", "-d", "-m", "2750", "-o", "root", "-g", "caddy", "/srv/qdeploy/hello/maintenance"], why: "the folder Caddy reads the maintenance page from" },
      { kind: "write", path: "/srv/qdeploy/hello/maintenance/page.html", content: "<h1>x</h1>\n", mode: 0o640, why: "the maintenance page: while it exists Caddy answers 503 with it" },
      { kind: "run", argv: ["sh", "-c", AUDIT, "sh", "/srv/qdeploy/hello/audit.log", "maintenance on by alice@laptop"], why: "the audit log" },
    ]);
    expect(planMaintenanceOn("hello", "p", "bob@ci\nforged line", true).at(-1)).toEqual({
      kind: "run",
      argv: ["sh", "-c", AUDIT, "sh", "/srv/qdeploy/hello/audit.log", "maintenance on by bob@ci forged line (custom page)"],
      why: "the audit log",
    });
  });

  test("off: the page goes (rm -f: off twice is fine), an audit line", () => {
    expect(planMaintenanceOff("shop-api", "alice@laptop")).toEqual([
      { kind: "run", argv: ["rm", "-f", "--", "/srv/qdeploy/shop-api/maintenance/page.html"], why: "remove the maintenance page: traffic goes to the app again" },
      { kind: "run", argv: ["sh", "-c", AUDIT, "sh", "/srv/qdeploy/shop-api/audit.log", "maintenance off by alice@laptop"], why: "the audit log" },
    ]);
  });

  test("the page is the site's matcher's file, written in the folder the site reads (the temp file beside it never matches)", () => {
    const site = renderCaddySite(helloConfig, [8001, 8002]);
    const [mkdir, write] = planMaintenanceOn("hello", "p", "me", false);
    const dir = mkdir!.kind === "run" ? mkdir!.argv.at(-1)! : "";
    expect(site).toContain(`root ${dir}\n\t\ttry_files /page.html\n`);
    expect(write!.kind === "write" && write!.path).toBe(`${dir}/page.html`);
    // qd_write's temp name is PATH.tmp.PID: not /page.html, so Caddy sees the page whole or not at all.
    expect(renderBatchScript([write!])).toContain("qd_write /srv/qdeploy/hello/maintenance/page.html 137 - replace <<'QDEPLOY_EOF_");
  });
});

describe("the status script, run by the real sh", () => {
  const run = (page: string, site: string) => {
    const argv = maintenanceStatusArgv("hello");
    expect(argv.slice(3)).toEqual(["sh", "/srv/qdeploy/hello/maintenance/page.html", "/etc/caddy/qdeploy/hello.caddy", MAINTENANCE_MATCHER]);
    const r = Bun.spawnSync([...argv.slice(0, 4), page, site, MAINTENANCE_MATCHER], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    return r.stdout.toString();
  };

  test("off / on since the page's mtime; the site ready, old or missing", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-maint-"));
    try {
      const page = path.join(dir, "page.html");
      const site = path.join(dir, "hello.caddy");
      expect(run(page, site)).toBe("maintenance=off\nsite=none\n");
      writeFileSync(site, renderCaddySite(helloConfig, [8001, 8002]));
      expect(run(page, site)).toBe("maintenance=off\nsite=ready\n");
      writeFileSync(page, "x");
      utimesSync(page, new Date("2026-12-02T10:11:12Z"), new Date("2026-12-02T10:11:12Z"));
      // A site of an older qdeploy: the proxy alone.
      writeFileSync(site, "hello.localhost {\n\treverse_proxy 127.0.0.1:8001 127.0.0.1:8002\n}\n");
      const out = run(page, site);
      expect(out).toBe("maintenance=on 2026-12-02T10:11:12Z\nsite=old\n");
      expect(parseMaintenanceStatus("h", out)).toEqual({ host: "h", state: "on", since: "2026-12-02T10:11:12Z", site: "old" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("parseMaintenanceStatus: nothing said is off with no site", () => {
    expect(parseMaintenanceStatus("h", "")).toEqual({ host: "h", state: "off", since: null, site: "none" });
    expect(parseMaintenanceStatus("h", "maintenance=off\nsite=ready\n")).toEqual({ host: "h", state: "off", since: null, site: "ready" });
  });
});

describe("refuseMaintenanceOn / checkPage", () => {
  const st = (host: string, site: MaintenanceState["site"]): MaintenanceState => ({ host, state: "off", since: null, site });

  test("every host's reason at once, or null", () => {
    expect(refuseMaintenanceOn("hello", [st("a", "ready"), st("b", "ready")])).toBeNull();
    expect(refuseMaintenanceOn("hello", [st("a", "old"), st("b", "none"), st("c", "ready"), st("d", "old")])).toBe(
      "maintenance mode cannot be turned on: b: no Caddy site of hello yet (push first); a, d: the live Caddy site of hello was written by a qdeploy without maintenance mode (push once with this one, then turn it on)",
    );
  });

  test("a page is text, not empty, at most MAX_PAGE_BYTES", () => {
    expect(() => checkPage("<h1>ok</h1>", "p.html")).not.toThrow();
    expect(() => checkPage("", "p.html")).toThrow("p.html is empty");
    expect(() => checkPage("a\0b", "p.html")).toThrow("NUL bytes");
    expect(() => checkPage("x".repeat(MAX_PAGE_BYTES + 1), "p.html")).toThrow(`at most ${MAX_PAGE_BYTES}`);
    expect(() => checkPage("x".repeat(MAX_PAGE_BYTES), "p.html")).not.toThrow();
  });
});

// ---- maintenance() over recording Remotes: facts first, then the same batch on every web host. ----

interface Seen {
  argv: string[];
  stdin?: string;
}

/** A host that answers the status argv with `status` (which a batch may change) and records what ran. */
function fakeHost(label: string, status: { text: string }, seen: Seen[], batchFails = false): Remote {
  return {
    label,
    async exec(argv: string[], opts: ExecOptions = {}) {
      seen.push({ argv, ...(opts.stdin !== undefined && { stdin: String(opts.stdin) }) });
      if (argv[0] === "sh" && argv[2]?.includes("maintenance=on")) return { code: 0, stdout: status.text, stderr: "" };
      if (argv[0] === "bash" && argv[1] === "-s") {
        if (batchFails) return { code: 1, stdout: "", stderr: "::qdeploy-step 0\ninstall: invalid group 'caddy'\n" };
        const script = String(opts.stdin);
        if (script.includes("qd_write /srv/qdeploy/hello/maintenance/page.html")) status.text = status.text.replace("maintenance=off", "maintenance=on 2026-12-02T10:00:00Z");
        if (script.includes("rm -f -- /srv/qdeploy/hello/maintenance/page.html")) status.text = status.text.replace(/maintenance=on \S+/, "maintenance=off");
        return { code: 0, stdout: "", stderr: "" };
      }
      throw new Error(`unexpected argv ${JSON.stringify(argv)}`);
    },
    async write() {
      throw new Error("maintenance writes through the batch script");
    },
    async upload() {
      throw new Error("no uploads");
    },
    async close() {},
  };
}

const HOSTS: HostAddress[] = [
  { user: "root", host: "10.0.0.1", label: "root@10.0.0.1" },
  { user: "root", host: "10.0.0.2", label: "root@10.0.0.2" },
  { user: "root", host: "10.0.0.3", label: "root@10.0.0.3" },
];

function setup(sites: string[], o: { cfg?: Partial<ResolvedConfig>; failOn?: string } = {}) {
  const cfg: ResolvedConfig = { ...helloConfig, hosts: HOSTS, ...o.cfg };
  const seen: Record<string, Seen[]> = {};
  const status: Record<string, { text: string }> = {};
  HOSTS.forEach((h, i) => {
    seen[h.label] = [];
    status[h.label] = { text: `maintenance=off\nsite=${sites[i] ?? "ready"}\n` };
  });
  const op: OpContext = {
    cfg,
    connect: async (h) => fakeHost(h.label, status[h.label]!, seen[h.label]!, o.failOn === h.label),
    events: () => {},
    redactor: new Redactor(),
    who: "alice@laptop",
    lockWaitSec: 0,
  };
  return { op, seen };
}

describe("maintenance()", () => {
  test("on: the status, then one batch with the page on stdin, then the status again, on every host", async () => {
    const { op, seen } = setup(["ready", "ready", "ready"]);
    const r = await maintenance(op, "on", { page: "<h1>brb</h1>\n", custom: true });
    expect(r.hosts.map((h) => [h.host, h.state, h.since])).toEqual(HOSTS.map((h) => [h.label, "on", "2026-12-02T10:00:00Z"]));
    for (const h of HOSTS) {
      const s = seen[h.label]!;
      expect(s.map((x) => x.argv[0])).toEqual(["sh", "bash", "sh"]);
      expect(s[1]!.stdin).toBe(renderBatchScript(planMaintenanceOn("hello", "<h1>brb</h1>\n", "alice@laptop", true)));
      // The page travels on stdin, never on a command line.
      expect(s.some((x) => x.argv.join(" ").includes("brb"))).toBe(false);
    }
  });

  test("on refuses before it changes any host when one host's site lacks the switch", async () => {
    const { op, seen } = setup(["ready", "old", "ready"]);
    const e = await maintenance(op, "on", { page: "p", custom: false }).catch((e) => e);
    expect(e).toBeInstanceOf(OperationError);
    expect((e as Error).message).toContain("root@10.0.0.2: the live Caddy site of hello was written by a qdeploy without maintenance mode");
    for (const h of HOSTS) expect(seen[h.label]!.map((x) => x.argv[0])).toEqual(["sh"]);
  });

  test("off works whatever the site; status only reads", async () => {
    const { op, seen } = setup(["old", "none", "ready"]);
    const st = await maintenance(op, "status", { page: "", custom: false });
    expect(st.hosts.map((h) => [h.state, h.site])).toEqual([["off", "old"], ["off", "none"], ["off", "ready"]]);
    for (const h of HOSTS) expect(seen[h.label]!.length).toBe(1);
    const off = await maintenance(op, "off", { page: "", custom: false });
    expect(off.hosts.map((h) => h.state)).toEqual(["off", "off", "off"]);
    expect(seen[HOSTS[0]!.label]![2]!.stdin).toBe(renderBatchScript(planMaintenanceOff("hello", "alice@laptop")));
  });

  test("a host that fails is named, with every host's state afterwards", async () => {
    const { op } = setup([], { failOn: "root@10.0.0.2" });
    const e = (await maintenance(op, "on", { page: "p", custom: false }).catch((e) => e)) as Error;
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).toContain("maintenance on failed on 1 of 3 host(s):\n  root@10.0.0.2: the folder Caddy reads the maintenance page from failed (exit 1)");
    expect(e.message).toContain("invalid group 'caddy'");
    expect(e.message).toContain("now: root@10.0.0.1 on, root@10.0.0.2 off, root@10.0.0.3 on");
  });

  test("only the web hosts (roles); no web process or no web host among those chosen is a usage error", async () => {
    const roles = { web: [HOSTS[0]!.label, HOSTS[2]!.label], worker: [HOSTS[1]!.label] };
    const { op, seen } = setup([], { cfg: { roles } });
    const r = await maintenance(op, "status", { page: "", custom: false });
    expect(r.hosts.map((h) => h.host)).toEqual([HOSTS[0]!.label, HOSTS[2]!.label]);
    expect(seen[HOSTS[1]!.label]).toEqual([]);
    await expect(maintenance(op, "status", { page: "", custom: false }, { hosts: ["10.0.0.2"] })).rejects.toThrow(UsageError);
    const noWeb = setup([], { cfg: { web: null, processes: { worker: "hello work" } } });
    await expect(maintenance(noWeb.op, "on", { page: "p", custom: false })).rejects.toThrow("hello has no web process in sandbox");
  });

  test("an empty page is refused before any connection", async () => {
    const { op, seen } = setup([]);
    await expect(maintenance(op, "on", { page: "", custom: true })).rejects.toThrow("the maintenance page is empty");
    expect(Object.values(seen).flat()).toEqual([]);
  });
});
