/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * `/env/:env`: hosts (live release, slot, health, units, timers, drift), each process's memory and
 * CPU over the last hour, add-ons, the recent deploys as a chart, releases with a
 * Rollback button each and a Promote button per other served environment (deploy role), Restart, the server's recent runs, the audit log.
 */
import type { ErrorBody } from "../../errors.ts";
import type { AuditEntry } from "../../ops/audit.ts";
import type { FleetRelease, FleetReleases } from "../../ops/releases.ts";
import type { FleetStatus } from "../../ops/status.ts";
import { describeLastRun, notRunYet } from "../../remote/switch-status.ts";
import { formatBytes } from "../../util/bytes.ts";
import type { RunRecord } from "../runs.ts";
import { deployHistory } from "../deploy-history.ts";
import { DeployChart, UsageCharts } from "./charts.tsx";
import { ErrorMessage, Health, Layout, Table, type Viewer } from "./layout.tsx";

/** Each part of the page, or the error that kept it from loading. */
export type Part<T> = { value: T; error: null } | { value: null; error: ErrorBody };

export interface EnvPageData {
  env: string;
  viewer: Viewer;
  status: Part<FleetStatus>;
  releases: Part<FleetReleases>;
  audit: Part<AuditEntry[]>;
  runs: RunRecord[];
  /** The other environments this server serves: where a release of this one may be promoted. */
  promoteTo: string[];
  /** Now, in epoch seconds: the charts' right edge. */
  now: number;
}

/** live / previous / refused, as `releases` says them. */
export function releaseTags(r: FleetRelease): string[] {
  return [...(r.live.length ? ["live"] : []), ...(r.previous.length ? ["previous"] : []), ...(r.activated ? [] : ["refused"])];
}

/** A promotion takes a release that went live here once (live now or not). */
export function canPromote(r: FleetRelease): boolean {
  return r.activated;
}

/** A rollback goes to a release that went live once and is not live now. */
export function canRollBackTo(r: FleetRelease): boolean {
  return r.activated && r.live.length === 0;
}

export function EnvPage(p: EnvPageData) {
  const deployer = p.viewer.role === "deploy";
  const envPath = `/env/${encodeURIComponent(p.env)}`;
  return (
    <Layout title={p.env} viewer={p.viewer}>
      <h1>{p.env}</h1>
      <p>
        <a href={`${envPath}/logs`}>Logs</a>
      </p>

      <h2>Hosts</h2>
      {p.status.error && <ErrorMessage error={p.status.error} id="status-error" />}
      {p.status.value?.drift && (
        <div class="msg warn" id="drift">
          drift: {Object.entries(p.status.value.drift).map(([rel, hosts]) => `${rel} on ${hosts.join(", ")}`).join("; ")}
        </div>
      )}
      {p.status.value && (
        <Table
          id="hosts"
          head={["host", "live release", "slot", "health", "units", "next timer runs"]}
          rows={p.status.value.hosts.map((h) => [
            <code>{h.host}</code>,
            h.live ? <code class="live-release">{h.live}</code> : <span class="muted">none</span>,
            <>
              {h.slot ?? "–"}
              {h.standby && (
                <div class="muted standby">
                  standby <code>{h.standby.release}</code> on {h.standby.port} until {h.standby.until}, {h.standby.memoryBytes === null ? "memory unknown" : formatBytes(h.standby.memoryBytes)}
                </div>
              )}
            </>,
            <Health health={h.health} />,
            h.units.map((u) => (
              <div>
                <code>{u.unit}</code>{" "}
                {u.lastRun ? (
                  <span class={u.lastRun.result === "success" ? "ok last-run" : "bad last-run"}>{describeLastRun(u.lastRun)}</span>
                ) : notRunYet(u, h.units) ? (
                  <span class="muted last-run">not run yet</span>
                ) : (
                  <>
                    <span class={u.active === "active" ? "ok" : "bad"}>{u.active}</span> <span class="muted">{u.sub}</span>
                  </>
                )}
              </div>
            )),
            h.timers.length ? h.timers.map((t) => <div><code>{t.timer}</code> {t.next}</div>) : <span class="muted">–</span>,
          ])}
        />
      )}
      {p.status.value?.hosts.some((h) => h.usage) && (
        <>
          <h2>Memory and CPU</h2>
          {p.status.value.hosts.map((h) =>
            h.usage ? (
              <>
                {p.status.value!.hosts.length > 1 && (
                  <h3>
                    <code>{h.host}</code>
                  </h3>
                )}
                <UsageCharts host={h.host} series={h.usage} now={p.now} />
              </>
            ) : null,
          )}
        </>
      )}
      {deployer && (
        <form method="post" action={`${envPath}/restart`} onsubmit={`return confirm(${JSON.stringify(`Restart every process of ${p.env}?`)})`}>
          <p>
            <button type="submit" id="restart">
              Restart
            </button>
          </p>
        </form>
      )}

      {p.status.value && p.status.value.addons.length > 0 && (
        <>
          <h2>Add-ons</h2>
          <Table
            id="addons"
            head={["add-on", "host", "state", "size", "last backup", ""]}
            rows={p.status.value.addons.map((a) => [
              <code>{a.addon}</code>,
              <code>{a.host}</code>,
              <span class={a.state === "active" ? "ok" : "bad"}>{`${a.state} (${a.service}${a.version ? ` ${a.version}` : ""})`}</span>,
              a.bytes === null ? "–" : formatBytes(a.bytes),
              a.lastBackup ? `${a.lastBackup.at} (${formatBytes(a.lastBackup.bytes)})` : <span class="muted">none</span>,
              a.warning ? <span class="bad addon-warning">{a.warning}</span> : "",
            ])}
          />
        </>
      )}

      {p.releases.value && p.audit.value && (
        <>
          <h2>Deploys</h2>
          <DeployChart deploys={deployHistory(p.audit.value, p.releases.value.releases)} />
        </>
      )}

      <h2>Releases</h2>
      {p.releases.error && <ErrorMessage error={p.releases.error} id="releases-error" />}
      {p.releases.value && (
        <Table
          id="releases"
          head={["release", "created", "git", "by", "state", ""]}
          rows={[...p.releases.value.releases].reverse().map((r) => [
            <>
              <code>{r.id}</code>
              {r.from && <span class="muted promoted-from">{` from ${r.from.env} ${r.from.release}`}</span>}
            </>,
            r.created,
            r.git ? <code title={r.git}>{r.git.slice(0, 12)}</code> : <span class="muted">–</span>,
            r.by,
            releaseTags(r).map((t) => <span class={`tag ${t}`}>{t}</span>),
            <>
              {deployer && canRollBackTo(r) && (
                <form method="post" action={`${envPath}/rollback`} onsubmit={`return confirm(${JSON.stringify(`Roll ${p.env} back to release ${r.id}?`)})`}>
                  <input type="hidden" name="release" value={r.id} />
                  <button type="submit" class="danger rollback" data-release={r.id}>
                    Rollback
                  </button>
                </form>
              )}
              {deployer &&
                canPromote(r) &&
                p.promoteTo.map((to) => (
                  <form method="post" action={`/env/${encodeURIComponent(to)}/promote`} onsubmit={`return confirm(${JSON.stringify(`Promote ${p.env}'s release ${r.id} to ${to}?`)})`}>
                    <input type="hidden" name="from" value={p.env} />
                    <input type="hidden" name="release" value={r.id} />
                    <button type="submit" class="promote" data-release={r.id} data-to={to}>
                      Promote to {to}
                    </button>
                  </form>
                ))}
            </>,
          ])}
        />
      )}

      {p.runs.length > 0 && (
        <>
          <h2>Runs from this server</h2>
          <Table
            id="runs"
            head={["run", "action", "by", "started", "state"]}
            rows={p.runs.map((r) => [<a href={`/runs/${r.id}`}>{r.id}</a>, `${r.action}${r.target ? ` ${r.target}` : ""}`, r.by, r.started, <span class={r.state === "failed" ? "bad" : r.state === "succeeded" ? "ok" : ""}>{r.state}</span>])}
          />
        </>
      )}

      <h2>Audit log</h2>
      {p.audit.error && <ErrorMessage error={p.audit.error} id="audit-error" />}
      {p.audit.value &&
        (p.audit.value.length ? (
          <Table id="audit" head={["time", "host", "what"]} rows={p.audit.value.map((a) => [a.time || "–", <code>{a.host}</code>, a.line])} />
        ) : (
          <p class="muted">nothing yet</p>
        ))}
    </Layout>
  );
}
