/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * `/env/:env/logs`: the recent journal of the app's units (ops.logs, no follow), and a Follow
 * button that streams new lines from /api/v1/environments/:env/logs?follow=1 (`line` events,
 * data {host, line}), or says why the server would not (too many streams open).
 */
import { raw } from "hono/html";
import type { ErrorBody } from "../../errors.ts";
import { ErrorMessage, Layout, scriptJson, type Viewer } from "./layout.tsx";

// fetch rather than EventSource: a refused stream (429, too many open) says why in its JSON
// body, which EventSource never shows (it only fails).
const FOLLOW = `
(function (url) {
  var out = document.getElementById("log"), button = document.getElementById("follow"), note = document.getElementById("follow-state"), live = null;
  function stopped(me, text) { if (live !== me) return; live = null; button.textContent = "Follow"; note.textContent = text; }
  function said(e) { return e.message + (e.hint ? "; " + e.hint : ""); }
  function onEvent(me, block) {
    var name = "", data = "";
    block.split("\\n").forEach(function (l) {
      if (l.indexOf("event: ") === 0) name = l.slice(7);
      if (l.indexOf("data: ") === 0) data += l.slice(6);
    });
    if (name === "line") {
      var d = JSON.parse(data);
      out.appendChild(document.createTextNode(d.host + " | " + d.line + "\\n"));
      window.scrollTo(0, document.body.scrollHeight);
    }
    if (name === "end") stopped(me, "stream ended");
    if (name === "error") stopped(me, "the stream failed: " + said(JSON.parse(data).error));
  }
  button.addEventListener("click", function () {
    if (live) { live.abort(); stopped(live, ""); return; }
    var me = live = new AbortController();
    button.textContent = "Stop"; note.textContent = "following";
    fetch(url, { signal: me.signal, headers: { accept: "text/event-stream" } }).then(function (res) {
      if (!res.ok) return res.json().then(function (b) { stopped(me, "not following: " + said(b.error)); }, function () { stopped(me, "not following: HTTP " + res.status); });
      var reader = res.body.getReader(), dec = new TextDecoder(), buf = "";
      function read() {
        return reader.read().then(function (r) {
          if (r.done) return stopped(me, "stream ended");
          buf += dec.decode(r.value, { stream: true });
          for (var i = buf.indexOf("\\n\\n"); i >= 0; i = buf.indexOf("\\n\\n")) { onEvent(me, buf.slice(0, i)); buf = buf.slice(i + 2); }
          return read();
        });
      }
      return read();
    }).catch(function () { stopped(me, "the stream failed"); });
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
