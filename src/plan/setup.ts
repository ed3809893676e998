/** What a host needs before releases can land on it; empty when it has all of it. */
import { createHash } from "node:crypto";
import type { ResolvedConfig } from "../config/types.ts";
import { renderCaddyMain } from "../render/caddy.ts";
import { switchScript } from "../server-scripts.ts";
import type { HostFacts } from "./facts.ts";
import { layout } from "./layout.ts";
import type { Step } from "./steps.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Setup steps for one host (idempotent; `force` repeats the cheap ones anyway). */
export function planSetup(cfg: ResolvedConfig, facts: HostFacts, force = false): Step[] {
  const l = layout(cfg.app);
  const steps: Step[] = [];
  const caddyMain = renderCaddyMain();
  if (!facts.caddy) {
    steps.push(
      { kind: "run", argv: ["apt-get", "update", "-q"], why: "Caddy is not installed" },
      { kind: "run", argv: ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "caddy"], why: "install Caddy" },
    );
  }
  if (force || !facts.switchSha) {
    steps.push({
      kind: "run",
      argv: ["install", "-d", "-m", "0755", l.root, l.blobs, l.releases, l.slots, l.caddySites],
      why: "the app's directories",
    });
  }
  if (force || facts.caddyfileSha !== sha256(caddyMain)) {
    steps.push(
      { kind: "write", path: l.caddyMain, content: caddyMain, mode: 0o644, why: "Caddy imports one file per app" },
      { kind: "run", argv: ["systemctl", "enable", "--quiet", "caddy"], why: "Caddy starts at boot" },
      { kind: "run", argv: ["systemctl", "reload-or-restart", "caddy"], why: "Caddy reads the new Caddyfile" },
    );
  }
  if (force || facts.switchSha !== sha256(switchScript)) {
    steps.push({ kind: "write", path: l.switchScript, content: switchScript, mode: 0o755, why: "the server-side switch" });
  }
  return steps;
}
