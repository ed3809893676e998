/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/** `/`: every served environment with its hosts, their health and live release. */
import type { ErrorBody } from "../../errors.ts";
import type { FleetStatus } from "../../ops/status.ts";
import { ErrorMessage, Health, Layout, Table, type Viewer } from "./layout.tsx";

export interface EnvSummary {
  env: string;
  status: FleetStatus | null;
  error: ErrorBody | null;
}

export function HomePage(p: { app: string; viewer: Viewer; envs: EnvSummary[]; previews?: boolean }) {
  return (
    <Layout title={p.app} viewer={p.viewer}>
      <h1>{p.app}</h1>
      {p.previews && (
        <p>
          <a href="/previews">Review apps</a>
        </p>
      )}
      {p.envs.map((e) => (
        <section class="card" id={`env-${e.env}`}>
          <h2>
            <a href={`/env/${encodeURIComponent(e.env)}`}>{e.env}</a>
          </h2>
          {e.error && <ErrorMessage error={e.error} />}
          {e.status?.drift && <div class="msg warn">drift: the hosts run different releases</div>}
          {e.status && (
            <Table head={["host", "live release", "health"]} rows={e.status.hosts.map((h) => [<code>{h.host}</code>, h.live ? <code>{h.live}</code> : <span class="muted">none</span>, <Health health={h.health} />])} />
          )}
        </section>
      ))}
    </Layout>
  );
}
