/**
 * Review apps (`[previews]`): what a preview is, as a config. A preview is an app of its own,
 * APP-NAME (hello-pr-7), on the first host of the previews' environment: its own units, web
 * ports, env file, release directory and add-on databases, its own name under the wildcard
 * domain. Everything else (the build, the processes, the secrets, the env) is that
 * environment's. Pure.
 */
import type { HostAddress, PreviewIdentity, ResolvedConfig, ResolvedPreviews } from "../config/types.ts";
import { resolveResources } from "../config/resources.ts";
import { UsageError } from "../errors.ts";

/** A preview's name: pr-N for a pull request, br-SLUG for a branch deployed by hand. */
export const PREVIEW_NAME = /^(pr-[1-9][0-9]{0,6}|br-[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?)$/;

/** Linux user names (the app's user is its name) are 32 characters at most. */
const APP_NAME_MAX = 32;

/** Limits a preview's processes get when the environment gives them none: one of Heroku's basic dynos, one CPU at most. */
export const PREVIEW_RESOURCES = resolveResources({ size: "basic", cpu: 1 });

/** The preview of pull request n. */
export function prPreview(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 9_999_999) throw new UsageError(`${n} is not a pull request number`);
  return `pr-${n}`;
}

/** The preview of a branch deployed by hand: br- and the branch in lowercase letters, digits and -, 20 at most. */
export function branchPreview(branch: string): string {
  const slug = branch.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 20).replace(/-+$/, "");
  if (!slug) throw new UsageError(`branch ${JSON.stringify(branch)} has no letter or digit to name a preview after: give --pr N`);
  return `br-${slug}`;
}

/** The app a preview runs as. */
export function previewApp(app: string, name: string): string {
  if (!PREVIEW_NAME.test(name)) throw new UsageError(`"${name}" is not a preview's name (pr-N, or br- and a branch)`);
  const full = `${app}-${name}`;
  if (full.length > APP_NAME_MAX) {
    throw new UsageError(`the preview's app name ${full} is over ${APP_NAME_MAX} characters (it names a Linux user): a shorter app name in deploy.toml leaves room for -${name}`);
  }
  return full;
}

/** Where a preview answers: its name under the wildcard's suffix. */
export function previewDomain(previews: ResolvedPreviews, name: string): string {
  return `${name}.${previews.domainSuffix}`;
}

/** The host previews run on: the environment's first that runs its processes. */
export function previewHost(base: ResolvedConfig): HostAddress {
  const host = base.hosts.find((h) => !base.addonOnlyHosts.some((a) => a.label === h.label));
  if (!host) throw new UsageError(`environment ${base.env} has no host to run previews on`);
  return host;
}

/**
 * The config a preview deploys with, from the previews' environment's (`base`, already the
 * commit's config with the served places: src/serve/actions.ts servedCommitConfig):
 * - app APP-NAME, on the environment's first host (and the hosts its add-ons run on);
 * - web at NAME.SUFFIX, no warm standby (memory for a rollback nobody makes);
 * - every process at scale 1 at most, with PREVIEW_RESOURCES unless [resources] gives its own;
 * - no scheduled jobs or restart timer (a preview should not mail anyone at 3 am), no firewall
 *   change (the environment's own app owns the host's policy), no [[notify]], no local hooks;
 * - QDEPLOY_PREVIEW (and QDEPLOY_PR_NUMBER, QDEPLOY_BRANCH) in its env, as Heroku's
 *   HEROKU_PR_NUMBER and HEROKU_BRANCH.
 * Its add-ons keep their definitions: being the app's, each preview's are its own, created empty
 * (with previews.seed, a new preview's Postgres ones are then filled from the environment's
 * newest backup: src/ops/review-apps.ts). `first`: the preview's first deploy, whose release
 * phase then runs previews.scrub after its own command.
 */
export function previewConfig(base: ResolvedConfig, id: PreviewIdentity, first = false): ResolvedConfig {
  const previews = base.previews;
  if (!previews) throw new UsageError("deploy.toml has no [previews] table");
  if (base.env !== previews.environment) throw new Error(`previewConfig: ${base.env} is not the previews' environment (${previews.environment})`);
  const app = previewApp(base.app, id.name);
  const host = previewHost(base);
  const addonHosts = base.hosts.filter((h) => h.label !== host.label && base.addons.some((a) => a.host === h.label));
  const processes = Object.keys(base.processes);
  return {
    ...base,
    app,
    hosts: [host, ...addonHosts],
    roles: null,
    addonOnlyHosts: addonHosts,
    rollout: { batch: null, pauseSec: 0 },
    release: first && previews.scrub ? scrubbing(base.release, previews.scrub) : base.release,
    web: base.web && { ...base.web, domains: [previewDomain(previews, id.name)], standbySec: 0 },
    scale: Object.fromEntries(Object.entries(base.scale).map(([p, n]) => [p, Math.min(n, 1)])),
    resources: Object.fromEntries(processes.map((p) => [p, base.resources[p] ?? PREVIEW_RESOURCES])),
    restart: null,
    jobs: [],
    firewall: null,
    notify: [],
    hooks: { commands: {}, timeoutSec: base.hooks.timeoutSec, ...(base.hooks.remotePostDeploy !== undefined && { remotePostDeploy: base.hooks.remotePostDeploy }) },
    vars: {
      ...base.vars,
      QDEPLOY_PREVIEW: id.name,
      ...(id.pr !== undefined && { QDEPLOY_PR_NUMBER: String(id.pr) }),
      ...(id.branch !== undefined && { QDEPLOY_BRANCH: id.branch }),
    },
    keepReleases: 2,
    previews: null,
    preview: { ...id, of: base.app },
  };
}

/** Default release phase time limit (release_timeout), when only the scrub runs. */
const SCRUB_TIMEOUT_SEC = 600;

/** The release phase of a seeded preview's first deploy: its command, then the scrub, in one bash. */
function scrubbing(release: ResolvedConfig["release"], scrub: string): NonNullable<ResolvedConfig["release"]> {
  return release ? { ...release, command: `${release.command} && ${scrub}` } : { command: scrub, timeoutSec: SCRUB_TIMEOUT_SEC };
}

/** A preview as the host records it (preview.json in its app folder) and `previews list` shows it. */
export interface PreviewRecord {
  name: string;
  /** The app it previews. */
  of: string;
  app: string;
  url: string | null;
  pr?: number;
  branch?: string;
  commit?: string;
  /** When it was made, and last deployed (ISO). */
  created: string;
  updated: string;
  /** Its first deploy failed: the next one is a first one again (seeded and scrubbed anew). */
  failed?: boolean;
}

/** Whether a deploy of a preview is its first: none yet, or one whose first deploy failed. */
export function firstDeploy(before: PreviewRecord | undefined): boolean {
  return !before || before.failed === true;
}

/** The record a deploy writes: the first one's created time is kept. */
export function previewRecord(cfg: ResolvedConfig, commit: string | undefined, now: Date, before: PreviewRecord | undefined): PreviewRecord {
  const id = cfg.preview;
  if (!id) throw new Error("previewRecord: not a preview's config");
  const domain = cfg.web?.domains[0];
  return {
    name: id.name,
    of: id.of,
    app: cfg.app,
    url: domain ? `https://${domain}/` : null,
    ...(id.pr !== undefined && { pr: id.pr }),
    ...(id.branch !== undefined && { branch: id.branch }),
    ...(commit !== undefined && { commit }),
    created: before?.created ?? now.toISOString(),
    updated: now.toISOString(),
  };
}

/** When a preview expires: ttl after its last deploy. */
export function expiresAt(record: PreviewRecord, previews: ResolvedPreviews): Date {
  return new Date(Date.parse(record.updated) + previews.ttlSec * 1000);
}

/**
 * Whether one more preview may be made: an existing one is always updated; a new one only
 * under the limit. Returns the refusal, or null.
 */
export function overLimit(live: PreviewRecord[], name: string, previews: ResolvedPreviews): string | null {
  if (live.some((p) => p.name === name) || live.length < previews.max) return null;
  return `${live.length} previews are alive, previews.max is ${previews.max}: ${live.map((p) => p.name).join(", ")}. Close a pull request or run qdeploy previews destroy NAME first`;
}
