/**
 * The build's variables as the seeds read them: on Heroku and Qoddi they are app config vars
 * (here the environment's [env] table); locally they are the shell's. Highest first: a
 * deploy.toml [build] key, the local environment, [env], go.mod's directives, the defaults.
 * Pure.
 */
import type { ResolvedConfig } from "../config/types.ts";
import type { PackageSpec } from "./packages.ts";

/** Variables go (or its cgo) reads, taken from [env] when the local environment has none. */
export const GO_BUILD_VARS = [
  "GOVERSION",
  "GOPROXY",
  "GOPRIVATE",
  "GONOPROXY",
  "GONOSUMDB",
  "GOFLAGS",
  "CGO_CFLAGS",
  "CGO_CPPFLAGS",
  "CGO_CXXFLAGS",
  "CGO_LDFLAGS",
  "GO_LINKER_SYMBOL",
  "GO_LINKER_VALUE",
  "GO_INSTALL_PACKAGE_SPEC",
] as const;

/** `local` with each build variable it lacks taken from `vars` ([env]). */
export function buildEnvironment(
  local: Record<string, string | undefined>,
  vars: Record<string, string>,
): Record<string, string | undefined> {
  const env = { ...local };
  for (const name of GO_BUILD_VARS) {
    if (!env[name] && vars[name]) env[name] = vars[name];
  }
  return env;
}

/**
 * The build settings with Heroku's linker variables applied: without a build.stamp key,
 * GO_LINKER_SYMBOL stamps `-X SYMBOL=VALUE`, VALUE from GO_LINKER_VALUE or the commit (as
 * Heroku's $SOURCE_VERSION).
 */
export function withLinkerVars(build: ResolvedConfig["build"], env: Record<string, string | undefined>): ResolvedConfig["build"] {
  const symbol = env.GO_LINKER_SYMBOL?.trim();
  if (build.stampGiven || !symbol) return build;
  return { ...build, stamp: { symbol, value: env.GO_LINKER_VALUE ?? "{git.sha}" } };
}

/**
 * The build settings with the install spec's flags applied (`// +heroku install -tags pg
 * ...`, GO_INSTALL_PACKAGE_SPEC): its -tags and -ldflags stand in for build.tags and
 * build.ldflags where deploy.toml does not write them.
 */
export function withInstallFlags(build: ResolvedConfig["build"], spec: Pick<PackageSpec, "flags">): ResolvedConfig["build"] {
  const { tags, ldflags } = spec.flags ?? {};
  return {
    ...build,
    ...(tags !== undefined && !build.tagsGiven && { tags }),
    ...(ldflags !== undefined && !build.ldflagsGiven && { ldflags }),
  };
}
