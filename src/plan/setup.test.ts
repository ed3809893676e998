import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { helloConfig as cfg } from "../../test/fixtures/config.ts";
import { renderCaddyDropIn, renderCaddyMain } from "../render/caddy.ts";
import { renderFirewallUnit } from "../render/firewall.ts";
import { firewallScript, switchScript } from "../server-scripts.ts";
import { freshHostFacts, type HostFacts } from "./facts.ts";
import { hostConfig } from "./fleet.ts";
import { planAddonHostFirewall, planSetup } from "./setup.ts";
import { describeStep } from "./steps.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

/** A host that has everything this qdeploy installs. */
const ready: HostFacts = {
  host: cfg.hosts[0]!, arch: "x86_64", user: "root", systemd: true, caddy: true, zstd: true, nft: true,
  switchSha: sha(switchScript), caddyfileSha: sha(renderCaddyMain()), caddyDropInSha: sha(renderCaddyDropIn()),
  firewallSha: `${sha(firewallScript)} ${sha(renderFirewallUnit())}`, firewallPorts: "22 80 443",
  live: null, liveSlot: null, lock: null, webPorts: [8001, 8002], history: [], blobs: [], releases: [], partial: [], corrupt: [],
};
const steps = (f: Partial<HostFacts>, c = cfg) => planSetup(c, { ...ready, ...f }).map((s) => describeStep(s).split(" (")[0]);

describe("planSetup", () => {
  test("a ready host needs nothing", () => expect(steps({})).toEqual([]));

  test("a host with the old Caddyfile (admin on localhost:2019) gets the drop-in and a restart, not a reload", () => {
    expect(steps({ caddyfileSha: "old", caddyDropInSha: "" })).toEqual([
      "run    install -d -m 0755 /etc/systemd/system/caddy.service.d",
      "write  /etc/systemd/system/caddy.service.d/qdeploy.conf",
      "run    systemctl daemon-reload",
      "write  /etc/caddy/Caddyfile",
      "run    systemctl enable --quiet caddy",
      "run    systemctl restart caddy",
    ]);
  });

  test("a changed Caddyfile with the drop-in in place is a reload", () => {
    expect(steps({ caddyfileSha: "old" })).toEqual([
      "write  /etc/caddy/Caddyfile",
      "run    systemctl enable --quiet caddy",
      "run    systemctl reload-or-restart caddy",
    ]);
  });

  test("nftables is installed on demand; changed ports only rewrite this app's file and reload the policy", () => {
    expect(steps({ nft: false, firewallPorts: "22 80" })).toEqual([
      "run    apt-get update -q",
      "run    env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables bash-builtins",
      "run    install -d -m 0755 /etc/qdeploy/firewall",
      "write  /etc/qdeploy/firewall/hello.ports",
      "run    systemctl enable --quiet qdeploy-firewall.service",
      "run    /etc/qdeploy/firewall/apply",
    ]);
  });

  test("firewall = off leaves the firewall alone: no nftables, no files", () => {
    expect(steps({ nft: false, caddy: false, firewallSha: "", firewallPorts: "" }, { ...cfg, firewall: null })).toEqual([
      "run    apt-get update -q",
      "run    env DEBIAN_FRONTEND=noninteractive apt-get install -y -q caddy bash-builtins",
    ]);
  });

  test("a host that runs no web process gets no Caddy: no package, Caddyfile, drop-in or sites folder", () => {
    const fleet = { ...cfg, hosts: [{ host: "a", label: "a" }, { host: "b", label: "b" }], roles: { web: ["a"], worker: ["b"] } };
    const fresh: Partial<HostFacts> = { caddy: false, nft: false, switchSha: "", caddyfileSha: "", caddyDropInSha: "", firewallSha: "", firewallPorts: "" };
    const worker = steps(fresh, hostConfig(fleet, fleet.hosts[1]!));
    expect(worker.filter((s) => s.includes("caddy"))).toEqual([]);
    expect(worker.slice(0, 3)).toEqual([
      "run    apt-get update -q",
      "run    env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables bash-builtins",
      "run    install -d -m 0755 /srv/qdeploy/hello /srv/qdeploy/hello/blobs /srv/qdeploy/hello/releases /srv/qdeploy/hello/slots",
    ]);
    // The web host of the same fleet gets all of it, as a one-host environment does.
    const webHost = steps(fresh, hostConfig(fleet, fleet.hosts[0]!));
    expect(webHost).toEqual(steps(fresh));
    expect(webHost.filter((s) => s.includes("caddy"))).toEqual([
      "run    env DEBIAN_FRONTEND=noninteractive apt-get install -y -q caddy nftables bash-builtins",
      "run    install -d -m 0755 /srv/qdeploy/hello /srv/qdeploy/hello/blobs /srv/qdeploy/hello/releases /srv/qdeploy/hello/slots /etc/caddy/qdeploy",
      "run    install -d -m 0755 /etc/systemd/system/caddy.service.d",
      "write  /etc/systemd/system/caddy.service.d/qdeploy.conf",
      "write  /etc/caddy/Caddyfile",
      "run    systemctl enable --quiet caddy",
      "run    systemctl restart caddy",
    ]);
  });
});

describe("planAddonHostFirewall: a database server of its own", () => {
  const fresh = { ...freshHostFacts({ host: "db-1", label: "deploy@db-1" }, "x86_64"), nft: false };
  const lines = (steps: ReturnType<typeof planAddonHostFirewall>) => steps.map((s) => (s.kind === "write" ? `write ${s.path}` : s.kind === "run" ? s.argv.join(" ") : s.kind));

  test("without it: nftables, the script and its unit, no port of the app's (the script adds SSH's), loaded now and at boot; no Caddy, no app folders", () => {
    expect(lines(planAddonHostFirewall(cfg, fresh))).toEqual([
      "apt-get update -q",
      "env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables",
      "install -d -m 0755 /etc/qdeploy/firewall",
      "write /etc/qdeploy/firewall/apply",
      "write /etc/systemd/system/qdeploy-firewall.service",
      "systemctl daemon-reload",
      "write /etc/qdeploy/firewall/hello.ports",
      "systemctl enable --quiet qdeploy-firewall.service",
      "/etc/qdeploy/firewall/apply",
    ]);
    const ports = planAddonHostFirewall(cfg, fresh).find((s) => s.kind === "write" && s.path.endsWith(".ports"));
    expect(ports?.kind === "write" && ports.content).toBe("\n");
  });

  test("with it as it should be, or with [firewall] off: nothing", () => {
    const have = { ...fresh, nft: true, firewallSha: `${sha(firewallScript)} ${sha(renderFirewallUnit())}` };
    expect(planAddonHostFirewall(cfg, have)).toEqual([]);
    expect(planAddonHostFirewall({ ...cfg, firewall: null }, fresh)).toEqual([]);
  });
});
