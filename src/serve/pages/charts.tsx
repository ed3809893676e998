/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * Small charts drawn as inline SVG on the server (no script, no library): each process's
 * memory and CPU over the last hour, and the environment's deploys (duration and outcome).
 */
import type { ProcessSeries } from "../../remote/usage-history.ts";
import { formatBytes } from "../../util/bytes.ts";
import type { DeployPoint } from "../deploy-history.ts";

const W = 180;
const H = 36;

/**
 * A line over the last hour (x: time from `from` to `to`, y: 0 to the largest value); a gap
 * where a value is missing. `label` is what it shows, for a screen reader and a hover.
 */
export function Sparkline(p: { points: { at: number; value: number | null }[]; from: number; to: number; label: string; class: string }) {
  const max = Math.max(...p.points.map((x) => x.value ?? 0), 0) || 1;
  const span = Math.max(1, p.to - p.from);
  const runs: string[] = [];
  let run: string[] = [];
  for (const pt of p.points) {
    if (pt.value === null) {
      if (run.length) runs.push(run.join(" "));
      run = [];
      continue;
    }
    const x = ((pt.at - p.from) / span) * W;
    const y = H - 2 - (pt.value / max) * (H - 4);
    run.push(`${x.toFixed(1)},${y.toFixed(1)}`);
  }
  if (run.length) runs.push(run.join(" "));
  return (
    <svg class={`spark ${p.class}`} viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={p.label}>
      <title>{p.label}</title>
      <line x1="0" y1={H - 1} x2={W} y2={H - 1} class="axis" />
      {runs.map((r) => (r.includes(" ") ? <polyline points={r} /> : <circle cx={r.split(",")[0]} cy={r.split(",")[1]} r="1.5" />))}
    </svg>
  );
}

/** A host's processes: memory and CPU over the hour, with the latest of each. */
export function UsageCharts(p: { host: string; series: ProcessSeries[]; now: number }) {
  const from = p.now - 3600;
  if (!p.series.length) return <p class="muted">no samples yet (one a minute, once a release of this qdeploy is live)</p>;
  return (
    <table class="usage" data-host={p.host}>
      <thead>
        <tr>
          <th>process</th>
          <th>memory, last hour</th>
          <th>CPU, last hour</th>
        </tr>
      </thead>
      <tbody>
        {p.series.map((s) => {
          const mem = s.points.map((x) => ({ at: x.at, value: x.memoryBytes }));
          const cpu = s.points.map((x) => ({ at: x.at, value: x.cpuPercent }));
          const lastMem = [...mem].reverse().find((x) => x.value !== null)?.value ?? null;
          const lastCpu = [...cpu].reverse().find((x) => x.value !== null)?.value ?? null;
          const memText = lastMem === null ? "–" : formatBytes(lastMem);
          const cpuText = lastCpu === null ? "–" : `${lastCpu.toFixed(1)} %`;
          return (
            <tr data-process={s.process}>
              <td data-label="process">
                <code>{s.process}</code>
              </td>
              <td data-label="memory">
                <Sparkline points={mem} from={from} to={p.now} class="memory" label={`${s.process} memory over the last hour, now ${memText}`} /> <span class="now">{memText}</span>
              </td>
              <td data-label="CPU">
                <Sparkline points={cpu} from={from} to={p.now} class="cpu" label={`${s.process} CPU over the last hour (of one CPU), now ${cpuText}`} /> <span class="now">{cpuText}</span>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The deploys as bars, oldest left: height the duration, red when a host refused the release. */
export function DeployChart(p: { deploys: DeployPoint[] }) {
  if (!p.deploys.length) return <p class="muted">no push in the audit log yet</p>;
  const shown = p.deploys.slice(-30);
  const max = Math.max(...shown.map((d) => d.seconds), 1);
  const width = 360;
  const height = 80;
  const bar = width / 30;
  return (
    <figure class="deploys">
      <svg viewBox={`0 0 ${width} ${height + 14}`} width={width} height={height + 14} role="img" aria-label={`the last ${shown.length} pushes, the longest ${max.toFixed(1)} s`}>
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        {shown.map((d, i) => {
          const h = Math.max(2, (d.seconds / max) * (height - 4));
          return (
            <rect x={(i * bar + 1).toFixed(1)} y={(height - h).toFixed(1)} width={(bar - 2).toFixed(1)} height={h.toFixed(1)} class={d.outcome} data-release={d.release}>
              <title>{`${d.release}: ${d.outcome}, ${d.seconds.toFixed(1)} s, ${d.at}`}</title>
            </rect>
          );
        })}
        <text x="0" y={height + 12}>
          {`${shown[0]!.at.slice(0, 16).replace("T", " ")}`}
        </text>
        <text x={width} y={height + 12} text-anchor="end">
          {`longest ${max.toFixed(1)} s`}
        </text>
      </svg>
      <figcaption class="muted">
        the last {shown.length} pushes, each from its build to live on every host (red: refused)
      </figcaption>
    </figure>
  );
}
