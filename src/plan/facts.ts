/** What a host reports before anything is planned (server/facts.sh), as plain data. */
import type { HostAddress } from "../config/types.ts";
import type { ReleaseMeta } from "./release.ts";

/** One release on a host: its release.json, and whether it ever went live. */
export interface ReleaseRecord extends ReleaseMeta {
  /** It passed its health check and went live at least once. */
  activated: boolean;
}

export interface HostFacts {
  host: HostAddress;
  arch: string;
  user: string;
  systemd: boolean;
  caddy: boolean;
  zstd: boolean;
  /** sha256 of the installed switch script and Caddyfile ("" when absent). */
  switchSha: string;
  caddyfileSha: string;
  live: string | null;
  liveSlot: number | null;
  /** Who holds the deploy lock, or null. */
  lock: string | null;
  /**
   * The app's two web ports from the host's port registry (/srv/qdeploy/.ports); claimed
   * there when push reads the facts under the lock. null: the app has none on this host yet.
   */
  webPorts: [number, number] | null;
  /** Releases in the order they went live, oldest first (audit.log; repeats collapsed). */
  history: string[];
  blobs: string[];
  /** Sorted by id, oldest first. */
  releases: ReleaseRecord[];
  /** Release directories without release.json (an interrupted push wrote them). */
  partial: string[];
}

/** Parses facts.sh's `key=value` lines. */
export function parseFacts(host: HostAddress, text: string): HostFacts {
  const one = new Map<string, string>();
  const releases: ReleaseRecord[] = [];
  const partial: string[] = [];
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === "release") releases.push(parseRelease(value));
    else if (key === "partial") partial.push(value);
    else one.set(key, value);
  }
  const get = (k: string) => one.get(k) ?? "";
  if (!one.has("arch")) throw new Error(`unexpected facts from ${host.label}: ${text.slice(0, 200)}`);
  return {
    host,
    arch: get("arch"),
    user: get("user"),
    systemd: get("systemd") === "1",
    caddy: get("caddy") === "1",
    zstd: get("zstd") === "1",
    switchSha: get("switch_sha"),
    caddyfileSha: get("caddyfile_sha"),
    live: get("live") || null,
    liveSlot: get("live_slot") ? Number(get("live_slot")) : null,
    lock: get("lock") || null,
    webPorts: parsePorts(get("ports")),
    history: get("history").split(/\s+/).filter(Boolean),
    blobs: get("blobs").split(/\s+/).filter(Boolean),
    releases: releases.sort((a, b) => a.id.localeCompare(b.id)),
    partial,
  };
}

function parsePorts(value: string): [number, number] | null {
  const m = /^(\d+) (\d+)$/.exec(value);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

function parseRelease(value: string): ReleaseRecord {
  const space = value.indexOf(" ");
  const activated = value.slice(0, space) === "1";
  const json = JSON.parse(value.slice(space + 1));
  return {
    id: String(json.id),
    created: String(json.created ?? ""),
    git: json.git ?? null,
    sha256: String(json.sha256 ?? ""),
    by: String(json.by ?? ""),
    configDigest: String(json.configDigest ?? ""),
    activated,
  };
}
