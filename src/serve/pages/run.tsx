/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * `/runs/:id`: a deploy's events so far, rendered here, then live from the API's event
 * stream (/api/v1/runs/:id/events: `op` events, then `end` with the RunRecord). Where the
 * stream cannot be had (no JS, no such route), the page reloads every 2 s while it runs.
 */
import { raw } from "hono/html";
import type { OpEvent } from "../../events.ts";
import type { RunRecord } from "../runs.ts";
import { ErrorMessage, Layout, scriptJson, type Viewer } from "./layout.tsx";

/** An event as one line, the way the CLI prints it (debug lines left out, as without --verbose). */
export function eventText(e: OpEvent): string | null {
  switch (e.type) {
    case "info":
    case "warn":
    case "error":
      return e.line;
    case "host":
      return `${e.host}: ${e.line}`;
    case "wave":
      return `wave ${e.wave}/${e.waves}: ${e.hosts.join(", ")}`;
    case "locked":
      return `holding the deploy lock on ${e.hosts.join(", ")}`;
    case "debug":
      return null;
    case "progress": // a run's record holds none (plainEvents), but say what one would show
      return e.done && e.line ? e.line : null;
  }
}

// The browser's half of eventText, and the stream's handling. On a stream error (the API
// gone, a 404) it falls back to reloading, which renders the same page from the server.
const LIVE = `
(function (url) {
  var list = document.getElementById("events"), state = document.getElementById("run-state");
  function text(e) {
    switch (e.type) {
      case "info": case "warn": case "error": return e.line;
      case "host": return e.host + ": " + e.line;
      case "wave": return "wave " + e.wave + "/" + e.waves + ": " + e.hosts.join(", ");
      case "locked": return "holding the deploy lock on " + e.hosts.join(", ");
      default: return null;
    }
  }
  var seen = list.children.length, n = 0, es = new EventSource(url);
  es.addEventListener("op", function (m) {
    var e = JSON.parse(m.data), t = text(e);
    if (t === null || ++n <= seen) return;
    var li = document.createElement("li");
    li.className = e.type; li.textContent = t; list.appendChild(li);
  });
  es.addEventListener("end", function () { es.close(); location.reload(); });
  es.onerror = function () { es.close(); setTimeout(function () { location.reload(); }, 2000); };
})`;

export function RunPage(p: { run: RunRecord; events: readonly OpEvent[]; viewer: Viewer }) {
  const r = p.run;
  const running = r.state === "running";
  const shown = p.events.flatMap((e) => {
    const t = eventText(e);
    return t === null ? [] : [{ type: e.type, text: t }];
  });
  const release = (r.result as { release?: string } | null)?.release;
  return (
    <Layout
      title={`${r.action} ${r.env}`}
      viewer={p.viewer}
      head={
        running && (
          <noscript>
            <meta http-equiv="refresh" content="2" />
          </noscript>
        )
      }
    >
      <h1>
        {/* A review app's run is keyed ENV/pr-N: its environment's page is ENV's. */}
        {r.action} <a href={`/env/${encodeURIComponent(r.env.split("/")[0]!)}`}>{r.env}</a>
        {r.target && <> → <code>{r.target}</code></>}
      </h1>
      <p>
        <span id="run-state" class={`tag ${r.state === "succeeded" ? "live" : r.state === "failed" ? "refused" : ""}`}>
          {r.state}
        </span>{" "}
        <span class="muted">
          run {r.id} by {r.by}, started {r.started}
          {r.finished && `, finished ${r.finished}`}
        </span>
      </p>
      {release && r.state === "succeeded" && (
        <p>
          live release: <code id="run-release">{release}</code>
        </p>
      )}
      {r.error && <ErrorMessage error={r.error} id="run-error" />}
      <ol class="events" id="events">
        {shown.map((e) => (
          <li class={e.type}>{e.text}</li>
        ))}
      </ol>
      {running && <script>{raw(`${LIVE}(${scriptJson(`/api/v1/runs/${encodeURIComponent(r.id)}/events`)});`)}</script>}
    </Layout>
  );
}
