/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/** The dashboard's frame: head (viewport, inline CSS), a top bar, and the shared bits of its pages. */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { ErrorBody } from "../../errors.ts";

// Small and inline (no build step). Below 640 px a table stacks: each row a card, each cell
// prefixed with its column's name (td[data-label]), so nothing scrolls sideways on a phone.
const CSS = `
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;gap:.5em 1em;align-items:center;padding:.6em 1em;background:#1b1f24;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}
header .who{margin-left:auto;font-size:.9em;opacity:.85}
header form{display:inline}
main{padding:1em;max-width:1100px;margin:0 auto}
h1{font-size:1.35em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .5em}
section.card{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8em 1em;margin-bottom:1em}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:.35em .5em;border-bottom:1px solid #e4e7eb;vertical-align:top;overflow-wrap:break-word}
th{font-size:.85em;color:#57606a;font-weight:600;overflow-wrap:normal}
code,pre{font:13px/1.4 ui-monospace,monospace}
pre{background:#0f1419;color:#e6e1cf;padding:.7em;border-radius:6px;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;max-height:70vh}
.ok{color:#116329;font-weight:600}.bad{color:#b42318;font-weight:600}.muted{color:#6e7781}
.tag{display:inline-block;padding:0 .45em;border-radius:4px;font-size:.85em;background:#eaeef2}
.tag.live{background:#dafbe1;color:#116329}.tag.refused{background:#ffebe9;color:#b42318}.tag.previous{background:#fff8c5}
.msg{padding:.6em .8em;border-radius:6px;margin:.6em 0}
.msg.error{background:#ffebe9;border:1px solid #ffcecb}.msg.warn{background:#fff8c5;border:1px solid #eed888}
button,input{font:inherit}
button{padding:.35em .8em;border:1px solid #8c959f;border-radius:5px;background:#fff;cursor:pointer}
button.danger{border-color:#cf222e;color:#cf222e}
input[type=password]{width:100%;padding:.5em;border:1px solid #8c959f;border-radius:5px}
ol.events{padding-left:1.4em;font:13px/1.5 ui-monospace,monospace}
ol.events .warn{color:#9a6700}ol.events .error{color:#b42318}
h3{font-size:1em;margin:1em 0 .3em}
svg .axis{stroke:#d0d7de;stroke-width:1}
svg.spark{vertical-align:middle;background:#fff}svg.spark polyline{fill:none;stroke-width:1.5}svg.spark circle{stroke:none}
svg.spark.memory polyline{stroke:#0969da}svg.spark.memory circle{fill:#0969da}svg.spark.cpu polyline{stroke:#8250df}svg.spark.cpu circle{fill:#8250df}
table.usage .now{font:13px ui-monospace,monospace;margin-left:.3em}
figure.deploys{margin:0;max-width:100%;overflow-x:auto}figure.deploys svg{max-width:100%;height:auto;background:#fff}
figure.deploys rect.live{fill:#2da44e}figure.deploys rect.refused{fill:#cf222e}figure.deploys text{font:10px system-ui,sans-serif;fill:#57606a}
@media (max-width:640px){
  table,tbody,tr,td{display:block}thead{display:none}
  tr{border:1px solid #dde1e6;border-radius:6px;margin-bottom:.6em;padding:.3em 0}
  td{border:0;padding:.15em .7em}
  td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#57606a}
}`;

export interface Viewer {
  name: string;
  role: string;
}

/** A whole page. `head` adds to <head> (a refresh fallback, say). */
export function Layout(p: { title: string; viewer?: Viewer | null; head?: Child; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{p.title} · qdeploy</title>
        <style>{raw(CSS)}</style>
        {p.head}
      </head>
      <body>
        <header>
          <a href="/">qdeploy</a>
          {p.viewer && (
            <span class="who">
              {p.viewer.name} ({p.viewer.role}){" "}
              <form method="post" action="/logout">
                <button type="submit">Log out</button>
              </form>
            </span>
          )}
        </header>
        <main>{p.children}</main>
      </body>
    </html>
  );
}

/** A table that stacks on a phone: every cell carries its column's name (a nameless column none). */
export function Table(p: { head: string[]; rows: Child[][]; id?: string }) {
  return (
    <table id={p.id}>
      <thead>
        <tr>
          {p.head.map((h) => (
            <th>{h}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {p.rows.map((row) => (
          <tr>
            {row.map((cell, i) => (
              <td data-label={p.head[i] || undefined}>{cell}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** An error shown in place of what failed (a host down: the rest of the page still renders). */
export function ErrorMessage(p: { error: ErrorBody; id?: string }) {
  return (
    <div class="msg error" id={p.id}>
      <strong>{p.error.message}</strong>
      {p.error.hint && <div class="muted">{p.error.hint}</div>}
      {p.error.holder && <div>held by {p.error.holder}</div>}
    </div>
  );
}

/** Health as a word with colour: ok, failing, or a dash. */
export function Health(p: { health: string | null }) {
  if (!p.health) return <span class="muted">–</span>;
  return <span class={p.health === "ok" ? "ok" : "bad"}>{p.health}</span>;
}

/** JSON for an inline <script>: `<` escaped so no value can close the script element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}
