/**
 * qdeploy's command table: every command, its arguments, flags, help and examples, and how it
 * runs. The command modules are imported when their command runs, so `--help` and shell
 * completion start fast.
 */
import { UsageError } from "../errors.ts";
import type { HostFilter } from "../ops/sessions.ts";
import type { Ctx } from "../commands/context.ts";
import type { CommandSpec, FlagSpec, Invocation } from "./spec.ts";

const IDENTITY: FlagSpec = { name: "identity", type: "string", value: "FILE", help: "age identity for the secret store (else $QDEPLOY_AGE_KEY or your default)", file: true };
const LOCK_WAIT: FlagSpec = { name: "lock-wait", type: "int", value: "SECS", min: 0, help: "how long to wait for another deploy's lock (default 60)" };
const HOSTS: FlagSpec = { name: "hosts", type: "string", value: "H1,H2", help: "only these hosts (label as written, address, or address:port)" };
const ROLE: FlagSpec = { name: "role", type: "string", value: "PROC", help: "only the hosts that run this process" };
const NO_REVERT: FlagSpec = { name: "no-revert", type: "bool", help: "on a failed wave, leave the hosts already switched on the new release" };
const NO_HOOKS: FlagSpec = { name: "no-hooks", type: "bool", help: "run none of deploy.toml's [hooks]" };
const FILTER = [HOSTS, ROLE];

/** --hosts and --role as a host filter (src/ops/sessions.ts). */
export function hostFilter(inv: Invocation): HostFilter {
  const hosts = inv.flags.hosts;
  const role = inv.flags.role;
  return {
    ...(typeof hosts === "string" && { hosts: hosts.split(",").map((h) => h.trim()).filter(Boolean) }),
    ...(typeof role === "string" && { role }),
  };
}

const str = (inv: Invocation, name: string): string | undefined => (typeof inv.flags[name] === "string" ? (inv.flags[name] as string) : undefined);

/** Every command, in the order help lists them. */
export const COMMANDS: CommandSpec[] = [
  {
    name: "init",
    usage: "",
    summary: "write a deploy.toml for the Go module here",
    details: "reads go.mod, the Procfile and app.json (then prints the secrets to set and what its add-ons need); also writes .qdeploy/deploy.schema.json for editors; never overwrites",
    flags: [],
    examples: ["qdeploy init"],
    async run(ctx) {
      const { writeInitConfig } = await import("../config/init.ts");
      const { file, notes } = await writeInitConfig(process.cwd());
      ctx.out.result(`wrote ${file}; check it with: qdeploy check`);
      for (const line of notes) ctx.out.result(line);
      return 0;
    },
  },
  {
    name: "check",
    usage: "[ENV]",
    summary: "validate deploy.toml; every problem at once, with its line",
    details: "TOML syntax, the JSON Schema, then the rules; `deploy.toml:LINE key.path: message` each; with an app.json, the config vars it requires that an environment's secrets and [env] lack ([app.json](heroku.md#appjson))",
    flags: [IDENTITY],
    examples: ["qdeploy check", "qdeploy check prod --config ops/deploy.toml"],
    async run(ctx, inv) {
      const { check } = await import("../commands/check.ts");
      return check(ctx, inv.args[0]);
    },
  },
  {
    name: "plan",
    usage: "ENV",
    summary: "what push would build, upload, write and run (offline)",
    details: "builds and prints every step push would run on a fresh host, with the units and the Caddy site; no server touched",
    flags: [{ name: "arch", type: "string", value: "ARCH", help: "the hosts' `uname -m` to plan for (default x86_64)" }, IDENTITY],
    examples: ["qdeploy plan prod", "qdeploy plan prod --arch aarch64"],
    async run(ctx, inv) {
      const { plan } = await import("../commands/deploy.ts");
      await plan(ctx, inv.args[0]!, str(inv, "arch") ?? "x86_64");
      return 0;
    },
  },
  {
    name: "setup",
    usage: "ENV",
    summary: "prepare the hosts (Caddy, directories); push does it when needed",
    details: "idempotent. `--bootstrap` first logs in as `--bootstrap-user` (root) and creates the deploy user with `--key`'s public key ([Logging in](ssh.md#logging-in-sshconfig-and-a-deploy-user))",
    flags: [
      { name: "bootstrap", type: "bool", help: "first log in as --bootstrap-user and create the deploy user" },
      { name: "bootstrap-user", type: "string", value: "USER", help: "who --bootstrap logs in as (default root)" },
      { name: "key", type: "string", value: "FILE.pub", help: "the public key the deploy user gets (default your ssh key)", file: true },
    ],
    examples: ["qdeploy setup prod", "qdeploy setup prod --bootstrap --bootstrap-user admin --key ~/.ssh/id_ed25519.pub"],
    async run(ctx, inv) {
      const { setup } = await import("../commands/deploy.ts");
      if (!inv.flags.bootstrap && (inv.flags["bootstrap-user"] !== undefined || inv.flags.key !== undefined)) {
        throw new UsageError("--bootstrap-user and --key go with --bootstrap");
      }
      const key = str(inv, "key");
      const bootstrap = inv.flags.bootstrap ? { user: str(inv, "bootstrap-user") ?? "root", ...(key && { keyFile: key }) } : undefined;
      await setup(ctx, inv.args[0]!, bootstrap);
      return 0;
    },
  },
  {
    name: "push",
    usage: "ENV",
    summary: "build, upload, switch with zero downtime, host wave by wave",
    details:
      "lock, facts, build per arch, upload missing binaries, write the release on every host, release phase, health-gated switch wave by wave ([Fleets](fleets.md#fleets-roles-rollout-one-host-jobs)) with the prune beside it",
    flags: [NO_REVERT, NO_HOOKS, ...FILTER, LOCK_WAIT, IDENTITY],
    examples: ["qdeploy push prod", "qdeploy push prod --hosts web-1 --lock-wait 300", "qdeploy push prod --json | jq '.waves'"],
    async run(ctx, inv) {
      const { push } = await import("../commands/deploy.ts");
      ctx.out.data(await push(ctx, inv.args[0]!, { filter: hostFilter(inv), revert: !inv.flags["no-revert"], hooks: !inv.flags["no-hooks"] }));
      return 0;
    },
  },
  {
    name: "rollback",
    usage: "ENV [RELEASE]",
    summary: "back to the previous good release (or the one named)",
    details: "the previous release that went live and stayed (one a refused wave switched back does not count), with its own env; no build, no upload; wave by wave; inside web.standby's window after a push, Caddy flips to its still-running web slot and nothing starts",
    flags: [NO_REVERT, NO_HOOKS, ...FILTER, LOCK_WAIT, IDENTITY],
    examples: ["qdeploy rollback prod", "qdeploy rollback prod 20261202100000"],
    async run(ctx, inv) {
      const { rollback } = await import("../commands/deploy.ts");
      ctx.out.data(await rollback(ctx, inv.args[0]!, inv.args[1] ?? null, { filter: hostFilter(inv), revert: !inv.flags["no-revert"], hooks: !inv.flags["no-hooks"] }));
      return 0;
    },
  },
  {
    name: "promote",
    usage: "FROM TO [RELEASE]",
    summary: "FROM's live release (or the one named) to TO, byte for byte, with TO's config; no build",
    details:
      "as Heroku's pipelines promote a slug: the programs and app files of FROM's release, read from FROM's hosts only where TO's hosts and this machine lack them, become TO's next release with TO's env, secrets and units; then TO's usual health-gated switch wave by wave; `releases` shows where it came from",
    flags: [NO_REVERT, NO_HOOKS, ...FILTER, LOCK_WAIT, IDENTITY],
    examples: ["qdeploy promote staging prod", "qdeploy promote staging prod 20261202100000"],
    async run(ctx, inv) {
      const { promote } = await import("../commands/deploy.ts");
      ctx.out.data(await promote(ctx, inv.args[0]!, inv.args[1]!, inv.args[2] ?? null, { filter: hostFilter(inv), revert: !inv.flags["no-revert"], hooks: !inv.flags["no-hooks"] }));
      return 0;
    },
  },
  {
    name: "releases",
    usage: "ENV",
    summary: "releases on the hosts; which is live where",
    details: "id, time, git commit, binary sha256, who, which is live / the rollback target / refused; on a fleet, on which hosts",
    flags: FILTER,
    examples: ["qdeploy releases prod", "qdeploy releases prod --json"],
    async run(ctx, inv) {
      const { releases } = await import("../commands/inspect.ts");
      await releases(ctx, inv.args[0]!, hostFilter(inv));
      return 0;
    },
  },
  {
    name: "status",
    usage: "ENV",
    summary: "live release, units, health, next timer runs; exit 1 on drift",
    details: "per host: live release, every unit's state, health of the live slot, next timer runs, the warm standby (web.standby: its release, until when, its memory); exit 1 when the hosts run different releases (drift)",
    flags: FILTER,
    examples: ["qdeploy status prod", "qdeploy status prod --json"],
    async run(ctx, inv) {
      const { status } = await import("../commands/inspect.ts");
      return status(ctx, inv.args[0]!, hostFilter(inv));
    },
  },
  {
    name: "audit",
    usage: "ENV",
    summary: "who switched what when, from the hosts' audit logs, merged",
    details: "activations, switches back after a refused wave, refusals, restarts and maintenance, newest first, with the host and who did it",
    flags: [{ name: "lines", short: "n", type: "int", value: "N", min: 1, help: "the newest N entries (default 100)" }, ...FILTER],
    examples: ["qdeploy audit prod", "qdeploy audit prod -n 20 --json"],
    async run(ctx, inv) {
      const { auditCommand } = await import("../commands/audit.ts");
      await auditCommand(ctx, inv.args[0]!, { lines: (inv.flags.lines as number | undefined) ?? 100 }, hostFilter(inv));
      return 0;
    },
  },
  {
    name: "logs",
    usage: "ENV [PROCESS]",
    summary: "the journal of the app's units, host-prefixed",
    flags: [
      { name: "follow", short: "f", type: "bool", help: "keep printing new lines" },
      { name: "since", type: "string", value: "TIME", help: "from this time on (journalctl's --since: \"1h ago\", \"2026-12-01 10:00\")" },
      { name: "lines", short: "n", type: "int", value: "N", min: 1, help: "the last N lines (default 100)" },
      ...FILTER,
      IDENTITY,
    ],
    examples: ["qdeploy logs prod", "qdeploy logs prod web -f", "qdeploy logs prod --since '1h ago'", "qdeploy logs prod worker -n 500"],
    async run(ctx, inv) {
      const { logs } = await import("../commands/inspect.ts");
      const o = { proc: inv.args[1] ?? null, follow: Boolean(inv.flags.follow), since: str(inv, "since") ?? null, lines: (inv.flags.lines as number | undefined) ?? 100 };
      await logs(ctx, inv.args[0]!, o, hostFilter(inv));
      return 0;
    },
  },
  {
    name: "restart",
    usage: "ENV [PROCESS]",
    summary: "zero-downtime restart (the one the restart timer runs)",
    details: "web: blue/green through the health check; other processes: restart",
    flags: [...FILTER, LOCK_WAIT, IDENTITY],
    examples: ["qdeploy restart prod", "qdeploy restart prod worker"],
    async run(ctx, inv) {
      const { restart } = await import("../commands/inspect.ts");
      await restart(ctx, inv.args[0]!, inv.args[1] ?? null, hostFilter(inv));
      return 0;
    },
  },
  {
    name: "exec",
    usage: "ENV",
    rest: "COMMAND...",
    summary: "run a one-off command with the app's environment",
    details: "as the app user, with the live release's env, on the first host (`--host N`) or on each host `--hosts`/`--role` keep; `-it` on a PTY on one host (a console, or a shell when no command is given; its output is not redacted)",
    flags: [
      { name: "interactive", short: "i", type: "bool", help: "keep stdin open and run on a terminal (a PTY); with -t, or alone" },
      { name: "tty", short: "t", type: "bool", help: "a PTY on the host: a console or a shell (the default command with -it)" },
      { name: "host", type: "int", value: "N", min: 1, help: "the environment's Nth host (default 1)" },
      ...FILTER,
      IDENTITY,
    ],
    examples: ["qdeploy exec prod -- ./hello migrate", "qdeploy exec prod --host 2 -- env", "qdeploy exec -it prod", "qdeploy exec -it prod -- ./hello console"],
    async run(ctx, inv) {
      const where = { hostNumber: (inv.flags.host as number | undefined) ?? 1, filter: hostFilter(inv) };
      // -i, -t or both: one PTY session, like `ssh -t` (a shell when no command is given).
      if (inv.flags.interactive || inv.flags.tty) {
        const { execInteractive } = await import("../commands/exec-tty.ts");
        return execInteractive(ctx, inv.args[0]!, inv.rest, where);
      }
      const { execCommand } = await import("../commands/inspect.ts");
      if (!inv.rest.length) throw new UsageError("exec: missing the command (usage: qdeploy exec ENV -- COMMAND..., or exec -it ENV for a shell)");
      return execCommand(ctx, inv.args[0]!, inv.rest, where);
    },
  },
  ...maintenanceCommands(),
  ...addonsCommands(),
  ...lockCommands(),
  ...secretsCommands(),
  ...previewsCommands(),
  ...sandboxCommands(),
  ...serveCommands(),
  {
    name: "completion",
    usage: "SHELL",
    summary: "a shell completion script: bash, zsh or fish",
    details: "`source <(qdeploy completion bash)` (or zsh) in your shell's rc file; `qdeploy completion fish | source`",
    flags: [],
    examples: ["source <(qdeploy completion bash)", "qdeploy completion zsh > \"${fpath[1]}/_qdeploy\"", "qdeploy completion fish > ~/.config/fish/completions/qdeploy.fish"],
    async run(_ctx, inv) {
      const { completionScript } = await import("./completion.ts");
      process.stdout.write(completionScript(inv.args[0]!));
      return 0;
    },
  },
  {
    name: "version",
    usage: "",
    summary: "qdeploy's version, and the Bun and Go it runs with",
    flags: [],
    examples: ["qdeploy version", "qdeploy version --json"],
    async run(ctx) {
      const { printVersion } = await import("./version.ts");
      return printVersion(ctx);
    },
  },
  {
    name: "help",
    usage: "[COMMAND...]",
    summary: "this list, or one command's options and examples",
    flags: [],
    examples: ["qdeploy help push", "qdeploy help secrets"],
    async run(_ctx, inv) {
      const { helpFor } = await import("./help.ts");
      process.stdout.write(helpFor(inv.args));
      return 0;
    },
  },
  {
    name: "__complete",
    usage: "[WORD...]",
    summary: "the completion scripts' helper: candidates for the last word",
    hidden: true,
    flags: [],
    examples: [],
    async run(ctx, inv) {
      const { completeWords } = await import("./completion.ts");
      for (const c of await completeWords([...inv.args, ...inv.rest], ctx.configFile)) process.stdout.write(`${c}\n`);
      return 0;
    },
  },
];

function maintenanceCommands(): CommandSpec[] {
  const summaries = {
    on: "Caddy answers 503 (Retry-After) with a page for the app's domains; push and rollback keep it",
    off: "traffic to the app again",
    status: "on or off on each web host, and since when",
  };
  return (["on", "off", "status"] as const).map((action) => ({
    name: `maintenance ${action}`,
    usage: "ENV",
    summary: summaries[action],
    ...(action === "on" && { details: "no Caddy reload: a flag file outside the releases (the page itself) switches it; `--file` serves your own HTML page ([Maintenance mode](maintenance.md#maintenance-mode))" }),
    flags: [...(action === "on" ? [{ name: "file", type: "string", value: "PAGE.html", help: "serve this HTML page (default a plain one)", file: true } as FlagSpec] : []), ...FILTER],
    examples: action === "on" ? ["qdeploy maintenance on prod", "qdeploy maintenance on prod --file maintenance.html"] : [`qdeploy maintenance ${action} prod`],
    async run(ctx: Ctx, inv: Invocation) {
      const { maintenance } = await import("../commands/maintenance.ts");
      const file = str(inv, "file");
      return maintenance(ctx, inv.args[0]!, action, file !== undefined ? { file } : {}, hostFilter(inv));
    },
  }));
}

function addonsCommands(): CommandSpec[] {
  const YES: FlagSpec = { name: "yes", short: "y", type: "bool", help: "go on without asking (scripts, CI)" };
  const run = (verb: import("../commands/addons.ts").AddonsVerb) => async (ctx: Ctx, inv: Invocation) => {
    const { addons } = await import("../commands/addons.ts");
    return addons(ctx, verb, inv.args[0]!, inv.args.slice(1), { yes: Boolean(inv.flags.yes) });
  };
  const spec = (verb: import("../commands/addons.ts").AddonsVerb, usage: string, summary: string, examples: string[], o: { details?: string; flags?: FlagSpec[] } = {}): CommandSpec => ({
    name: `addons ${verb}`,
    usage,
    summary,
    ...(o.details && { details: o.details }),
    flags: o.flags ?? [],
    examples,
    run: run(verb),
  });
  return [
    spec("setup", "ENV", "install and wire the add-ons now (push does it too)", ["qdeploy addons setup prod"], {
      details: "idempotent: Debian's postgresql or redis-server if missing, a database and role (or a Redis instance) per app and environment, a password kept on the host, the backup timer ([Add-ons](addons.md#add-ons-postgres-and-redis))",
    }),
    spec("status", "ENV", "each add-on: state, version, size, last backup; exit 1 when one is down", ["qdeploy addons status prod", "qdeploy addons status prod --json"], {
      details: "warns when the newest backup is older than twice the schedule, or the last backup run failed",
    }),
    spec("backup", "ENV [ADDON]", "take a backup now (pg_dump -Fc, Redis's RDB snapshot)", ["qdeploy addons backup prod", "qdeploy addons backup prod db"]),
    spec("backups", "ENV [ADDON]", "the backups on the hosts: file, time, size", ["qdeploy addons backups prod", "qdeploy addons backups prod --json"]),
    spec("pull", "ENV ADDON [BACKUP]", "download a backup (default the newest) into the current folder", ["qdeploy addons pull prod db", "qdeploy addons pull prod db 20261204T030000Z.dump"]),
    spec("restore", "ENV ADDON BACKUP|FILE", "replace the data with a backup on the host or a local dump, after a backup", ["qdeploy addons restore prod db 20261204T030000Z.dump", "qdeploy addons restore prod db ./prod.dump --yes"], {
      details: "under the deploy lock; asks you to type the add-on's name unless `--yes`; a backup of the data as it was is taken first",
      flags: [YES],
    }),
    spec("destroy", "ENV ADDON", "drop an add-on's data and credentials (a final backup is kept)", ["qdeploy addons destroy prod cache --yes"], { flags: [YES] }),
    spec("psql", "ENV [ADDON]", "psql on the Postgres add-on, as the app's role", ["qdeploy addons psql prod"], { details: "a terminal session like `exec -it`; the password never leaves the host" }),
    spec("redis-cli", "ENV [ADDON]", "redis-cli on the Redis add-on", ["qdeploy addons redis-cli prod"]),
  ];
}

function lockCommands(): CommandSpec[] {
  return (["status", "release"] as const).map((sub) => ({
    name: `lock ${sub}`,
    usage: "ENV",
    summary: sub === "status" ? "who holds the deploy lock on each host" : "release a deploy lock left behind (by a killed push)",
    flags: [...FILTER],
    examples: [`qdeploy lock ${sub} prod`],
    async run(ctx: Ctx, inv: Invocation) {
      const { lock } = await import("../commands/inspect.ts");
      await lock(ctx, inv.args[0]!, sub, hostFilter(inv));
      return 0;
    },
  }));
}

function secretsCommands(): CommandSpec[] {
  const secrets = () => import("../commands/secrets.ts");
  const AGE1 = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
  return [
    {
      name: "secrets set",
      usage: "ENV KEY[=VALUE]...",
      summary: "set secrets; a bare KEY asks for its value (hidden) or reads stdin",
      details: "a bare `KEY` asks for the value on a terminal without echo, twice, or reads standard input; `KEY=VALUE` on the command line warns (shell history)",
      flags: [IDENTITY],
      examples: ["qdeploy secrets set prod DATABASE_URL", "qdeploy secrets set prod STRIPE_KEY < key.txt", "qdeploy secrets set prod LOG_LEVEL=debug"],
      run: async (ctx, inv) => (await secrets()).secretsSet(ctx, inv.args[0]!, inv.args.slice(1)),
    },
    {
      name: "secrets unset",
      usage: "ENV KEY...",
      summary: "remove secrets",
      flags: [IDENTITY],
      examples: ["qdeploy secrets unset prod OLD_TOKEN"],
      run: async (ctx, inv) => (await secrets()).secretsUnset(ctx, inv.args[0]!, inv.args.slice(1)),
    },
    {
      name: "secrets list",
      usage: "ENV",
      summary: "the names of the secrets (never the values)",
      flags: [IDENTITY],
      examples: ["qdeploy secrets list prod", "qdeploy secrets list prod --json"],
      run: async (ctx, inv) => (await secrets()).secretsList(ctx, inv.args[0]!),
    },
    {
      name: "secrets edit",
      usage: "ENV",
      summary: "edit the secrets as a dotenv file in $EDITOR",
      details: "a mistake reopens the editor with the problems at the top; saving it unchanged gives up, writing nothing",
      flags: [IDENTITY],
      examples: ["qdeploy secrets edit prod", "EDITOR=nano qdeploy secrets edit prod"],
      run: async (ctx, inv) => (await secrets()).secretsEdit(ctx, inv.args[0]!),
    },
    {
      name: "secrets import",
      usage: "ENV FILE",
      summary: "set every key of a dotenv file (- reads stdin) over the existing ones",
      details: "read as the `dotenv` package reads it (export, comments, quotes, multi-line); any problem: all reported, nothing written",
      flags: [IDENTITY],
      examples: ["qdeploy secrets import prod .env.production", "qdeploy secrets import prod - < .env"],
      run: async (ctx, inv) => (await secrets()).secretsImport(ctx, inv.args[0]!, inv.args[1]!),
    },
    {
      name: "secrets recipients list",
      usage: "",
      summary: "who can decrypt the age store",
      flags: [IDENTITY],
      examples: ["qdeploy secrets recipients list"],
      run: async (ctx) => (await secrets()).recipientsList(ctx),
    },
    {
      name: "secrets recipients add",
      usage: "RECIPIENT...",
      summary: "let more age keys decrypt the store (re-encrypts every environment)",
      flags: [IDENTITY],
      examples: [`qdeploy secrets recipients add ${AGE1}`],
      run: async (ctx, inv) => (await secrets()).recipientsAdd(ctx, inv.args),
    },
    {
      name: "secrets recipients remove",
      usage: "RECIPIENT...",
      summary: "stop an age key decrypting the store (re-encrypts; rotate what it could read)",
      flags: [IDENTITY],
      examples: [`qdeploy secrets recipients remove ${AGE1}`],
      run: async (ctx, inv) => (await secrets()).recipientsRemove(ctx, inv.args),
    },
  ];
}

function previewsCommands(): CommandSpec[] {
  const previews = () => import("../commands/previews.ts");
  return [
    {
      name: "previews list",
      usage: "",
      summary: "the review apps alive: URL, commit, age, when each expires",
      details: "read from the hosts of [previews] environment ([Review apps](previews.md))",
      flags: [IDENTITY],
      examples: ["qdeploy previews list", "qdeploy previews list --json"],
      async run(ctx) {
        ctx.out.data(await (await previews()).list(ctx));
        return 0;
      },
    },
    {
      name: "previews deploy",
      usage: "BRANCH",
      summary: "BRANCH's commit as a review app (pr-N with --pr, else br-BRANCH): its own URL and databases",
      details: "fetched into a clean worktree (what is not committed stays out), built, and pushed as app APP-NAME to the first host of [previews] environment; refused over previews.max",
      flags: [{ name: "pr", type: "int", value: "N", min: 1, help: "the pull request it previews: the preview is pr-N" }, IDENTITY],
      examples: ["qdeploy previews deploy feature/login --pr 7", "qdeploy previews deploy spike"],
      async run(ctx, inv) {
        const pr = typeof inv.flags.pr === "number" ? inv.flags.pr : undefined;
        ctx.out.data(await (await previews()).deploy(ctx, inv.args[0]!, pr));
        return 0;
      },
    },
    {
      name: "previews destroy",
      usage: "NAME",
      summary: "remove a review app: units, site, ports, releases and its databases (no backup kept)",
      flags: [IDENTITY],
      examples: ["qdeploy previews destroy pr-7", "qdeploy previews destroy 7"],
      async run(ctx, inv) {
        ctx.out.data(await (await previews()).destroy(ctx, inv.args[0]!));
        return 0;
      },
    },
  ];
}

function sandboxCommands(): CommandSpec[] {
  const sandbox = (sub: string) => async (ctx: Ctx, inv: Invocation) => {
    const { sandbox } = await import("../commands/sandbox.ts");
    return sandbox(ctx, sub, inv.args, inv.flags.hosts === undefined ? undefined : String(inv.flags.hosts));
  };
  return [
    {
      name: "sandbox up",
      usage: "",
      summary: "start the local disposable Debian VM (or N of them)",
      details: "systemd, sshd and Caddy, its ports forwarded to 127.0.0.1 only; the image is built once and cached",
      // Checked by the sandbox itself (1 to 9, its fleet's limit).
      flags: [{ name: "hosts", type: "string", value: "N", help: "start N VMs (a fleet of up to 9), not one" }],
      examples: ["qdeploy sandbox up", "qdeploy sandbox up --hosts 3"],
      run: sandbox("up"),
    },
    { name: "sandbox down", usage: "", summary: "stop the sandbox VMs (the image stays cached)", flags: [], examples: ["qdeploy sandbox down"], run: sandbox("down") },
    { name: "sandbox ssh", usage: "[N]", summary: "a shell on sandbox VM N (default 1)", flags: [], examples: ["qdeploy sandbox ssh", "qdeploy sandbox ssh 2"], run: sandbox("ssh") },
    { name: "sandbox status", usage: "", summary: "which sandbox VMs run, and their ports; exit 1 when none", flags: [], examples: ["qdeploy sandbox status --json"], run: sandbox("status") },
  ];
}

function serveCommands(): CommandSpec[] {
  const token = (sub: string) => async (ctx: Ctx, inv: Invocation) => {
    const { serveToken } = await import("../commands/serve.ts");
    const [role, expires] = [str(inv, "role"), str(inv, "expires")];
    return serveToken(ctx, sub, inv.args[0], { ...(role && { role }), ...(expires && { expires }) });
  };
  return [
    {
      name: "serve",
      usage: "",
      summary: "the HTTP API and dashboard (default [serve] listen, 127.0.0.1:7070)",
      details: "the dashboard, JSON API and deploy webhooks for every environment ([qdeploy serve](serve.md#qdeploy-serve-dashboard-api-deploy-webhooks)); `--install ENV` runs it as a hardened unit on ENV's first web host, behind its Caddy at `[serve] domain`",
      flags: [
        { name: "listen", type: "string", value: "HOST:PORT", help: "where to listen (default [serve] listen)" },
        { name: "install", type: "string", value: "ENV", help: "run qdeploy serve as a hardened unit on ENV's first web host instead" },
        IDENTITY,
      ],
      examples: ["qdeploy serve", "qdeploy serve --listen 127.0.0.1:9000", "qdeploy serve --install prod"],
      async run(ctx, inv) {
        const install = str(inv, "install");
        if (install !== undefined) {
          if (inv.flags.listen !== undefined) throw new UsageError("--listen and --install do not go together (the installed server listens on its own unix socket, /run/qdeploy-serve/http.sock)");
          const { serveInstall } = await import("../commands/serve-install.ts");
          return serveInstall(ctx, install);
        }
        const { serve } = await import("../commands/serve.ts");
        const listen = str(inv, "listen");
        return serve(ctx, listen !== undefined ? { listen } : {});
      },
    },
    {
      name: "serve token add",
      usage: "NAME",
      summary: "a new API token (shown once, stored hashed)",
      flags: [
        { name: "role", type: "string", value: "ROLE", choices: ["read", "deploy"], help: "what the token may do: read, or deploy too" },
        { name: "expires", type: "string", value: "DURATION", help: "how long it is good for (30d, 12h; default never)" },
      ],
      examples: ["qdeploy serve token add ci --role deploy --expires 90d"],
      run: token("add"),
    },
    { name: "serve token list", usage: "", summary: "the API tokens: name, role, created, expires", flags: [], examples: ["qdeploy serve token list --json"], run: token("list") },
    { name: "serve token remove", usage: "NAME", summary: "revoke an API token", flags: [], examples: ["qdeploy serve token remove ci"], run: token("remove") },
  ];
}
