/**
 * Where qdeploy keeps its files on the machine it runs on, by each OS's convention:
 * XDG_CACHE_HOME / XDG_CONFIG_HOME when set (on any OS: a user who sets them means it), else
 * ~/.cache/qdeploy and ~/.config/qdeploy on Linux, ~/Library/Caches/qdeploy and
 * ~/Library/Application Support/qdeploy on macOS. Pure: the environment and the OS are given.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export type Environ = Record<string, string | undefined>;

/** HOME as the environment says (Bun's os.homedir() keeps the value from startup). */
function home(env: Environ): string {
  return env.HOME || homedir();
}

/** qdeploy's cache folder: downloads and builds it can make again (the sandbox image, zig, Go's release list). */
export function cacheDir(env: Environ = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "qdeploy");
  return platform === "darwin" ? join(home(env), "Library", "Caches", "qdeploy") : join(home(env), ".cache", "qdeploy");
}

/** qdeploy's config folder: what it cannot make again (the age identity, serve's tokens). */
export function configDir(env: Environ = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, "qdeploy");
  return platform === "darwin" ? join(home(env), "Library", "Application Support", "qdeploy") : join(home(env), ".config", "qdeploy");
}
