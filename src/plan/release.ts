/** The files that make up one release on a host, rendered purely from the config. */
import { createHash, createHmac } from "node:crypto";
import { wholeSeconds } from "../util/duration.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { renderCaddySite } from "../render/caddy.ts";
import { renderEnvFile } from "../render/env-file.ts";
import { renderUnits } from "../render/units.ts";
import { quote } from "../util/quote.ts";
import { unitNames } from "../server-layout.ts";

/** A release id: the UTC time as YYYYMMDDHHMMSS (sorts by time, like Capistrano's). */
export function releaseId(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** Metadata kept as release.json (no secret values). */
export interface ReleaseMeta {
  id: string;
  created: string;
  git: string | null;
  /** The primary binary's sha256 (build.binary's, else the first name's): what older qdeploys read. */
  sha256: string;
  /** Every binary in bin/ by name; absent in releases written before several binaries. */
  binaries?: Record<string, string>;
  by: string;
  /**
   * HMAC of everything the release holds but the binary (env file, site, switch.conf), keyed
   * with the host's digest.key: equal on one host means equal config, and without the key
   * (root-only on the host) a guessed secret cannot be confirmed from it.
   */
  configDigest: string;
  /** Promoted (qdeploy promote): the environment and release its programs and files are from. */
  from?: PromotedFrom;
}

/** Where a promoted release came from: another environment's release, by id. */
export interface PromotedFrom {
  env: string;
  release: string;
}

/** Everything a release holds besides its binary. */
export interface ReleaseFiles {
  env: string;
  units: Record<string, string>;
  site: string;
  switchConf: string;
}

/**
 * The env file's variables: [env], then secrets, then what qdeploy itself provides. The
 * webhook's signing secret ([serve] webhook_secret) and the GitHub token review apps post
 * statuses with ([serve] github_token) are qdeploy's, not the app's: left out.
 */
export function releaseVars(cfg: ResolvedConfig, secrets: Record<string, string>): Record<string, string> {
  const { [cfg.serve.webhookSecret]: _webhook, ...rest } = secrets;
  const { [cfg.serve.githubToken ?? ""]: _token, ...appSecrets } = rest;
  return { ...cfg.vars, ...appSecrets, QDEPLOY_APP: cfg.app, QDEPLOY_ENV: cfg.env };
}

/**
 * The settings the server-side switch reads for this release (sourced by bash). `ports`:
 * the web slots' pair the host gave the app (facts, from the host's port registry).
 */
export function renderSwitchConf(cfg: ResolvedConfig, units: Record<string, string>, ports: [number, number]): string {
  const [portA, portB] = ports;
  const procs = Object.keys(cfg.processes)
    .filter((p) => p !== "web")
    .sort()
    .map((p) => `${p}:${cfg.scale[p] ?? 1}`);
  const timers = [
    ...(cfg.restart ? [unitNames.restartTimer(cfg.app)] : []),
    ...cfg.jobs.map((j) => unitNames.jobTimer(cfg.app, j.name)),
    ...(units[unitNames.watchdogTimer(cfg.app)] ? [unitNames.watchdogTimer(cfg.app)] : []),
    ...(units[unitNames.usageTimer(cfg.app)] ? [unitNames.usageTimer(cfg.app)] : []),
  ];
  const web = cfg.web && (cfg.scale.web ?? 1) > 0;
  const lines = {
    WEB: web ? "1" : "0",
    HEALTH: cfg.web?.health ?? "",
    // bash counts whole seconds: a fraction rounds up (wholeSeconds).
    HEALTH_TIMEOUT: String(wholeSeconds(cfg.web?.healthTimeoutSec ?? 0)),
    PORT_A: String(portA),
    PORT_B: String(portB),
    PROCS: procs.join(" "),
    TIMERS: timers.join(" "),
    // Seconds from the new slot's first answer until Caddy may send it requests: none, as the
    // site has no active health check (caddy/site.caddy). A release written before says 0.7:
    // its site checked each slot every 500 ms, and a switch back to it waits that out.
    CADDY_SETTLE: "0",
    // Whole seconds the old web slot stays up as the warm standby after a push; 0: none
    // ("0" is off, not a standby of a second: wholeSeconds rounds up to at least 1).
    STANDBY: String((cfg.web?.standbySec ?? 0) > 0 ? wholeSeconds(cfg.web!.standbySec) : 0),
    // Whole seconds the live web slot may fail its health path before the watchdog restarts it; 0: off.
    ...(web && (cfg.web?.watchdogSec ?? 0) > 0 && { WATCHDOG: String(wholeSeconds(cfg.web!.watchdogSec)) }),
    // The switch installs units only when this differs from what it installed last.
    UNITS_DIGEST: digest(Object.entries(units).sort().flat()),
  };
  return Object.entries(lines).map(([k, v]) => `${k}=${quote(v)}\n`).join("");
}

/** Renders a release's files for this config, these secret values and the host's web ports. */
export function renderReleaseFiles(cfg: ResolvedConfig, secrets: Record<string, string>, ports: [number, number]): ReleaseFiles {
  const env = renderEnvFile(releaseVars(cfg, secrets));
  const units = renderUnits(cfg);
  const site = cfg.web ? renderCaddySite(cfg, ports) : "";
  const switchConf = renderSwitchConf(cfg, units, ports);
  return { env, units, site, switchConf };
}

/**
 * release.json's configDigest: HMAC-SHA256 over the env file, site and switch.conf, keyed
 * with `keyHex` (the host's digest.key, 32 random bytes). An unkeyed hash of the env file
 * would let anyone who reads release.json test guesses of a secret (a PIN, a short
 * password) offline; with the key that needs root on the host, which can read the env file.
 */
export function configDigest(files: ReleaseFiles, keyHex: string): string {
  if (!/^[0-9a-f]{64}$/.test(keyHex)) throw new Error("configDigest: the digest key must be 64 hex digits");
  const h = createHmac("sha256", Buffer.from(keyHex, "hex"));
  for (const part of [files.env, files.site, files.switchConf]) h.update(part).update("\0");
  return `hmac-sha256:${h.digest("hex")}`;
}

/** sha256 over the parts, each ended by a NUL so ["ab","c"] and ["a","bc"] differ. */
function digest(parts: string[]): string {
  const h = createHash("sha256");
  for (const part of parts) h.update(part).update("\0");
  return h.digest("hex");
}
