// STUB (lead's worktree): replaced by part "config"'s file at merge.
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
export function hostProcesses(cfg: ResolvedConfig, _host: HostAddress): string[] {
  return Object.keys(cfg.processes);
}
export function dutyHost(cfg: ResolvedConfig): HostAddress {
  return cfg.hosts[0]!;
}
export function hostConfig(cfg: ResolvedConfig, _host: HostAddress): ResolvedConfig {
  return cfg;
}
