/**
 * Heroku's app.json manifest (https://devcenter.heroku.com/articles/app-json-schema): the
 * parts qdeploy uses. `env` (a string value, or {description, value, required (default
 * true), generator: "secret"}), `addons` ("service[:plan]" or {plan, as, options}),
 * `formation` ({TYPE: {quantity, size}}), `scripts` (postdeploy, pr-predestroy), `buildpacks`
 * ([{url}]), `name`, `description`. Other keys (keywords, logo, environments, stack, ...)
 * are Heroku's alone and ignored. `qdeploy init` turns it into deploy.toml and a list of
 * what to set; `qdeploy check` reports the config vars it requires that an environment lacks.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { ConfigProblem } from "../errors.ts";
import { envValueProblem } from "../render/env-value.ts";
import { parseJsonWithLines } from "./json.ts";
import { formatPath, lineOf, type KeyLines, type KeyPath } from "./locate.ts";
import { reservedVar } from "./rules.ts";
import { ENV_VAR_PATTERN } from "./schema.ts";

/** One config var of `env`. */
export interface AppJsonVar {
  name: string;
  /** Its value: a string entry, or the object's `value`. */
  value?: string;
  description?: string;
  /** False only when app.json says `"required": false`. */
  required: boolean;
  generator?: "secret";
}

/** One add-on: `plan` as written ("heroku-postgresql:mini"), `service` the part before ":". */
export interface AppJsonAddon {
  plan: string;
  service: string;
  /** The attachment name: its config vars are AS_URL and so on. */
  as?: string;
}

/** app.json, read and checked. */
export interface AppJson {
  /** As given to parseAppJson, for messages. */
  file: string;
  name?: string;
  description?: string;
  env: AppJsonVar[];
  addons: AppJsonAddon[];
  /** In the file's order. */
  formation: { process: string; quantity?: number; size?: string }[];
  postdeploy?: string;
  prPredestroy?: string;
  /** Each buildpack's url. */
  buildpacks: string[];
  /** The line of each key path (`env.NAME`, `addons[0]`). */
  lines: KeyLines;
}

/** A config var the app needs before it starts (app.json's own, or a known add-on's). */
export interface AppVarNeed {
  name: string;
  /** Where app.json asks for it: ["env", NAME] or ["addons", i]. */
  path: KeyPath;
  /** generator "secret": Heroku makes a random value. */
  generator: boolean;
  /** The add-on's service, when it is an add-on's var. */
  addon?: string;
}

/** Where an environment's secrets come from, for messages: the store kind and its file (or `secrets.names`). */
export interface StoreRef {
  kind: "age" | "env" | "command";
  where: string;
}

/** Parses and checks app.json text: the manifest, or null and every problem (each with its line). */
export function parseAppJson(text: string, file: string): { manifest: AppJson | null; problems: ConfigProblem[] } {
  const parsed = parseJsonWithLines(text);
  if ("error" in parsed) {
    const { line, column, message } = parsed.error;
    return { manifest: null, problems: [{ file, line, column, path: "", message: `invalid JSON: ${message} (column ${column})` }] };
  }
  const { value, lines } = parsed;
  const problems: ConfigProblem[] = [];
  const add = (p: KeyPath, message: string) => {
    const line = lineOf(lines, p) ?? 1;
    problems.push({ file, line, path: formatPath(p), message });
  };
  if (!isObject(value)) {
    add([], "must be a JSON object ({ ... })");
    return { manifest: null, problems };
  }
  const manifest: AppJson = { file, env: [], addons: [], formation: [], buildpacks: [], lines };
  for (const key of ["name", "description"] as const) {
    if (value[key] === undefined) continue;
    if (typeof value[key] === "string") manifest[key] = value[key];
    else add([key], "must be a string");
  }
  readEnv(value.env, manifest, add);
  readAddons(value.addons, manifest, add);
  readFormation(value.formation, manifest, add);
  readScripts(value.scripts, manifest, add);
  readBuildpacks(value.buildpacks, manifest, add);
  return problems.length ? { manifest: null, problems } : { manifest, problems: [] };
}

type Add = (p: KeyPath, message: string) => void;

function readEnv(env: unknown, m: AppJson, add: Add): void {
  if (env === undefined) return;
  if (!isObject(env)) return add(["env"], "must be an object: config var name -> value or {description, value, required, generator}");
  for (const [name, entry] of Object.entries(env)) {
    const at: KeyPath = ["env", name];
    if (!new RegExp(ENV_VAR_PATTERN).test(name)) {
      add(at, `"${name}" is not a valid variable name (${ENV_VAR_PATTERN})`);
      continue;
    }
    if (typeof entry === "string") {
      const why = envValueProblem(entry);
      if (why) add(at, why);
      m.env.push({ name, value: entry, required: true });
      continue;
    }
    if (!isObject(entry)) {
      add(at, "must be a string (its value) or an object (description, value, required, generator)");
      continue;
    }
    const v: AppJsonVar = { name, required: true };
    if (entry.description !== undefined) {
      if (typeof entry.description === "string") v.description = entry.description;
      else add([...at, "description"], "must be a string");
    }
    if (entry.value !== undefined) {
      if (typeof entry.value !== "string") add([...at, "value"], "must be a string");
      else {
        const why = envValueProblem(entry.value);
        if (why) add([...at, "value"], why);
        v.value = entry.value;
      }
    }
    if (entry.required !== undefined) {
      if (typeof entry.required === "boolean") v.required = entry.required;
      else add([...at, "required"], "must be true or false");
    }
    if (entry.generator !== undefined) {
      if (entry.generator === "secret") v.generator = "secret";
      else add([...at, "generator"], 'must be "secret" (the only generator)');
    }
    m.env.push(v);
  }
}

function readAddons(addons: unknown, m: AppJson, add: Add): void {
  if (addons === undefined) return;
  if (!Array.isArray(addons)) return add(["addons"], "must be a list of add-ons");
  const shape = 'must be a plan ("heroku-postgresql", "heroku-postgresql:essential-0") or an object with a plan';
  addons.forEach((a, i) => {
    if (typeof a === "string" && a.trim() !== "") {
      m.addons.push({ plan: a, service: serviceOf(a) });
      return;
    }
    if (!isObject(a)) return add(["addons", i], shape);
    if (typeof a.plan !== "string" || a.plan.trim() === "") {
      return add(["addons", i, "plan"], a.plan === undefined ? 'missing (required): the add-on\'s plan, e.g. "heroku-postgresql"' : shape);
    }
    if (a.as !== undefined && typeof a.as !== "string") return add(["addons", i, "as"], "must be a string");
    m.addons.push({ plan: a.plan, service: serviceOf(a.plan), ...(typeof a.as === "string" && a.as !== "" && { as: a.as }) });
  });
}

function readFormation(formation: unknown, m: AppJson, add: Add): void {
  if (formation === undefined) return;
  if (!isObject(formation)) return add(["formation"], "must be an object: process type -> {quantity, size}");
  for (const [process, f] of Object.entries(formation)) {
    if (!isObject(f)) {
      add(["formation", process], "must be an object: {quantity, size}");
      continue;
    }
    const entry: AppJson["formation"][number] = { process };
    if (f.quantity !== undefined) {
      if (typeof f.quantity === "number" && Number.isInteger(f.quantity) && f.quantity >= 0) entry.quantity = f.quantity;
      else add(["formation", process, "quantity"], "must be an integer, 0 or more");
    }
    if (f.size !== undefined) {
      if (typeof f.size === "string") entry.size = f.size;
      else add(["formation", process, "size"], "must be a string");
    }
    m.formation.push(entry);
  }
}

function readScripts(scripts: unknown, m: AppJson, add: Add): void {
  if (scripts === undefined) return;
  if (!isObject(scripts)) return add(["scripts"], "must be an object: postdeploy, pr-predestroy");
  for (const [key, field] of [["postdeploy", "postdeploy"], ["pr-predestroy", "prPredestroy"]] as const) {
    const s = scripts[key];
    if (s === undefined) continue;
    if (typeof s === "string") m[field] = s;
    else add(["scripts", key], "must be a string");
  }
}

function readBuildpacks(buildpacks: unknown, m: AppJson, add: Add): void {
  if (buildpacks === undefined) return;
  if (!Array.isArray(buildpacks)) return add(["buildpacks"], "must be a list of buildpacks");
  buildpacks.forEach((b, i) => {
    if (isObject(b) && typeof b.url === "string") m.buildpacks.push(b.url);
    else add(["buildpacks", i], 'must be an object with a url, e.g. {"url": "heroku/go"}');
  });
}

/**
 * Reads dir/app.json. No file: no manifest and no problem. `shown` names the file in
 * problems (default: its path).
 */
export async function readAppJson(dir: string, shown?: string): Promise<{ manifest: AppJson | null; problems: ConfigProblem[] }> {
  const file = path.join(dir, "app.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { manifest: null, problems: [] };
    return { manifest: null, problems: [{ file: shown ?? file, path: "", message: `cannot read: ${(e as Error).message}` }] };
  }
  return parseAppJson(text, shown ?? file);
}

/** Add-ons whose config vars are known: what the service is, and its default attachment name (vars are NAME_URL). */
const KNOWN_ADDONS: Record<string, { what: string; attachment: string; service: "postgres" | "redis" }> = {
  "heroku-postgresql": { what: "a PostgreSQL database", attachment: "DATABASE", service: "postgres" },
  "heroku-redis": { what: "a Redis", attachment: "REDIS", service: "redis" },
  rediscloud: { what: "a Redis", attachment: "REDISCLOUD", service: "redis" },
  redistogo: { what: "a Redis", attachment: "REDISTOGO", service: "redis" },
  openredis: { what: "a Redis", attachment: "OPENREDIS", service: "redis" },
};

/**
 * What an add-on gives the app on Heroku: the service it is (null: not known here) and the
 * config vars it sets (`as` renames them: `as: "CACHE"` sets CACHE_URL). `hint`: where its
 * job goes in qdeploy instead, for add-ons that set no var.
 */
export function addonNeeds(addon: AppJsonAddon): { what: string | null; vars: string[]; hint?: string; service?: "postgres" | "redis" } {
  const known = KNOWN_ADDONS[addon.service];
  if (known) return { what: known.what, vars: [`${addon.as ?? known.attachment}_URL`], service: known.service };
  if (addon.service === "scheduler") return { what: null, vars: [], hint: "Heroku Scheduler's jobs are [[jobs]] in deploy.toml (name, command, at)" };
  return { what: null, vars: [] };
}

/**
 * The config vars that must exist before the app starts: each `env` var with generator
 * "secret" or with no value and `required` not false, then each known add-on's vars; once
 * each (the first mention wins), never PORT or QDEPLOY_* (qdeploy sets those).
 */
export function appVarNeeds(m: AppJson): AppVarNeed[] {
  const needs: AppVarNeed[] = [];
  const seen = new Set<string>();
  const push = (n: AppVarNeed) => {
    if (seen.has(n.name) || reservedVar(n.name)) return;
    seen.add(n.name);
    needs.push(n);
  };
  for (const v of m.env) {
    if (v.generator === "secret" || (v.value === undefined && v.required)) push({ name: v.name, path: ["env", v.name], generator: v.generator === "secret" });
  }
  m.addons.forEach((a, i) => {
    for (const name of addonNeeds(a).vars) push({ name, path: ["addons", i], generator: false, addon: a.service });
  });
  return needs;
}

/** The command that sets a secret in an environment's store (for the age store: `qdeploy secrets set`, a generated value piped in, never in argv). */
export function setSecretLine(env: string, name: string, generator: boolean, store: StoreRef["kind"] = "age"): string {
  switch (store) {
    case "env":
      return `add "${name}" to secrets.names and export it where qdeploy runs`;
    case "command":
      return `add ${name} to what secrets.command prints`;
    default:
      return generator ? `openssl rand -hex 32 | qdeploy secrets set ${env} ${name}` : `qdeploy secrets set ${env} ${name}`;
  }
}

/**
 * check's rule: each var appVarNeeds lists that `env`'s secrets (the names its store holds)
 * and its merged [env] both lack, as a problem at its app.json line, with the command that sets it.
 */
export function missingVarProblems(
  m: AppJson,
  have: { env: string; vars: Record<string, string>; secrets: Iterable<string>; store: StoreRef },
): ConfigProblem[] {
  const secrets = new Set(have.secrets);
  return appVarNeeds(m)
    .filter((n) => !secrets.has(n.name) && !(n.name in have.vars))
    .map((n) => {
      const why = n.addon ? `${n.addon} gives the app ${n.name} on Heroku` : n.generator ? 'generated on Heroku (generator "secret")' : "required by app.json";
      const line = lineOf(m.lines, n.path);
      return {
        file: m.file,
        ...(line !== undefined && { line }),
        path: formatPath(n.path),
        message: `${why}, but ${have.env} has no such secret (${have.store.where}) and no [env] entry; set it: ${setSecretLine(have.env, n.name, n.generator, have.store.kind)}`,
      };
    });
}

function serviceOf(plan: string): string {
  return plan.split(":")[0]!.trim();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
