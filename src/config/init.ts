/**
 * `qdeploy init`: a commented deploy.toml for the Go module in a folder.
 *
 * Editor support: the user's project does not contain qdeploy's schema, and the schema is
 * not served from a URL, so init also writes `.qdeploy/deploy.schema.json` (the schema of
 * the qdeploy version that wrote it) and the first line of deploy.toml points at it
 * (`#:schema ./.qdeploy/deploy.schema.json`, the directive Taplo / Even Better TOML read).
 * init never overwrites an existing deploy.toml.
 */
import { access, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError, OperationError } from "../errors.ts";
import { parseGoMod } from "../build/gomod.ts";
import { parseProcfile } from "./procfile.ts";
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

/** The deploy.toml `qdeploy init` writes. processes: the Procfile's (then [processes] is left to it), or null. */
export function renderInitConfig(opts: {
  app: string;
  module: string;
  processes: Record<string, string> | null;
  /** build.main: one pattern, or several (go.mod's `// +heroku install`). */
  main?: string | string[];
  /** Where main came from, for its comment (e.g. "go.mod's +heroku install"). */
  mainSource?: string;
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
  out.push(
    "# [scale]",
    "# worker = 2                       # instances per host, by process (web: 0 or 1)",
    "",
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
    '# LOG_LEVEL = "info"',
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

/**
 * Writes deploy.toml (and .qdeploy/deploy.schema.json) for the Go module in dir, from its
 * go.mod and Procfile. Refuses to overwrite an existing deploy.toml. Returns the path written.
 */
export async function writeInitConfig(dir: string): Promise<string> {
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

  // Heroku's install line is what its builder builds: the same packages, and its flags as [build] keys.
  const install = parseGoMod(goMod).herokuInstall;
  const unreadable = install?.problems.filter((p) => !/ has no \[build\] key /.test(p)) ?? [];
  if (install && unreadable.length) {
    throw new OperationError(`go.mod:${install.line} // +heroku install: ${unreadable.join("; ")}; fix the line, or remove it and write build.main yourself`);
  }
  const main = install ? install.packages : await findMain(dir);
  const mainSource = install ? `go.mod's // +heroku install (line ${install.line})` : undefined;
  const text = renderInitConfig({
    app: appNameFromModule(module),
    module,
    processes,
    main,
    ...(mainSource && { mainSource }),
    ...(install?.flags.tags && { tags: install.flags.tags }),
    ...(install?.flags.ldflags !== undefined && { ldflags: install.flags.ldflags }),
    ...(install?.unknown.length && { leftOut: install.unknown }),
  });
  await mkdir(path.join(dir, path.dirname(LOCAL_SCHEMA)), { recursive: true });
  await writeFile(path.join(dir, LOCAL_SCHEMA), renderSchemaJson());
  await writeFile(target, text, { flag: "wx" }); // wx: never overwrite, even in a race
  await ignoreLocalState(dir);
  return target;
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
  if (await exists(path.join(dir, "main.go"))) return ".";
  const cmds = await readdir(path.join(dir, "cmd"), { withFileTypes: true }).catch(() => []);
  const mains: string[] = [];
  for (const entry of cmds) {
    if (entry.isDirectory() && (await exists(path.join(dir, "cmd", entry.name, "main.go")))) mains.push(entry.name);
  }
  return mains.length === 1 ? `./cmd/${mains[0]}` : mains.length > 1 ? "./cmd/..." : ".";
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
