/**
 * `qdeploy init`: a commented deploy.toml for the Go module in a folder.
 *
 * Editor support: the user's project does not contain qdeploy's schema, and the schema is
 * not served from a URL, so init also writes `.qdeploy/deploy.schema.json` (the schema of
 * the qdeploy version that wrote it) and the first line of deploy.toml points at it
 * (`#:schema ./.qdeploy/deploy.schema.json`, the directive Taplo / Even Better TOML read).
 * init never overwrites an existing deploy.toml.
 *
 * Heroku's app.json, when present, is read too (src/config/app-json.ts): its config vars with
 * a value go to [env], its formation to [scale]; what cannot go into deploy.toml (secrets to
 * set, add-ons to run, the postdeploy script) is returned as notes for init to print.
 */
import { access, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError, OperationError } from "../errors.ts";
import { parseGoMod } from "../build/gomod.ts";
import { quote } from "../util/quote.ts";
import { addonNeeds, readAppJson, setSecretLine, type AppJson } from "./app-json.ts";
import { parseProcfile } from "./procfile.ts";
import { ADDON_VARS } from "./resolve.ts";
import { reservedVar } from "./rules.ts";
import { renderSchemaJson } from "./schema.ts";

/** Where init writes the schema, relative to deploy.toml, and what `#:schema` names. */
export const LOCAL_SCHEMA = ".qdeploy/deploy.schema.json";

/** An app name from a Go module path: its last element (before a /vN suffix), made to fit ^[a-z][a-z0-9-]*$ (max 32). */
export function appNameFromModule(module: string): string {
  const parts = module.split("/").filter(Boolean);
  let last = parts.pop() ?? "";
  if (/^v\d+$/.test(last) && parts.length > 0) last = parts.pop()!;
  const name = last
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .slice(0, 32)
    .replace(/-+/g, "-")
    .replace(/-+$/, "");
  return name || "app";
}

/** An [addons.NAME] init writes: the service, its var when not the default, the app.json add-on it stands for. */
export interface InitAddon {
  service: "postgres" | "redis";
  var?: string;
  from: string;
}

/** The deploy.toml `qdeploy init` writes. processes: the Procfile's (then [processes] is left to it), or null. */
export function renderInitConfig(opts: {
  app: string;
  module: string;
  processes: Record<string, string> | null;
  /** build.main: one pattern, or several (go.mod's `// +heroku install`). */
  main?: string | string[];
  /** Where main came from, for its comment (e.g. "go.mod's +heroku install"). */
  mainSource?: string;
  /** [env] entries (app.json's config vars with a value). */
  env?: Record<string, string>;
  /** [scale] entries (app.json's formation). */
  scale?: Record<string, number>;
  /** [addons.NAME] entries (app.json's add-ons). */
  addons?: Record<string, InitAddon>;
  /** build.tags and build.ldflags from the install line's -tags and -ldflags. */
  tags?: string[];
  ldflags?: string;
  /** The install line's flags with no [build] key, left out (named in a comment). */
  leftOut?: string[];
}): string {
  const { app, module } = opts;
  const q = (s: string) => JSON.stringify(s); // a JSON string is a valid TOML basic string
  const hasWeb = opts.processes === null || "web" in opts.processes;
  const main = opts.main ?? ".";
  const several = Array.isArray(main) ? main.length > 1 || main[0]!.includes("...") : main.includes("...");
  const mainLine = `main = ${Array.isArray(main) ? (main.length === 1 ? q(main[0]!) : `[${main.map(q).join(", ")}]`) : q(main)}`;
  const out: string[] = [
    `#:schema ./${LOCAL_SCHEMA}`,
    `# deploy.toml for ${module}, written by \`qdeploy init\`.`,
    "# `qdeploy check` validates it; every key is described in the schema named above,",
    "# so editors that read #:schema lines (Taplo, Even Better TOML) complete and explain keys.",
    "",
    `app = ${q(app)}${pad(`app = ${q(app)}`)}# names systemd units and directories on the servers`,
    "",
    "[build]                            # cross-compiled locally for each host's OS and CPU",
    `${mainLine}${pad(mainLine)}# ${opts.mainSource ? `from ${opts.mainSource}; ` : ""}each main package becomes bin/NAME`,
    ...(several ? [] : [`# binary = ${q(app)}${pad(`# binary = ${q(app)}`)}# also names the one program in bin/; default: app`]),
    ...(opts.tags ? [fromInstall(`tags = [${opts.tags.map(q).join(", ")}]`)] : []),
    opts.ldflags !== undefined ? fromInstall(`ldflags = ${q(opts.ldflags)}`) : '# ldflags = "-s -w"',
    ...(opts.leftOut ?? []).map((f) => `# go.mod's install line also has ${f}, which qdeploy has no [build] key for: left out`),
    "# cgo = false                      # true: C code (e.g. mattn/go-sqlite3) built with zig, still one static file",
    '# go = "go1.25"                    # the Go to build with; default: go.mod\'s goVersion, toolchain or go line',
    '# stamp = { symbol = "main.version", value = "{git.sha}" }',
    "",
  ];
  if (opts.processes === null) {
    out.push(
      '[processes]                        # like a Procfile; "web" gets $PORT and sits behind Caddy',
      `web = ${q(app)}`,
      "",
    );
  } else {
    out.push("# Processes come from ./Procfile:");
    for (const [name, command] of Object.entries(opts.processes)) out.push(`#   ${name}: ${command}`);
    out.push("# To keep them here instead, add a [processes] table (name = command) and delete the Procfile.", "");
  }
  if (hasWeb) {
    out.push(
      "[web]",
      `domains = [${q(`${app}.example.com`)}]${pad(`domains = [${q(`${app}.example.com`)}]`)}# the names Caddy serves and gets certificates for`,
      'health = "/"                       # must answer 2xx before a release takes traffic ("/healthz" is a good habit)',
      '# tls = "auto"                     # auto (ACME) | internal (Caddy\'s own CA) | off',
      '# drain = "30s"                    # SIGTERM, then this long to finish, then SIGKILL',
      "",
    );
  }
  const scale = Object.entries(opts.scale ?? {});
  if (scale.length) {
    out.push("[scale]                            # from app.json's formation: instances on each host", ...scale.map(([p, n]) => `${p} = ${n}`), "");
  } else {
    out.push("# [scale]", "# worker = 2                       # instances per host, by process (web: 0 or 1)", "");
  }
  for (const [name, a] of Object.entries(opts.addons ?? {})) {
    const line = `[addons.${name}]`;
    out.push(
      `${line}${pad(line)}# from app.json's ${a.from}: ${a.service === "postgres" ? "Debian's postgresql" : "Debian's redis-server"} on the host`,
      `service = ${q(a.service)}`,
      ...(a.var ? [`var = ${q(a.var)}`] : [`# var = ${q(ADDON_VARS[a.service])}${pad(`# var = ${q(ADDON_VARS[a.service])}`)}# the variable the app reads its URL from`]),
      '# backup = { at = "daily", keep = 7 }',
      '# address = "10.0.0.5"            # its host\'s private address, when other hosts reach it (a fleet)',
      "",
    );
  }
  const env = Object.entries(opts.env ?? {});
  out.push(
    "# [restart]                        # a scheduled zero-downtime restart",
    '# at = "Sun *-*-* 04:00:00"        # systemd OnCalendar syntax',
    '# jitter = "15m"',
    "",
    "# [[jobs]]                         # scheduled one-off commands",
    '# name = "cleanup"',
    `# command = ${q(`${app} cleanup`)}`,
    '# at = "hourly"',
    "",
    "[env]                              # plain config vars, for every environment",
    ...(env.length ? env.map(([k, v]) => `${k} = ${tomlString(v)}${pad(`${k} = ${tomlString(v)}`)}# from app.json`) : ['# LOG_LEVEL = "info"']),
    "",
    "[secrets]",
    'store = "age"                      # an age-encrypted file per environment: `qdeploy secrets set ENV NAME`',
    "",
    "[environments.prod]                # replace with your servers, user@host[:port]",
    'hosts = ["deploy@203.0.113.10"]',
    "",
    "[environments.sandbox]             # a local VM to try deploys on: `qdeploy sandbox up`",
    'hosts = ["root@127.0.0.1:2222"]',
    'ssh = { identity = ".qdeploy/sandbox/id_ed25519", known_hosts = ".qdeploy/sandbox/known_hosts" }',
  );
  if (hasWeb) out.push(`web = { domains = [${q(`${app}.localhost`)}], tls = "internal" }`);
  return `${out.join("\n")}\n`;
}

/** The environment init's notes speak of (its secrets lines), and the others it writes. */
const INIT_ENV = "prod";
const OTHER_ENVS = ["sandbox"];

/**
 * Writes deploy.toml (and .qdeploy/deploy.schema.json) for the Go module in dir, from its
 * go.mod, Procfile and app.json. Refuses to overwrite an existing deploy.toml; a broken
 * Procfile or app.json is a ConfigError and nothing is written. Returns the path written and
 * the notes to print (what app.json asks for that deploy.toml cannot hold).
 */
export async function writeInitConfig(dir: string): Promise<{ file: string; notes: string[] }> {
  const target = path.join(dir, "deploy.toml");
  if (await exists(target)) {
    throw new OperationError(`${target} already exists; edit it (\`qdeploy check\` validates it) or remove it first`);
  }
  const goMod = await readFile(path.join(dir, "go.mod"), "utf8").catch(() => null);
  if (goMod === null) throw new OperationError(`no go.mod in ${dir}; run \`go mod init MODULE\` first`);
  const module = /^\s*module\s+"?([^"\s]+)"?/m.exec(goMod)?.[1];
  if (!module) throw new OperationError(`${path.join(dir, "go.mod")} has no module line`);

  let processes: Record<string, string> | null = null;
  const procfile = path.join(dir, "Procfile");
  const procText = await readFile(procfile, "utf8").catch(() => null);
  if (procText !== null) {
    const parsed = parseProcfile(procText, procfile);
    if (parsed.problems.length > 0) throw new ConfigError(parsed.problems);
    processes = parsed.processes;
  }
  const appJson = await readAppJson(dir);
  if (appJson.problems.length > 0) throw new ConfigError(appJson.problems);

  // Heroku's install line is what its builder builds: the same packages, and its flags as [build] keys.
  const install = parseGoMod(goMod).herokuInstall;
  const unreadable = install?.problems.filter((p) => !/ has no \[build\] key /.test(p)) ?? [];
  if (install && unreadable.length) {
    throw new OperationError(`go.mod:${install.line} // +heroku install: ${unreadable.join("; ")}; fix the line, or remove it and write build.main yourself`);
  }
  const main = install ? install.packages : await findMain(dir);
  const mainSource = install ? `go.mod's // +heroku install (line ${install.line})` : undefined;
  const app = appNameFromModule(module);
  const fromAppJson = appJson.manifest
    ? planFromAppJson(appJson.manifest, {
        env: INIT_ENV,
        otherEnvs: OTHER_ENVS,
        processes: processes ? Object.keys(processes) : ["web"],
        secretsFile: path.join("secrets", `${INIT_ENV}.env.age`),
      })
    : { env: {}, scale: {}, addons: {}, notes: [] };
  const text = renderInitConfig({
    app,
    module,
    processes,
    main,
    ...(mainSource && { mainSource }),
    ...(install?.flags.tags && { tags: install.flags.tags }),
    ...(install?.flags.ldflags !== undefined && { ldflags: install.flags.ldflags }),
    ...(install?.unknown.length && { leftOut: install.unknown }),
    env: fromAppJson.env,
    scale: fromAppJson.scale,
    addons: fromAppJson.addons,
  });
  await mkdir(path.join(dir, path.dirname(LOCAL_SCHEMA)), { recursive: true });
  await writeFile(path.join(dir, LOCAL_SCHEMA), renderSchemaJson());
  await writeFile(target, text, { flag: "wx" }); // wx: never overwrite, even in a race
  await ignoreLocalState(dir);
  return { file: target, notes: fromAppJson.notes };
}

/** What init makes of app.json: [env] and [scale] entries, and the notes it prints. */
export interface AppJsonPlan {
  env: Record<string, string>;
  scale: Record<string, number>;
  /** [addons.NAME] entries (app.json's heroku-postgresql, heroku-redis, ...), with the add-on they stand for. */
  addons: Record<string, InitAddon>;
  notes: string[];
}

/**
 * Turns app.json into deploy.toml entries and notes (pure). Config vars with a value become
 * [env] (config, not secrets); a var to generate or a required one without a value becomes a
 * `qdeploy secrets set` line for `env` (never a value in deploy.toml); add-ons are named with
 * the vars they set; formation quantities become [scale] for the processes there are
 * (`processes`); postdeploy becomes the `qdeploy exec` line to run once.
 */
export function planFromAppJson(
  m: AppJson,
  opts: { env: string; otherEnvs: string[]; processes: string[]; secretsFile: string },
): AppJsonPlan {
  const { env } = opts;
  const out: AppJsonPlan = { env: {}, scale: {}, addons: {}, notes: [] };
  const notes: string[] = [];
  const firstLine = (text: string | undefined) => text?.split("\n")[0]!.trim() ?? "";
  const comment = (text: string | undefined) => (firstLine(text) ? `  # ${firstLine(text)}` : "");
  // An add-on's vars are set on the add-on's line, not twice.
  const fromAddons = new Set(m.addons.flatMap((a) => addonNeeds(a).vars));
  const required: string[] = [];
  const optional: string[] = [];
  for (const v of m.env) {
    if (reservedVar(v.name)) {
      notes.push(`  ${v.name}: left out; ${v.name === "PORT" ? "qdeploy sets PORT" : "QDEPLOY_* names are qdeploy's"}`);
      continue;
    }
    if (v.generator === "secret") {
      const desc = firstLine(v.description);
      required.push(`    ${setSecretLine(env, v.name, true)}  # a random value, as Heroku's generator "secret" makes${desc ? `; ${desc}` : ""}`);
    } else if (v.value !== undefined) {
      out.env[v.name] = v.value;
    } else if (!fromAddons.has(v.name)) {
      (v.required ? required : optional).push(`    ${setSecretLine(env, v.name, false)}${comment(v.description)}`);
    }
  }
  const envNames = Object.keys(out.env);
  if (envNames.length) notes.unshift(`  [env] in deploy.toml: ${envNames.join(", ")} (its config vars with a value)`);
  if (required.length) notes.push(`  Secrets to set for ${env} before the first push (stored in ${opts.secretsFile}):`, ...required);
  if (optional.length) notes.push("  Optional (required: false):", ...optional);

  const own: string[] = [];
  const elsewhere: string[] = [];
  for (const a of m.addons) {
    const need = addonNeeds(a);
    const name = `${a.plan}${a.as ? ` as ${a.as}` : ""}`;
    const service = need.service;
    if (service && need.vars.length === 1) {
      // Postgres as db (db2, ...), Redis as redis (redis2, ...): qdeploy runs them on the host.
      const base = service === "postgres" ? "db" : "redis";
      let key = base;
      for (let i = 2; out.addons[key]; i++) key = `${base}${i}`;
      const v = need.vars[0]!;
      out.addons[key] = { service, ...(v !== ADDON_VARS[service] && { var: v }), from: name };
      own.push(`    [addons.${key}] (${service}): ${v}, from ${name}`);
    } else if (need.vars.length) elsewhere.push(`    ${name} (${need.what}): ${need.vars.map((v) => setSecretLine(env, v, false)).join("; ")}`);
    else elsewhere.push(`    ${name}: ${need.hint ?? "set its config vars yourself, as secrets"}`);
  }
  if (own.length) notes.push("  Add-ons qdeploy installs on your host and wires into every release (push does it):", ...own);
  if (elsewhere.length) notes.push("  Add-ons qdeploy does not run: run each service yourself, then set what it gives the app:", ...elsewhere);

  const formationNotes: string[] = [];
  for (const f of m.formation) {
    if (f.quantity === undefined) continue;
    if (!opts.processes.includes(f.process) || f.process === "release") {
      formationNotes.push(`  formation.${f.process}: there is no process "${f.process}"; left out`);
    } else if (f.process === "web" && f.quantity > 1) {
      formationNotes.push(`  formation.web: quantity ${f.quantity}, but qdeploy runs one web instance per host: give ${env} ${f.quantity} hosts`);
    } else if (f.quantity > 100) {
      formationNotes.push(`  formation.${f.process}: quantity ${f.quantity} is more than the 100 per host [scale] allows; left out`);
    } else {
      out.scale[f.process] = f.quantity;
    }
  }
  const scaled = Object.entries(out.scale);
  if (scaled.length) {
    notes.push(`  [scale] in deploy.toml from formation: ${scaled.map(([p, n]) => `${p} = ${n}`).join(", ")} (instances on each host; Heroku's quantity counts dynos in all)`);
  }
  notes.push(...formationNotes);
  const sizes = [...new Set(m.formation.flatMap((f) => (f.size ? [f.size] : [])))];
  if (sizes.length) notes.push(`  Dyno sizes are ignored (${sizes.join(", ")}): each process may use all of its host`);

  if (m.postdeploy !== undefined) {
    const plain = m.postdeploy.trim().split(/\s+/).every((w) => quote(w) === w);
    const command = plain ? m.postdeploy.trim() : `bash -c ${quote(m.postdeploy)}`;
    notes.push(`  scripts.postdeploy: not run by qdeploy; after the first push, run it once: qdeploy exec ${env} -- ${command}`);
  }
  if (m.prPredestroy !== undefined) notes.push("  scripts.pr-predestroy: not used (qdeploy has no review apps)");
  const buildpacks = m.buildpacks.filter((b) => !GO_BUILDPACKS.includes(b));
  if (buildpacks.length) notes.push(`  Buildpacks not run (qdeploy builds the Go module itself): ${buildpacks.join(", ")}`);
  if ((required.length || optional.length || elsewhere.some((l) => l.includes("secrets set"))) && opts.otherEnvs.length) {
    const others = opts.otherEnvs.join(", ");
    notes.push(`  The ${others} environment${opts.otherEnvs.length > 1 ? "s need" : " needs"} the same secrets: run those lines with ${others} in place of ${env}.`);
  }
  if (notes.length) out.notes = [`From app.json${m.name ? ` (${m.name})` : ""}:`, ...notes];
  return out;
}

/** Heroku's Go buildpack, which qdeploy's own build replaces. */
const GO_BUILDPACKS = ["heroku/go", "https://github.com/heroku/heroku-buildpack-go", "https://github.com/heroku/heroku-buildpack-go.git"];

/** A TOML basic string: JSON's escapes, plus DEL, which TOML wants escaped and JSON leaves bare. */
function tomlString(s: string): string {
  return JSON.stringify(s).replace(/\x7f/g, "\\u007F");
}

/** What qdeploy keeps in a project that is no part of its source: .gitignore gets these lines. */
export const IGNORED = [".qdeploy/build", ".qdeploy/sandbox"];

/** The .gitignore text with IGNORED lines added that it lacks (a line already there, with or without a leading or trailing "/", counts). Pure. */
export function addIgnoredLines(text: string): string {
  const have = new Set(text.split(/\r?\n/).map((l) => l.trim().replace(/^\//, "").replace(/\/$/, "")));
  const missing = IGNORED.filter((l) => !have.has(l));
  if (!missing.length) return text;
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  return `${text}${sep}${missing.join("\n")}\n`;
}

/** Appends IGNORED to dir/.gitignore (creating it) without duplicating a line. */
async function ignoreLocalState(dir: string): Promise<void> {
  const file = path.join(dir, ".gitignore");
  const text = await readFile(file, "utf8").catch(() => "");
  const next = addIgnoredLines(text);
  if (next !== text) await writeFile(file, next);
}

/** "." when the module root is a main package, else the only ./cmd/NAME that is one, else "./cmd/..." for several; "." otherwise. */
async function findMain(dir: string): Promise<string> {
  if (await isMainPackage(dir)) return ".";
  const cmds = await readdir(path.join(dir, "cmd"), { withFileTypes: true }).catch(() => []);
  const mains: string[] = [];
  for (const entry of cmds) {
    if (entry.isDirectory() && (await isMainPackage(path.join(dir, "cmd", entry.name)))) mains.push(entry.name);
  }
  return mains.length === 1 ? `./cmd/${mains[0]}` : mains.length > 1 ? "./cmd/..." : ".";
}

/** A folder with a non-test .go file of `package main` (its file need not be main.go: cmd/release/release.go). */
async function isMainPackage(dir: string): Promise<boolean> {
  const files = await readdir(dir).catch(() => [] as string[]);
  for (const f of files) {
    if (!f.endsWith(".go") || f.endsWith("_test.go")) continue;
    const text = await readFile(path.join(dir, f), "utf8").catch(() => "");
    if (/^package\s+main\b/m.test(text)) return true;
  }
  return false;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** A [build] key init took from go.mod's install line, saying so. */
function fromInstall(line: string): string {
  return `${line}${pad(line)}# from go.mod's install line`;
}

/** Spaces so that trailing comments line up at column 36, as in the SPEC's example. */
function pad(code: string): string {
  return " ".repeat(Math.max(1, 35 - code.length));
}
