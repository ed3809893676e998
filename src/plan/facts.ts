/** What a host reports before anything is planned (server/facts.sh), as plain data. */
import type { HostAddress } from "../config/types.ts";
import { FIRST_WEB_PORTS, layout } from "../server-layout.ts";
import type { ReleaseMeta } from "./release.ts";

/** One release on a host: its release.json, and whether it ever went live. */
export interface ReleaseRecord extends ReleaseMeta {
  /** It passed its health check and went live at least once. */
  activated: boolean;
}

export interface HostFacts {
  host: HostAddress;
  arch: string;
  /** The login user (the one sudo was run by, when it was). */
  user: string;
  /** A non-root login can run commands as root with `sudo -n`; unset for a root login. */
  sudo?: boolean;
  systemd: boolean;
  caddy: boolean;
  zstd: boolean;
  /** nftables' nft is installed (setup's firewall needs it). */
  nft: boolean;
  /** sha256 of the installed switch script and Caddyfile ("" when absent). */
  switchSha: string;
  caddyfileSha: string;
  /** sha256 of qdeploy's caddy.service drop-in ("" when absent). */
  caddyDropInSha: string;
  /** "APPLY_SHA UNIT_SHA" of the firewall's script and unit (" " when absent). */
  firewallSha: string;
  /** This app's firewall ports file, one line ("" when absent). */
  firewallPorts: string;
  live: string | null;
  liveSlot: number | null;
  /** Who holds the deploy lock, or null. */
  lock: string | null;
  /**
   * The app's two web ports from the host's port registry (/srv/qdeploy/.ports); claimed
   * there when push reads the facts under the lock. null: the app has none on this host yet.
   */
  webPorts: [number, number] | null;
  /**
   * Releases in the order they went live and stayed, oldest first (audit.log; repeats
   * collapsed): one a refused wave switched back is left out (parseHistory).
   */
  history: string[];
  blobs: string[];
  /** Sorted by id, oldest first. */
  releases: ReleaseRecord[];
  /** Release directories without release.json (an interrupted push wrote them). */
  partial: string[];
  /**
   * Releases whose release.json cannot be read (truncated by a full disk, say): skipped, so
   * one bad file does not fail every later command, and reported (factWarnings). Never
   * pruned automatically: one may still be what `current` points at.
   */
  corrupt: string[];
  /** Add-ons (server/addon.sh): file name of the installed script and backup units -> its sha256. */
  addonFiles?: Record<string, string>;
  /** The add-ons this host keeps credentials for (provisioned, wired or not). */
  addons?: string[];
  /** The host's digest.key for release.json's configDigest (64 hex digits), "" or absent when it has none. */
  digestKey?: string;
  /** rsyslogd and its TLS driver are installed ([logs] drain needs them). */
  rsyslog?: boolean;
  /** "CONF_SHA UNIT_SHA" of the app's log drain files; "" when it has none. */
  logDrainSha?: string;
}

/** Facts of a host qdeploy never touched, for the offline plan and tests. */
export function freshHostFacts(host: HostAddress, arch: string): HostFacts {
  return { host, arch, user: "root", systemd: true, caddy: false, zstd: true, nft: false, switchSha: "", caddyfileSha: "", caddyDropInSha: "", firewallSha: "", firewallPorts: "", live: null, liveSlot: null, lock: null, webPorts: FIRST_WEB_PORTS, history: [], blobs: [], releases: [], partial: [], corrupt: [] };
}

/** Parses facts.sh's `key=value` lines. */
export function parseFacts(host: HostAddress, text: string): HostFacts {
  const one = new Map<string, string>();
  const releases: ReleaseRecord[] = [];
  const partial: string[] = [];
  const corrupt: string[] = [];
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === "release") {
      const record = parseRelease(value);
      if (typeof record === "string") corrupt.push(record);
      else releases.push(record);
    }
    else if (key === "partial") partial.push(value);
    else one.set(key, value);
  }
  const get = (k: string) => one.get(k) ?? "";
  if (!one.has("arch")) throw new Error(`unexpected facts from ${host.label}: ${text.slice(0, 200)}`);
  return {
    host,
    arch: get("arch"),
    user: get("user"),
    // Absent for a root login (and from an older facts.sh): not known, not needed.
    ...(get("sudo") !== "" && { sudo: get("sudo") === "1" }),
    systemd: get("systemd") === "1",
    caddy: get("caddy") === "1",
    zstd: get("zstd") === "1",
    nft: get("nft") === "1",
    switchSha: get("switch_sha"),
    caddyfileSha: get("caddyfile_sha"),
    caddyDropInSha: get("caddy_dropin_sha"),
    firewallSha: one.get("firewall_sha") ?? "",
    firewallPorts: get("firewall_ports"),
    live: get("live") || null,
    liveSlot: get("live_slot") ? Number(get("live_slot")) : null,
    lock: get("lock") || null,
    webPorts: parsePorts(get("ports")),
    history: parseHistory(get("history").split(/\s+/).filter(Boolean)),
    blobs: get("blobs").split(/\s+/).filter(Boolean),
    releases: releases.sort((a, b) => a.id.localeCompare(b.id)),
    partial,
    corrupt: corrupt.sort(),
    digestKey: /^[0-9a-f]{64}$/.test(get("digest_key")) ? get("digest_key") : "",
    addonFiles: Object.fromEntries(get("addon_files").split(/\s+/).filter(Boolean).map((w) => [w.slice(0, w.lastIndexOf(":")), w.slice(w.lastIndexOf(":") + 1)])),
    addons: get("addons").split(/\s+/).filter(Boolean),
    rsyslog: get("rsyslog") === "1",
    logDrainSha: get("logdrain_sha").trim(),
  };
}

/**
 * facts.sh's history words -> the releases that went live and stayed. `ID` went live; `-ID`
 * says a refused wave switched ID back (the next word is where it went), so ID is dropped
 * when it is the newest: it never passed the fleet and is nobody's previous good release.
 */
export function parseHistory(words: string[]): string[] {
  const history: string[] = [];
  for (const w of words) {
    if (w.startsWith("-")) {
      if (history.at(-1) === w.slice(1)) history.pop();
    } else if (history.at(-1) !== w) history.push(w);
  }
  return history;
}

function isShaMap(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}

function parsePorts(value: string): [number, number] | null {
  const m = /^(\d+) (\d+)$/.exec(value);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** One line per problem the facts show that the user should see, naming the host. */
export function factWarnings(facts: HostFacts, app: string): string[] {
  return facts.corrupt.map(
    (id) =>
      `${facts.host.label}: release ${id} has an unreadable release.json (truncated?): skipped; it cannot be rolled back to. ` +
      `Remove ${layout(app).release(id)} if it is not live`,
  );
}

/** `ACTIVATED ID JSON` (facts.sh) -> the record, or the directory's id when the JSON is unreadable. */
function parseRelease(value: string): ReleaseRecord | string {
  const [flag = "", dir = "", ...rest] = value.split(" ");
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(rest.join(" "));
  } catch {
    return dir;
  }
  if (typeof json !== "object" || json === null || typeof json.id !== "string" || typeof json.sha256 !== "string") return dir;
  return {
    id: String(json.id),
    created: String(json.created ?? ""),
    git: (json.git as string | null | undefined) ?? null,
    sha256: String(json.sha256 ?? ""),
    ...(isShaMap(json.binaries) && { binaries: json.binaries }),
    by: String(json.by ?? ""),
    configDigest: String(json.configDigest ?? ""),
    ...(isFrom(json.from) && { from: { env: json.from.env, release: json.from.release } }),
    activated: flag === "1",
  };
}

function isFrom(v: unknown): v is { env: string; release: string } {
  return typeof v === "object" && v !== null && typeof (v as { env?: unknown }).env === "string" && typeof (v as { release?: unknown }).release === "string";
}
