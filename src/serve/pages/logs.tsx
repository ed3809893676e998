/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * `/env/:env/logs`: the recent journal of the app's units (ops.logs, no follow), and a Follow
 * button that streams new lines from /api/v1/environments/:env/logs?follow=1 (`line` events,
 * data {host, line}).
 */
import { raw } from "hono/html";
import type { ErrorBody } from "../../errors.ts";
import { ErrorMessage, Layout, scriptJson, type Viewer } from "./layout.tsx";

const FOLLOW = `
(function (url) {
  var out = document.getElementById("log"), button = document.getElementById("follow"), note = document.getElementById("follow-state"), es = null;
  button.addEventListener("click", function () {
    if (es) { es.close(); es = null; button.textContent = "Follow"; note.textContent = ""; return; }
    es = new EventSource(url);
    button.textContent = "Stop"; note.textContent = "following";
    es.addEventListener("line", function (m) {
      var d = JSON.parse(m.data);
      out.appendChild(document.createTextNode(d.host + " | " + d.line + "\\n"));
      window.scrollTo(0, document.body.scrollHeight);
    });
    es.addEventListener("end", function () { es.close(); es = null; button.textContent = "Follow"; note.textContent = "stream ended"; });
    es.onerror = function () { if (es && es.readyState === 2) { es = null; button.textContent = "Follow"; note.textContent = "the stream failed"; } };
  });
})`;

export function LogsPage(p: { env: string; viewer: Viewer; lines: { host: string; line: string }[]; error: ErrorBody | null }) {
  const envPath = `/env/${encodeURIComponent(p.env)}`;
  return (
    <Layout title={`${p.env} logs`} viewer={p.viewer}>
      <h1>
        <a href={envPath}>{p.env}</a> logs
      </h1>
      {p.error && <ErrorMessage error={p.error} id="logs-error" />}
      <p>
        <button type="button" id="follow">
          Follow
        </button>{" "}
        <span class="muted" id="follow-state"></span>
      </p>
      <pre id="log">{p.lines.map((l) => `${l.host} | ${l.line}\n`).join("")}</pre>
      <script>{raw(`${FOLLOW}(${scriptJson(`/api/v1/environments/${encodeURIComponent(p.env)}/logs?follow=1`)});`)}</script>
    </Layout>
  );
}
