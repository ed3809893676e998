/** planPush: config + host facts + built artifacts -> the steps of a push. Pure. */
import path from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import type { HostFacts, ReleaseRecord } from "./facts.ts";
import { layout } from "../server-layout.ts";
import { switchCommands } from "../server-commands.ts";
import { planWaves } from "./waves.ts";
import { configDigest, type PromotedFrom, type ReleaseMeta, renderReleaseFiles } from "./release.ts";
import { planReleasePhase } from "./release-phase.ts";
import { dutyHost, hostConfig } from "./fleet.ts";
import { planSetup } from "./setup.ts";
import type { HostPlan, Plan, Step } from "./steps.ts";
import { blobName, describeSlug, missingBlobs, renderAppTree, type SlugEntry, slugEntries } from "./slug.ts";

/** One built binary: a file named by its sha256. */
export interface BinaryArtifact {
  path: string;
  sha256: string;
  size: number;
}

/** What was built for one host architecture (`uname -m`): every binary by its name in bin/. */
export interface Artifact {
  binaries: Record<string, BinaryArtifact>;
}

/**
 * The sha256 release.json keeps as `sha256` (what older qdeploys read and `releases` lists
 * first): build.binary's, else the first name's. Pure.
 */
export function primaryBinary(cfg: ResolvedConfig, binaries: Record<string, string>): string {
  const names = Object.keys(binaries).sort();
  const name = binaries[cfg.build.binary] !== undefined ? cfg.build.binary : names[0];
  if (name === undefined) throw new Error("a release without a binary");
  return binaries[name]!;
}

/** The app's files for the release (src/build/slug.ts's Slug, without where the bytes are read). */
export interface SlugInput {
  files: SlugEntry[];
  /** Tracked files left out (.slugignore, qdeploy's own), for the summary. */
  ignored: number;
  notes: string[];
}

/** A pack of the slug's blobs a host lacks (src/ops/slug-packs.ts): a tar named by its sha256. */
export interface PackArtifact {
  path: string;
  sha256: string;
  size: number;
  /** The blob names it holds, sorted: it must be exactly what the plan finds missing. */
  blobs: string[];
}

export interface PushInputs {
  config: ResolvedConfig;
  facts: HostFacts[];
  /** Keyed by the hosts' `uname -m`. */
  artifacts: Record<string, Artifact>;
  releaseId: string;
  created: string;
  git: string | null;
  who: string;
  secrets: Record<string, string>;
  /** 64 random hex digits: the digest key for a host that has none yet (facts.digestKey). */
  newDigestKey: string;
  /** The app's files; none: a release of the programs alone (app/bin). */
  slug?: SlugInput;
  /** By host label: the pack of slug blobs that host lacks (absent when it lacks none). */
  packs?: Record<string, PackArtifact>;
  /** A promotion: the environment and release the programs and files are taken from. */
  from?: PromotedFrom;
}

/**
 * The steps of `push` on every host of `facts` (the environment's, or those --hosts kept).
 * Each host's release holds what its roles run (hostConfig): its units, its site, its jobs.
 */
export function planPush(inp: PushInputs): Plan {
  const planned = inp.facts.map((facts): HostPlan => {
    const cfg = hostConfig(inp.config, facts.host);
    const artifact = inp.artifacts[facts.arch];
    if (!artifact) throw new Error(`no artifact built for ${facts.arch} (${facts.host.label})`);
    const digestKey = facts.digestKey || inp.newDigestKey;
    if (!digestKey) throw new Error(`no digest key for ${facts.host.label}: the host has none and none was made`);
    // Per host: each host gives the app its own pair of web ports (its port registry).
    if (!facts.webPorts) throw new Error(`${facts.host.label} reported no web ports for ${cfg.app} (facts read without claiming them)`);
    const files = renderReleaseFiles(cfg, inp.secrets, facts.webPorts);
    const binaries = Object.fromEntries(Object.entries(artifact.binaries).sort().map(([name, b]) => [name, b.sha256]));
    const meta: ReleaseMeta = {
      id: inp.releaseId,
      created: inp.created,
      git: inp.git,
      sha256: primaryBinary(cfg, binaries),
      binaries,
      by: inp.who,
      configDigest: configDigest(files, digestKey),
      ...(inp.from && { from: inp.from }),
    };
    const notes: string[] = [];
    const l = layout(cfg.app);
    const upload: Step[] = [];
    const slug = inp.slug ?? { files: [], ignored: 0, notes: [] };
    const { entries, notes: slugNotes } = slugEntries(slug.files, binaries);
    const missing = missingBlobs(entries, facts.blobs);
    notes.push(describeSlug(entries, missing, slug.ignored), ...slug.notes, ...slugNotes);
    const pack = missing.length ? inp.packs?.[facts.host.label] : undefined;
    if (missing.length && (!pack || pack.blobs.join(" ") !== missing.map(blobName).sort().join(" "))) {
      throw new Error(`${facts.host.label}: no pack of the ${missing.length} slug files it lacks`);
    }
    // One upload per blob the host lacks: a name linked to bytes already there costs nothing.
    const blobs = new Map<string, { b: BinaryArtifact; names: string[] }>();
    for (const [name, b] of Object.entries(artifact.binaries).sort()) {
      const entry = blobs.get(b.sha256) ?? { b, names: [] };
      entry.names.push(name);
      blobs.set(b.sha256, entry);
    }
    const single = blobs.size === 1 && Object.keys(artifact.binaries).length === 1;
    for (const [sha256, { b, names }] of blobs) {
      const what = single ? "binary" : `binary of ${names.join(", ")}`;
      if (facts.blobs.includes(sha256)) {
        notes.push(`${what} ${sha256.slice(0, 12)} is already on the host: nothing to upload`);
        continue;
      }
      const base = patchBase(facts, names, sha256);
      upload.push({
        kind: "upload",
        local: b.path,
        remote: l.blob(sha256),
        sha256,
        size: b.size,
        why: `the ${facts.arch} ${what}`,
        ...(base && { base: { local: path.join(path.dirname(b.path), base), remote: l.blob(base), sha256: base } }),
      });
    }
    if (pack) upload.push({ kind: "upload", local: pack.path, remote: l.pack(pack.sha256), sha256: pack.sha256, size: pack.size, why: `the slug's ${missing.length} new file${missing.length === 1 ? "" : "s"}` });
    const release = [
      // A host's first push leaves the key there; later pushes key their digests with it.
      ...(facts.digestKey
        ? []
        : [{ kind: "write", path: l.digestKey, content: `${digestKey}\n`, mode: 0o600, why: "the key of release.json's config digest", secret: true } as Step]),
      ...releaseSteps(cfg, meta, files, { tree: renderAppTree(meta.id, entries, binaries), files: entries.length, pack: pack && l.pack(pack.sha256) }),
    ];
    const activate: Step[] = [
      // Beside the switch (async): it removes nothing the switch or a rollback uses.
      ...planPrune(cfg, facts, inp.releaseId),
      { kind: "run", argv: switchCommands(cfg.app).activate(inp.releaseId, inp.who), why: "health-gated switch" },
    ];
    return { host: facts.host, arch: facts.arch, setup: planSetup(cfg, facts), upload, release, stage: [], activate, notes };
  });
  const cfg = inp.config;
  const hosts = withStage(planned, cfg, inp.releaseId, inp.who);
  // On the duty host (the one that runs one-host jobs) when this push reaches it, else on its first host.
  const duty = dutyHost(cfg).label;
  const phaseHost = hosts.find((h) => h.host.label === duty) ?? hosts[0];
  const phase = phaseHost ? planReleasePhase(cfg, inp.releaseId, phaseHost.host.label) : null;
  const releasePhase = phase && { ...phase, liveBefore: inp.facts.some((f) => f.live !== null) };
  if (releasePhase) phaseHost!.notes.push(`release phase: ${releasePhase.command} (once, here, before any host switches)`);
  return { action: "push", app: cfg.app, env: cfg.env, release: inp.releaseId, hosts, releasePhase };
}

/**
 * What a new binary goes as a patch against (its sha256): the live release's build of the same
 * program (else of its primary one), when the host still has that blob. Its copy here sits
 * beside the new one (the build folder keeps every build by its sha256); the upload sends the
 * whole file when it is not there.
 */
export function patchBase(facts: Pick<HostFacts, "live" | "releases" | "blobs">, names: string[], sha256: string): string | null {
  const live = facts.releases.find((r) => r.id === facts.live);
  if (!live) return null;
  const old = names.map((n) => live.binaries?.[n]).find((s) => s !== undefined) ?? live.sha256;
  return old !== sha256 && facts.blobs.includes(old) ? old : null;
}

/**
 * A rollout of more than one wave starts every host's slot before the first wave switches
 * (HostPlan.stage): the canary and each wave after it cost only the move of their traffic.
 */
export function withStage(hosts: HostPlan[], cfg: ResolvedConfig, release: string, who: string): HostPlan[] {
  if (planWaves(hosts, cfg.rollout).length < 2) return hosts;
  const stage: Step[] = [{ kind: "run", argv: switchCommands(cfg.app).stage(release, who), why: "start it beside the live release, out of traffic" }];
  return hosts.map((hp) => ({ ...hp, stage }));
}

/** The release's app folder: its tree of links (renderAppTree), how many files, the pack to unpack first. */
export interface AppFolder {
  tree: Uint8Array;
  files: number;
  pack?: string;
}

/**
 * Writes one release directory: its folders, a hard link per binary and the app folder (the
 * slug's files and the programs, hard links to blobs) from one tar, env file, units, site,
 * metadata.
 */
export function releaseSteps(cfg: ResolvedConfig, meta: ReleaseMeta, files: ReturnType<typeof renderReleaseFiles>, app: AppFolder): Step[] {
  const dir = layout(cfg.app).release(meta.id);
  const programs = meta.binaries ? Object.keys(meta.binaries).length : 1;
  const steps: Step[] = [
    ...(app.pack ? [{ kind: "run", argv: switchCommands(cfg.app).unpack(app.pack), why: "the slug's new files into blobs/" } as Step] : []),
    // The folder, its programs and app/ in one tar (one process where there were four), as
    // base64 text inside the batch script (a heredoc carries no NUL byte).
    { kind: "run", argv: switchCommands(cfg.app).link(meta.id), stdin: base64Lines(app.tree), why: `release ${meta.id}: ${programs === 1 ? "the program" : `${programs} programs`} and the app folder (${app.files} file${app.files === 1 ? "" : "s"})` },
    { kind: "write", path: `${dir}/env`, content: files.env, mode: 0o600, why: "config and secrets", secret: true, fresh: true },
    { kind: "write", path: `${dir}/switch.conf`, content: files.switchConf, mode: 0o644, why: "what the switch runs", fresh: true },
  ];
  if (files.site) steps.push({ kind: "write", path: `${dir}/site.caddy`, content: files.site, mode: 0o644, why: "the Caddy site", fresh: true });
  for (const [name, content] of Object.entries(files.units).sort()) {
    steps.push({ kind: "write", path: `${dir}/units/${name}`, content, mode: 0o644, why: "systemd unit", fresh: true });
  }
  // Last, so a release.json marks a complete release directory; atomically (not fresh), so
  // a full disk or a dropped connection never leaves a truncated one.
  steps.push({ kind: "write", path: `${dir}/release.json`, content: `${JSON.stringify(meta)}\n`, mode: 0o644, why: "release record" });
  return steps;
}

/** Base64 in lines of 76 characters. */
function base64Lines(bytes: Uint8Array): string {
  return (Buffer.from(bytes).toString("base64").match(/.{1,76}/g) ?? []).join("\n");
}

/**
 * The prune spares a blob nothing links until it is this old: a push sends its binary while
 * it takes the lock (src/ops/early-upload.ts), before its release links it.
 */
export const PRUNE_AFTER_MIN = 10;

/**
 * Removes releases beyond the newest `keepReleases`, `newId` counted, never the new one and
 * never the one live now (the last good release, and the rollback target once `newId` is
 * live, however old it is), and the half-written directories of interrupted pushes. Async
 * steps: they run while the switch starts the new release (they touch neither), so a push
 * whose release fails its health check has pruned as if it had gone live.
 */
export function planPrune(cfg: ResolvedConfig, facts: Pick<HostFacts, "releases" | "partial" | "live">, newId: string): Step[] {
  const l = layout(cfg.app);
  const existing = facts.releases;
  const ids = [...new Set([...existing.map((r) => r.id), newId])].sort().reverse();
  const keep = new Set([newId, facts.live]);
  // Directories without release.json are writes an interrupted push left: never a release.
  const doomed = [...ids.slice(cfg.keepReleases).filter((id) => !keep.has(id)), ...facts.partial.filter((id) => id !== newId)];
  const steps: Step[] = doomed.map((id) => ({ kind: "run", argv: ["rm", "-rf", l.release(id)], why: `prune release ${id}`, async: true }));
  steps.push({
    kind: "run",
    async: true,
    argv: ["find", l.blobs, "-maxdepth", "1", "-type", "f", "-links", "1", "-mmin", `+${PRUNE_AFTER_MIN}`, "-name", "[0-9a-f]*", "-delete"],
    why: "remove binaries no release uses",
  });
  return steps;
}

/**
 * The release `rollback` goes back to from `live`: the one that was live before it, by the
 * audit trail (`history`, oldest first, without releases a refused wave switched back), if it
 * is still on the host; after a rollback that is the release rolled back from, not an older one. Without a usable trail (hosts of older
 * qdeploys), the newest older release that went live.
 */
export function rollbackTarget(releases: ReleaseRecord[], live: string | null, history: string[] = []): ReleaseRecord | null {
  const good = new Map(releases.filter((r) => r.activated).map((r) => [r.id, r]));
  const at = live === null ? -1 : history.lastIndexOf(live);
  for (let i = (at < 0 ? history.length : at) - 1; i >= 0; i--) {
    const r = history[i] !== live ? good.get(history[i]!) : undefined;
    if (r) return r;
  }
  const older = [...good.values()].filter((r) => live === null || r.id < live);
  return older.sort((a, b) => a.id.localeCompare(b.id)).at(-1) ?? null;
}
