/** What a host needs before releases can land on it; empty when it has all of it. */
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { renderCaddyDropIn, renderCaddyMain } from "../render/caddy.ts";
import { FIREWALL, renderFirewallPorts, renderFirewallUnit } from "../render/firewall.ts";
import { renderLogDrain } from "../render/log-drain.ts";
import { firewallScript, switchScript } from "../server-scripts.ts";
import type { HostFacts } from "./facts.ts";
import { HOST_PATHS, layout, unitNames } from "../server-layout.ts";
import type { Step } from "./steps.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
/** Once, not per host: a rollback of 1,000 hosts compares each host's switch with it. */
const SWITCH_SHA = sha256(switchScript);

/** qdeploy's drop-in for Debian's caddy.service (the admin socket's directory and umask). */
export const CADDY_DROP_IN = HOST_PATHS.caddyDropIn;

/**
 * Setup steps for one host (idempotent; `force` repeats the cheap ones anyway). cfg is the
 * host's own (src/plan/fleet.ts hostConfig): a host that runs no web process gets no Caddy
 * (no package, no Caddyfile, no drop-in, no sites folder), since nothing there serves HTTP.
 */
export function planSetup(cfg: ResolvedConfig, facts: HostFacts, force = false): Step[] {
  const l = layout(cfg.app);
  const web = cfg.processes.web !== undefined;
  const steps: Step[] = [];
  const caddyMain = renderCaddyMain();
  const dropIn = renderCaddyDropIn();
  const ports = renderFirewallPorts(cfg);
  const firewallFiles = firewallFilesSha();

  const missing = [...(!web || facts.caddy ? [] : ["caddy"]), ...(ports !== null && !facts.nft ? ["nftables"] : [])];
  if (missing.length) {
    // With them, the switch's rm as a bash builtin (a flip is one rm: no process). Only with
    // what a fresh host installs anyway: a host already set up is never sent to apt for it.
    const packages = [...missing, "bash-builtins"];
    steps.push(
      { kind: "run", argv: ["apt-get", "update", "-q"], why: `${missing.join(" and ")} not installed` },
      { kind: "run", argv: ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", ...packages], why: `install ${packages.join(", ")}` },
    );
  }
  if (force || !facts.switchSha) {
    steps.push({
      kind: "run",
      argv: ["install", "-d", "-m", "0755", l.root, l.blobs, l.releases, l.slots, ...(web ? [l.caddySites] : [])],
      why: "the app's directories",
    });
  }

  const newDropIn = web && facts.caddyDropInSha !== sha256(dropIn);
  const newFirewall = ports !== null && facts.firewallSha !== firewallFiles;
  if (newDropIn) {
    steps.push(
      { kind: "run", argv: ["install", "-d", "-m", "0755", dirname(CADDY_DROP_IN)], why: "caddy.service drop-ins" },
      { kind: "write", path: CADDY_DROP_IN, content: dropIn, mode: 0o644, why: "Caddy's admin socket: a /run/caddy only caddy and root enter" },
    );
  }
  if (newFirewall) steps.push(...firewallInstall());
  if (newDropIn || newFirewall) steps.push({ kind: "run", argv: ["systemctl", "daemon-reload"], why: "systemd reads the new units" });

  if (web && (force || newDropIn || facts.caddyfileSha !== sha256(caddyMain))) {
    steps.push(
      { kind: "write", path: l.caddyMain, content: caddyMain, mode: 0o644, why: "Caddy imports one file per app" },
      { kind: "run", argv: ["systemctl", "enable", "--quiet", "caddy"], why: "Caddy starts at boot" },
      // Moving the admin API to the socket needs a start (the RuntimeDirectory is made then);
      // once it is there, a reload keeps every site up.
      newDropIn
        ? { kind: "run", argv: ["systemctl", "restart", "caddy"], why: "Caddy starts with its admin API on the socket" }
        : { kind: "run", argv: ["systemctl", "reload-or-restart", "caddy"], why: "Caddy reads the new Caddyfile" },
    );
  }
  steps.push(...switchUpdate(cfg.app, facts, force));

  if (ports !== null && (force || newFirewall || facts.firewallPorts !== ports.trim())) {
    steps.push(...(newFirewall ? [] : [firewallDir]), ...firewallPolicy(cfg.app, ports));
  }
  steps.push(...planLogDrain(cfg, facts, force));
  return steps;
}

/**
 * [logs] drain: the app's own rsyslog (installed when the host lacks it) with the drain's
 * config, (re)started when its files change; stopped and removed when deploy.toml has no
 * drain any more. Nothing when the host has it as it should be.
 */
export function planLogDrain(cfg: ResolvedConfig, facts: HostFacts, force = false): Step[] {
  const l = layout(cfg.app);
  const unit = unitNames.logDrain(cfg.app);
  const unitPath = `${l.unitDir}/${unit}`;
  if (!cfg.logDrain) {
    if (!facts.logDrainSha) return [];
    return [
      { kind: "run", argv: ["systemctl", "disable", "--now", "--quiet", unit], why: "[logs] has no drain now: the app's rsyslog stops" },
      { kind: "run", argv: ["rm", "-rf", l.logDrain, unitPath], why: "its config, cursor and queue" },
      { kind: "run", argv: ["systemctl", "daemon-reload"], why: "systemd forgets the unit" },
    ];
  }
  const files = renderLogDrain(cfg, cfg.logDrain);
  if (!force && facts.logDrainSha === `${sha256(files[l.logDrainConf]!)} ${sha256(files[unitPath]!)}`) return [];
  return [
    ...(facts.rsyslog ? [] : [{ kind: "run", argv: ["bash", "-c", INSTALL_RSYSLOG], why: "rsyslog (with TLS) not installed: Debian's, for the log drain" } as Step]),
    { kind: "run", argv: ["install", "-d", "-m", "0700", l.logDrain], why: "the drain's config, journal cursor and queue" },
    { kind: "write", path: l.logDrainConf, content: files[l.logDrainConf]!, mode: 0o600, why: `rsyslog: the app's units' lines to ${cfg.logDrain.url}` },
    { kind: "write", path: unitPath, content: files[unitPath]!, mode: 0o644, why: "the app's own rsyslog" },
    { kind: "run", argv: ["systemctl", "daemon-reload"], why: "systemd reads the unit" },
    { kind: "run", argv: ["systemctl", "enable", "--quiet", unit], why: "it starts at boot" },
    { kind: "run", argv: ["systemctl", "restart", unit], why: "it reads its new config (lines it has not sent wait in its queue)" },
  ];
}

/**
 * Debian's rsyslog and its TLS driver. A host that had no rsyslogd before keeps having no
 * host-wide syslog daemon: the package starts one, which only the drain's instance was wanted for.
 */
const INSTALL_RSYSLOG = [
  "set -e",
  "had=$(command -v rsyslogd || true)",
  "apt-get update -q",
  "DEBIAN_FRONTEND=noninteractive apt-get install -y -q rsyslog rsyslog-gnutls",
  '[ -n "$had" ] || systemctl disable --now --quiet rsyslog.service',
].join("\n");

/**
 * This qdeploy's switch, when the host has another (an older qdeploy's): a push's setup, and
 * a rollback's too, whose stage or flip needs the verbs an older switch lacks.
 */
export function switchUpdate(app: string, facts: HostFacts, force = false): Step[] {
  if (!force && facts.switchSha === SWITCH_SHA) return [];
  return [{ kind: "write", path: layout(app).switchScript, content: switchScript, mode: 0o755, why: "the server-side switch" }];
}

const firewallDir: Step = { kind: "run", argv: ["install", "-d", "-m", "0755", FIREWALL.dir], why: "the firewall's files" };

/** The firewall's script and boot unit. */
function firewallInstall(): Step[] {
  return [
    firewallDir,
    { kind: "write", path: FIREWALL.apply, content: firewallScript, mode: 0o755, why: "loads the nftables table inet qdeploy" },
    { kind: "write", path: FIREWALL.unit, content: renderFirewallUnit(), mode: 0o644, why: "restores the firewall at boot" },
  ];
}

/** The app's ports file, and the policy loaded now and at every boot. */
function firewallPolicy(app: string, ports: string): Step[] {
  return [
    { kind: "write", path: FIREWALL.ports(app), content: ports, mode: 0o644, why: `the TCP ports ${app} admits from outside` },
    { kind: "run", argv: ["systemctl", "enable", "--quiet", FIREWALL.unitName], why: "the firewall comes back at boot" },
    { kind: "run", argv: [FIREWALL.apply], why: "load the inbound policy (every app's ports, and sshd's)" },
  ];
}

/**
 * An add-on's host that is none of the environment's (a database server of its own): the
 * firewall alone, admitting SSH and, by the add-ons' .from files, their clients; no Caddy, no
 * app folders. Nothing when [firewall] is off or the host has it as it should be.
 */
export function planAddonHostFirewall(cfg: ResolvedConfig, facts: HostFacts): Step[] {
  const newFirewall = facts.firewallSha !== firewallFilesSha();
  if (!cfg.firewall || (!newFirewall && facts.nft)) return [];
  // No port of the app's: the apply script admits SSH's; this host serves no web.
  const ports = "\n";
  return [
    ...(facts.nft ? [] : [
      { kind: "run", argv: ["apt-get", "update", "-q"], why: "nftables not installed" } as Step,
      { kind: "run", argv: ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "nftables"], why: "install nftables" } as Step,
    ]),
    ...(newFirewall ? [...firewallInstall(), { kind: "run", argv: ["systemctl", "daemon-reload"], why: "systemd reads the new units" } as Step] : [firewallDir]),
    ...firewallPolicy(cfg.app, ports),
  ];
}

function firewallFilesSha(): string {
  return `${sha256(firewallScript)} ${sha256(renderFirewallUnit())}`;
}
