/**
 * Every command line that runs server/switch.sh on a host, built here and nowhere else: the
 * verbs and their arguments in the order switch.sh reads them (its header lists them). Pure.
 */
import { APPS_DIR, layout } from "./server-layout.ts";

/** What an activate may add: only the web process, or the live release a refused wave undoes. */
export interface ActivateOptions {
  only?: "web";
  undoing?: string;
}

/** The switch's verbs as argv, for the app's installed switch (layout's switchScript). */
export function switchCommands(app: string) {
  const script = layout(app).switchScript;
  return {
    script,
    /** The health-gated switch to release `id` (a push, a rollback, a revert). */
    activate(id: string, who: string, o: ActivateOptions = {}): string[] {
      if (o.only === undefined && o.undoing === undefined) return [script, "activate", id, who];
      return [script, "activate", id, who, o.only ?? "", ...(o.undoing === undefined ? [] : [o.undoing])];
    },
    /** A fleet's host, before its wave: the release's web slot started and healthy, out of traffic. */
    stage: (id: string, who: string): string[] => [script, "stage", id, who],
    /** Undoes a stage the rollout stopped before this host's wave. */
    unstage: (id: string): string[] => [script, "unstage", id],
    /** The same switch to the live release, or a restart of one process; `who` for the audit log. */
    restart: (proc: string | null, who: string): string[] => [script, "restart", proc ?? "", who],
    /** As the restart timer's unit runs it: every process, "the timer" in the audit log. */
    timerRestart: `${script} restart`,
    /** As the watchdog timer's unit runs it (web.watchdog): a look at the live web slot, a restart of it when it hangs. */
    watchdog: `${script} watchdog`,
    /** As the usage timer's unit runs it: a sample of the running services' memory and CPU. */
    sample: `${script} sample`,
    status: (): string[] => [script, "status"],
    /** The last hour's samples (switch sample), if any: a plain read, no switch needed. */
    usage: (): string[] => ["sh", "-c", 'if [ -f "$1" ]; then exec cat "$1"; fi', "sh", layout(app).usage],
    /** `status` on a host where the switch may not be installed yet: nothing then. */
    statusIfInstalled: (): string[] => ["sh", "-c", 'if [ -x "$1" ]; then exec "$1" status; fi', "sh", script],
    /** A command with the live release's environment, as the app user. */
    exec: (argv: string[]): string[] => [script, "exec", ...argv],
    /** A pack of slug blobs into blobs/. */
    unpack: (pack: string): string[] => [script, "unpack", pack],
    /** releases/ID/app from its tar of names and hard links. */
    link: (id: string): string[] => [script, "link", id],
  };
}

/** What review apps (src/ops/review-apps.ts) run on their host, by plain commands. */
export const previewCommands = {
  /** Every preview.json under the apps folder, one JSON a line (a record is one line). */
  list: (): string[] => ["sh", "-c", 'for f in "$1"/*/preview.json; do [ -f "$f" ] && cat "$f" && echo; done; true', "sh", APPS_DIR],
  /** The app's `switch destroy WHO`, when one is installed; else the folder alone (a preview that never got a release). */
  destroy: (app: string, who: string): string[] => {
    const l = layout(app);
    return ["sh", "-c", 'if [ -x "$1" ]; then exec "$1" destroy "$3"; fi; rm -rf -- "$2"', "sh", l.switchScript, l.root, who];
  },
  /** On a host that runs only its add-ons: each one destroyed (no backup kept), then the folder. */
  destroyAddons: (app: string): string[] => {
    const l = layout(app);
    return ["sh", "-c", 'for f in "$2"/*.env; do [ -f "$f" ] || continue; n=${f##*/}; "$1" destroy "$4" "${n%.env}" 0 || exit 1; done; rm -rf -- "$3"', "sh", l.addonScript, l.addonState, l.root, app];
  },
};

/**
 * What `promote` reads from a host of the environment it promotes from, by plain commands (a
 * host whose switch an older qdeploy installed answers them too).
 */
export const promoteCommands = {
  /**
   * The host's blobs (`B inode name`) and release `id`'s app folder (`F inode type size path
   * target`), every field ended by a NUL: a file of the folder is the blob of its inode (hard
   * links), so its sha256 is read, not computed. Exit 3: no such release.
   */
  manifest: (app: string, id: string): string[] => [
    "bash",
    "-c",
    'set -eu; cd "$1"; [ -f "releases/$2/release.json" ] || exit 3; ' +
      "find blobs -maxdepth 1 -type f -printf 'B\\0%i\\0%f\\0'; " +
      '[ ! -d "releases/$2/app" ] || find "releases/$2/app" -mindepth 1 \\( -type f -o -type l \\) -printf \'F\\0%i\\0%y\\0%s\\0%P\\0%l\\0\'',
    "promote-manifest",
    layout(app).root,
    id,
  ],
  /** The named blobs as one tar, base64 on one line (the channel carries text). */
  blobs: (app: string, names: string[]): string[] => ["bash", "-c", 'set -o pipefail; cd "$1" && shift && tar -cf - -- "$@" | base64 -w 0', "promote-blobs", layout(app).blobs, ...names],
};
