/** `plan`: what a push would do on fresh hosts of one arch, built for real, touching no server. */
import { goTarget, platformName } from "../build/arch.ts";
import { buildDir, buildForArchs } from "../build/builds.ts";
import { addonArgv, addonsOn, planAddonFiles } from "../plan/addons.ts";
import { freshHostFacts } from "../plan/facts.ts";
import { planPush } from "../plan/push.ts";
import { releaseId, releaseVars } from "../plan/release.ts";
import type { Plan, Step } from "../plan/steps.ts";
import { loadSecrets } from "../secrets/store.ts";
import type { OpContext } from "./context.ts";
import { newDigestKey } from "./deploy.ts";
import { writeSlugPacks } from "./slug-packs.ts";

/** A push's plan as it may be shown: secret files' contents masked (withoutSecretFiles); the values themselves go to op.redactor. */
export interface PushPreview {
  plan: Plan;
  /** What the preview could not do as a push would (secrets it could not load). */
  notes: string[];
  /** The Go platform built for, `linux/arm64`. */
  platform: string;
  /**
   * The env file's variable names. They come from the variables themselves: the file's text
   * cannot be split into lines to find them, since a value (a PEM key) may hold newlines.
   */
  envNames: string[];
}

/** `qdeploy plan ENV`: builds for `arch` (the hosts' `uname -m`) and plans a push to fresh hosts. */
export async function previewPush(op: OpContext, arch: string): Promise<PushPreview> {
  const cfg = op.cfg;
  const platform = platformName(goTarget(arch)); // a clear error for an unknown arch before building
  // Unlike push, a plan without the secrets' key still shows everything but their values.
  let secrets: Record<string, string> = {};
  const notes: string[] = [];
  try {
    secrets = await loadSecrets(cfg, { identityFile: op.identityFile });
  } catch (e) {
    notes.push(`secrets not loaded (${(e as Error).message.split("\n")[0]}); push needs them`);
  }
  // go's output or a unit's text could echo a value: the edge hides them from all it prints.
  op.redactor.hide(Object.values(secrets));
  const builds = await (op.build ?? buildForArchs)(cfg, [arch], op.events);
  const facts = cfg.hosts.map((host) => freshHostFacts(host, arch));
  const now = new Date();
  const packs = builds.slug ? await writeSlugPacks(builds.slug, facts, builds.artifacts, buildDir(cfg)) : {};
  // The add-ons' URLs are made on their hosts: a stand-in of each, so the env file has its name.
  const withAddons = { ...secrets, ...Object.fromEntries(cfg.addons.map((a) => [a.var, `(add-on ${a.name}'s URL)`])) };
  const plan = planPush({ config: cfg, facts, artifacts: builds.artifacts, releaseId: releaseId(now), created: now.toISOString(), git: builds.git, who: op.who, secrets: withAddons, newDigestKey: newDigestKey(), slug: builds.slug, packs });
  return { plan: withoutSecretFiles(withAddonSteps(cfg, plan)), notes, platform, envNames: Object.keys(releaseVars(cfg, withAddons)).sort() };
}

/** What push does for the add-ons on each host before the build is waited for (src/ops/addons.ts provisionAddons), shown as setup steps. */
function withAddonSteps(cfg: OpContext["cfg"], p: Plan): Plan {
  return {
    ...p,
    hosts: p.hosts.map((h) => {
      const addons = addonsOn(cfg, h.host.label);
      const ensure = addons.map((a): Step => ({ kind: "run", argv: addonArgv(cfg, "ensure", a), why: `add-on ${a.name}: ${a.service} installed and running, its database and credentials; its URL becomes ${a.var}` }));
      return { ...h, setup: [...h.setup, ...planAddonFiles(cfg, addons, null), ...ensure] };
    }),
  };
}

/**
 * The plan with every secret file's content (the env file, the digest key) masked: as many
 * "*" as it has bytes, so the plan still tells each file's size.
 */
function withoutSecretFiles(p: Plan): Plan {
  const mask = (steps: Step[]) => steps.map((s) => (s.kind === "write" && s.secret ? { ...s, content: "*".repeat(Buffer.byteLength(s.content)) } : s));
  return { ...p, hosts: p.hosts.map((h) => ({ ...h, setup: mask(h.setup), upload: mask(h.upload), release: mask(h.release), stage: mask(h.stage), activate: mask(h.activate) })) };
}
