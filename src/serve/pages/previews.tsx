/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/** `/previews`: the review apps alive (`[previews]`), each with its URL, commit, age, expiry and a Destroy button (deploy role). */
import type { RunRecord } from "../runs.ts";
import type { PreviewRecord } from "../../plan/review-app.ts";
import type { Part } from "./environment.tsx";
import { ErrorMessage, Layout, Table, type Viewer } from "./layout.tsx";

/** "3 h", "2 d": how long from `from` to `to` (ms), roughly. */
function span(ms: number): string {
  const h = Math.max(0, Math.round(ms / 3_600_000));
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} d`;
}

export function PreviewsPage(p: { app: string; environment: string; viewer: Viewer; previews: Part<PreviewRecord[]>; ttlSec: number; max: number; runs: RunRecord[]; now: number }) {
  const deployer = p.viewer.role === "deploy";
  const list = p.previews.value;
  return (
    <Layout title={`${p.app} previews`} viewer={p.viewer}>
      <h1>Review apps</h1>
      <p class="muted">
        one per pull request, on {p.environment}'s first host; {list ? `${list.length} of ${p.max}` : `at most ${p.max}`} alive; each goes when its pull request closes, or {span(p.ttlSec * 1000)} after its last deploy
      </p>
      {p.previews.error && <ErrorMessage error={p.previews.error} />}
      {list && list.length === 0 && <p class="muted">no previews</p>}
      {list && list.length > 0 && (
        <Table
          id="previews"
          head={["preview", "url", "commit", "branch", "age", "expires in", ""]}
          rows={list.map((r) => [
            <code>{r.name}</code>,
            r.url ? <a href={r.url}>{r.url}</a> : <span class="muted">no web</span>,
            r.commit ? <code title={r.commit}>{r.commit.slice(0, 12)}</code> : <span class="muted">–</span>,
            r.branch ?? "",
            span(p.now - Date.parse(r.created)),
            span(Date.parse(r.updated) + p.ttlSec * 1000 - p.now),
            deployer && (
              <form method="post" action={`/previews/${encodeURIComponent(r.name)}/destroy`} onsubmit={`return confirm(${JSON.stringify(`Destroy ${r.name}, with its databases (no backup is kept)?`)})`}>
                <button type="submit" class="danger destroy" data-preview={r.name}>
                  Destroy
                </button>
              </form>
            ),
          ])}
        />
      )}
      {p.runs.length > 0 && (
        <>
          <h2>Recent runs</h2>
          <Table head={["run", "action", "target", "by", "state"]} rows={p.runs.map((r) => [<a href={`/runs/${r.id}`}>{r.id}</a>, r.action, r.target ?? "", r.by, r.state])} />
        </>
      )}
    </Layout>
  );
}
