/**
 * Turns run and write steps into one bash script for `bash -s`: a whole release is written
 * and switched in one SSH round trip, and file contents (secrets included) travel inside
 * the script (heredocs) on stdin, never on a command line.
 */
import { createHash } from "node:crypto";
import { isSwitchScript } from "../server-layout.ts";
import { quoteArgv } from "../util/quote.ts";
import type { Step } from "./steps.ts";

// qd_write PATH UMASK MODE|- new|replace: the content comes on stdin (a heredoc). Builtins
// only where they do, because every process costs tens of milliseconds on a small VM (the
// file's umask is set and put back to the script's 077, not kept in a subshell: a fork): a
// file in a new release directory is written in place (release.json, written last, marks the
// directory complete); any other file goes to a temp file renamed over the old one.
const PRELUDE = `set -euo pipefail
umask 077
qd_write() {
  local c t=$1
  IFS= read -r -d '' c || true
  [ "$4" = new ] || t="$1.tmp.$$"
  umask "$2"
  printf '%s' "\${c%$'\\n'}" > "$t"
  umask 077
  [ "$3" = - ] || chmod "$3" "$t"
  [ "$t" = "$1" ] || mv -f "$t" "$1"
}
`;

/** `text` as a quoted heredoc (no expansion), its delimiter derived from it: it cannot occur in it as a line. */
function heredoc(text: string): string {
  const eof = `QDEPLOY_EOF_${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
  return `<<'${eof}'\n${text}\n${eof}`;
}

/** A marker line the executor reads to tell which step failed. */
export const STEP_MARK = "::qdeploy-step ";

/**
 * Renders steps (no uploads) as a bash script; step N announces itself on stderr. An async
 * step starts in the background and announces itself at the end, when the script waits for
 * it: its failure then fails the script as that step.
 */
export function renderBatchScript(steps: Step[]): string {
  const mark = (i: number) => `printf '%s\\n' ${quoteArgv([STEP_MARK + i])} >&2`;
  const waits: string[] = [];
  const body = steps.map((step, i) => {
    switch (step.kind) {
      case "run": {
        // bash -s reads this script from stdin as it runs: a command that reads stdin would
        // swallow the steps after it, so run steps read /dev/null or their own heredoc. The
        // app's switch (a bash script) is sourced in a subshell, not run: a second bash
        // costs ~0.1 s on a small VM.
        const program = isSwitchScript(step.argv[0]) ? `( . ${quoteArgv(step.argv)} )` : quoteArgv(step.argv);
        const command = step.stdin === undefined ? `${program} </dev/null` : `${program} ${heredoc(step.stdin)}`;
        if (!step.async) return `${mark(i)}\n${command}`;
        waits.push(`${mark(i)}\nwait "$qd_step_${i}"`);
        return `${command} & qd_step_${i}=$!`;
      }
      case "write": {
        const umask = (~step.mode & 0o777).toString(8).padStart(3, "0");
        const chmod = step.mode & 0o111 ? step.mode.toString(8) : "-";
        const args = quoteArgv([step.path, umask, chmod, step.fresh ? "new" : "replace"]);
        return `${mark(i)}\nqd_write ${args} ${heredoc(step.content)}`;
      }
      case "upload":
        throw new Error("uploads do not go into a batch script");
    }
  });
  return `${PRELUDE}${[...body, ...waits].join("\n")}\n`;
}
