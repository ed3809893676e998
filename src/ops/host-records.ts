/**
 * What the last push saw of each host, for the next push to start before the facts are back:
 * the host's arch (the early build, src/ops/deploy.ts) and, per app, what it was sent (the
 * early upload patches against it, ./early-upload.ts). One record per host label, in
 * .qdeploy/hosts.json; an older qdeploy's .qdeploy/host-archs.json ({label: arch}) is read
 * while there is no hosts.json. A lost or broken record costs the next push its head start,
 * nothing else.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../config/types.ts";

/** The blobs a push left live for one app on a host, and the compression the host reads. */
export interface SentBlobs {
  compression: "zstd" | "gzip";
  binaries: Record<string, string>;
}

/** One host as the last push saw it. */
export interface HostRecord {
  arch: string;
  sent?: Record<string, SentBlobs>;
}

/** What the early upload needs: the host's arch and what it was sent for this app. */
export type SentRecord = { arch: string } & SentBlobs;

const recordFile = (root: string) => path.join(root, ".qdeploy", "hosts.json");
const olderArchFile = (root: string) => path.join(root, ".qdeploy", "host-archs.json");

async function readRecords(root: string): Promise<Record<string, HostRecord>> {
  const json = async (file: string) => JSON.parse(await readFile(file, "utf8")) as unknown;
  const all = await json(recordFile(root)).catch(() => json(olderArchFile(root)).catch(() => ({})));
  if (typeof all !== "object" || all === null) return {};
  const records: Record<string, HostRecord> = {};
  for (const [label, r] of Object.entries(all)) {
    if (typeof r === "string") records[label] = { arch: r };
    else if (typeof r === "object" && r !== null && typeof r.arch === "string") records[label] = r as HostRecord;
  }
  return records;
}

async function updateRecords(root: string, change: (records: Record<string, HostRecord>) => void): Promise<void> {
  const records = await readRecords(root);
  change(records);
  await mkdir(path.dirname(recordFile(root)), { recursive: true });
  await writeFile(recordFile(root), `${JSON.stringify(records, null, 1)}\n`);
}

/** The hosts' architectures as the last push saw them, if it saw every one of them. */
export async function lastKnownArchs(cfg: ResolvedConfig): Promise<string[] | null> {
  const records = await readRecords(cfg.root);
  const archs = cfg.hosts.map((h) => records[h.label]?.arch);
  return archs.every(Boolean) ? [...new Set(archs as string[])] : null;
}

/** Records each host's architecture for the next push's early build. */
export async function rememberArchs(cfg: ResolvedConfig, facts: { host: { label: string }; arch: string }[]): Promise<void> {
  await updateRecords(cfg.root, (records) => {
    for (const f of facts) {
      const r = records[f.host.label];
      // Another arch (the host was replaced) makes what it was sent meaningless.
      records[f.host.label] = r?.arch === f.arch ? r : { arch: f.arch };
    }
  });
}

/** What the last push sent this app on each of these hosts, where recorded well-formed (its shas name paths there). */
export async function lastSent(cfg: ResolvedConfig, labels: string[]): Promise<Map<string, SentRecord>> {
  const records = await readRecords(cfg.root);
  const sha = /^[0-9a-f]{64}$/;
  const sent = new Map<string, SentRecord>();
  for (const label of labels) {
    const r = records[label];
    const s = r?.sent?.[cfg.app];
    if (!r || !s || !["zstd", "gzip"].includes(s.compression) || typeof s.binaries !== "object" || s.binaries === null) continue;
    if (Object.values(s.binaries).every((v) => typeof v === "string" && sha.test(v))) sent.set(label, { arch: r.arch, compression: s.compression, binaries: s.binaries });
  }
  return sent;
}

/** Records what a push left live on these hosts, for the next push's early upload. */
export async function recordSent(cfg: ResolvedConfig, sent: { label: string; record: SentRecord }[]): Promise<void> {
  if (!sent.length) return;
  await updateRecords(cfg.root, (records) => {
    for (const { label, record } of sent) {
      const r = records[label]?.arch === record.arch ? records[label]! : { arch: record.arch };
      r.sent = { ...r.sent, [cfg.app]: { compression: record.compression, binaries: record.binaries } };
      records[label] = r;
    }
  });
}
