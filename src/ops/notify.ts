/**
 * [[notify]]: pushes, rollbacks and their failures announced to a JSON webhook (signed like
 * the deploy webhooks), a Slack-compatible incoming webhook, or email through this machine's
 * sendmail. Sending never fails or holds up a deploy: each event goes out in the background,
 * retried with backoff; the command waits for what is still on its way at its end, for at
 * most SETTLE_MS, and says what could not be delivered. The message is pure (notifyMessage).
 */
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import type { NotifyConfig, NotifyEvent, ResolvedConfig } from "../config/types.ts";
import type { EventSink } from "../events.ts";
import { loadSecrets } from "../secrets/store.ts";
import type { Redactor } from "../secrets/redact.ts";
import type { OpContext } from "./context.ts";
import type { DeployReport } from "./deploy.ts";
import { type HostResult, RolloutError } from "./execute.ts";

/** What happened, for every target. */
export interface Notice {
  event: NotifyEvent;
  app: string;
  env: string;
  who: string;
  /** ISO 8601. */
  at: string;
  release?: string;
  commit?: string | null;
  seconds?: number;
  /** The hosts it goes to (started). */
  targets?: string[];
  /** Where each host ended (succeeded, and failed when the rollout got that far). */
  hosts?: Pick<HostResult, "label" | "outcome" | "live" | "error">[];
  /** A failure's message. */
  error?: string;
  urls?: string[];
  /** drift: each live release and its hosts. */
  drift?: Record<string, string[]>;
}

/** Attempts per delivery, and the waits between them (ms). */
const BACKOFF_MS = [1000, 3000];
const REQUEST_TIMEOUT_MS = 10_000;
/** The longest the command waits at its end for deliveries still under way. */
export const SETTLE_MS = 15_000;

/** The header a webhook target's body is signed in: `sha256=` and the HMAC-SHA256 in hex. */
export const SIGNATURE_HEADER = "X-Qdeploy-Signature-256";

/** A notice's one-line summary, for Slack's text and the email's subject. Pure. */
export function summary(n: Notice): string {
  const where = `${n.app} (${n.env})`;
  const [action, how] = n.event.split(".") as [string, string | undefined];
  if (n.event === "drift") return `${where}: the hosts run different releases`;
  const release = n.release ? ` of ${n.release}` : "";
  if (how === "started") return `${where}: ${action}${release} started by ${n.who}`;
  if (how === "succeeded") return `${where}: ${action}${release} live on ${n.hosts?.length ?? 0} host${n.hosts?.length === 1 ? "" : "s"}${n.seconds === undefined ? "" : ` in ${n.seconds.toFixed(1)}s`} (by ${n.who})`;
  return `${where}: ${action}${release} failed: ${(n.error ?? "").split("\n")[0]}`;
}

/** The body's lines after the summary: each host, the drift, the failure in full. Pure. */
export function details(n: Notice): string[] {
  const lines: string[] = [];
  if (n.targets?.length) lines.push(`to ${n.targets.join(", ")}`);
  for (const h of n.hosts ?? []) lines.push(`${h.label}: ${h.outcome}${h.live ? `, live ${h.live}` : ""}${h.error ? ` (${h.error.split("\n")[0]})` : ""}`);
  for (const [release, hosts] of Object.entries(n.drift ?? {})) lines.push(`${release}: ${hosts.join(", ")}`);
  if (n.error && n.error.includes("\n")) lines.push(...n.error.split("\n").slice(1));
  if (n.commit) lines.push(`commit ${n.commit}`);
  for (const u of n.urls ?? []) lines.push(u);
  return lines;
}

/** A target's request or mail for a notice: pure, so the tests read exactly what goes out. */
export function notifyMessage(t: NotifyConfig, n: Notice, signingKey?: string): { body: string; headers: Record<string, string> } {
  if (t.kind === "slack") {
    const mark = n.event.endsWith(".failed") || n.event === "drift" ? ":x:" : n.event.endsWith(".succeeded") ? ":white_check_mark:" : ":rocket:";
    const text = [`${mark} ${summary(n)}`, ...details(n).map((l) => `• ${l}`)].join("\n");
    return { body: JSON.stringify({ text }), headers: { "Content-Type": "application/json" } };
  }
  if (t.kind === "email") {
    const body = [`To: ${t.to!.join(", ")}`, `Subject: [qdeploy] ${summary(n)}`, "Content-Type: text/plain; charset=utf-8", "", summary(n), "", ...details(n), ""].join("\n");
    return { body, headers: {} };
  }
  const body = JSON.stringify(n);
  const headers: Record<string, string> = { "Content-Type": "application/json", "User-Agent": "qdeploy" };
  if (signingKey !== undefined) headers[SIGNATURE_HEADER] = `sha256=${createHmac("sha256", signingKey).update(body).digest("hex")}`;
  return { body, headers };
}

export interface Notifier {
  /** Sends `n` to every target that hears its event; returns at once. */
  send(n: Omit<Notice, "app" | "env" | "who" | "at">): void;
  /** Waits for the deliveries under way, at most SETTLE_MS; a failed one is an error event. */
  settle(): Promise<void>;
}

export interface NotifierDeps {
  fetch?: typeof fetch;
  /** Runs sendmail with the mail on stdin; its exit status. */
  sendmail?: (mail: string) => Promise<number>;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The notifier of `cfg`'s [[notify]] targets; `secrets` are the store's values (for url_secret
 * and secret). A target whose secret is not in the store is reported once and skipped.
 */
export function notifier(cfg: Pick<ResolvedConfig, "app" | "env" | "notify">, who: string, secrets: Record<string, string>, events: EventSink, deps: NotifierDeps = {}): Notifier {
  const doFetch = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? ((ms: number) => Bun.sleep(ms));
  const pending: Promise<void>[] = [];
  const usable = cfg.notify.flatMap((t, i) => {
    const name = `notify[${i}] (${t.kind})`;
    const missing = [t.url_secret, t.secret].filter((s): s is string => s !== undefined && secrets[s] === undefined);
    if (missing.length) {
      events({ type: "error", line: `${name}: ${missing.join(", ")} is not in the secret store: nothing is sent to it` });
      return [];
    }
    return [{ t, name, url: t.url ?? (t.url_secret ? secrets[t.url_secret] : undefined), key: t.secret ? secrets[t.secret] : undefined }];
  });
  const deliver = async (target: (typeof usable)[number], n: Notice) => {
    const { body, headers } = notifyMessage(target.t, n, target.key);
    let last = "";
    for (let attempt = 0; attempt <= BACKOFF_MS.length; attempt++) {
      if (attempt > 0) await sleep(BACKOFF_MS[attempt - 1]!);
      try {
        if (target.t.kind === "email") {
          const code = await (deps.sendmail ?? sendmail)(body);
          if (code === 0) return;
          last = `sendmail exited ${code}`;
          continue;
        }
        // Its own timer, cleared, and no kept-alive connection: either would keep the command
        // from exiting once its work is done.
        const abort = new AbortController();
        const timer = setTimeout(() => abort.abort(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000}s`)), REQUEST_TIMEOUT_MS);
        const r = await doFetch(target.url!, { method: "POST", body, headers, signal: abort.signal, keepalive: false }).finally(() => clearTimeout(timer));
        await r.body?.cancel();
        if (r.ok) return;
        last = `HTTP ${r.status}`;
        // A 4xx other than 429 says the request is wrong: sending it again would not help.
        if (r.status >= 400 && r.status < 500 && r.status !== 429) break;
      } catch (e) {
        last = (e as Error).message;
      }
    }
    events({ type: "error", line: `${target.name}: ${n.event} not delivered (${last}); the ${n.event.split(".")[0]} itself is not affected` });
  };
  return {
    send(partial) {
      const n: Notice = { ...partial, app: cfg.app, env: cfg.env, who, at: new Date().toISOString() };
      for (const target of usable) {
        if (target.t.events && !target.t.events.includes(n.event)) continue;
        pending.push(deliver(target, n));
      }
    },
    async settle() {
      if (!pending.length) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = await Promise.race([Promise.all(pending).then(() => false), new Promise<boolean>((res) => (timer = setTimeout(() => res(true), SETTLE_MS)))]);
      // Cleared, so a command whose deliveries are done exits now, not SETTLE_MS later.
      clearTimeout(timer);
      pending.length = 0;
      if (late) events({ type: "error", line: `notifications still not delivered after ${SETTLE_MS / 1000}s: given up` });
    },
  };
}

/**
 * The notifier of an environment's targets, with the secret store read only when a target
 * names a secret (its values then hidden from what qdeploy prints). None: a notifier that
 * sends nothing and costs nothing.
 */
export async function environmentNotifier(op: Pick<OpContext, "cfg" | "who" | "events" | "redactor" | "identityFile">, deps: NotifierDeps = {}): Promise<Notifier> {
  const named = op.cfg.notify.some((t) => t.url_secret !== undefined || t.secret !== undefined);
  const secrets = named ? await loadSecrets(op.cfg, { identityFile: op.identityFile }) : {};
  op.redactor.hide(op.cfg.notify.flatMap((t) => [t.url_secret, t.secret]).flatMap((s) => (s && secrets[s] ? [secrets[s]] : [])));
  return notifier(op.cfg, op.who, secrets, op.events, deps);
}

/**
 * Runs a push, rollback or promotion with the notifier told: started, then succeeded (each
 * host's line) or failed (the error, redacted, and where each host is when the rollout said).
 * Waits for the deliveries at its end, not before. The CLI's and `qdeploy serve`'s runs alike.
 */
export async function announced(notes: Notifier, redactor: Redactor, facts: { action: DeployReport["action"]; hosts: string[] }, deploy: () => Promise<DeployReport>): Promise<DeployReport> {
  const hostLines = (hosts: DeployReport["hosts"]) => hosts.map(({ label, outcome, live, error }) => ({ label, outcome, live, ...(error && { error: redactor.redact(error) }) }));
  notes.send({ event: `${facts.action}.started`, targets: facts.hosts });
  try {
    const r = await deploy();
    notes.send({ event: `${facts.action}.succeeded`, release: r.release, commit: r.commit, seconds: r.seconds.total, hosts: hostLines(r.hosts), urls: r.urls });
    return r;
  } catch (e) {
    const error = redactor.redact(e instanceof Error ? e.message : String(e));
    notes.send({ event: `${facts.action}.failed`, error, ...(e instanceof RolloutError && { hosts: hostLines(e.hosts) }) });
    throw e;
  } finally {
    await notes.settle();
  }
}

/** This machine's sendmail (`sendmail -t`: the recipients from the mail's To:). */
async function sendmail(mail: string): Promise<number> {
  const bin = ["/usr/sbin/sendmail", "/usr/lib/sendmail"].find((p) => existsSync(p)) ?? Bun.which("sendmail");
  if (!bin) throw new Error("no sendmail on this machine");
  const p = Bun.spawn([bin, "-t"], { stdin: new Blob([mail]), stdout: "ignore", stderr: "ignore" });
  return p.exited;
}
