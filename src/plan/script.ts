/**
 * Turns run and write steps into one bash script for `bash -s`: a whole release is written
 * and switched in one SSH round trip, and file contents (secrets included) travel inside
 * the script on stdin, never on a command line.
 */
import { quoteArgv } from "../util/quote.ts";
import type { Step } from "./steps.ts";

const PRELUDE = `set -euo pipefail
umask 077
qd_write() { local t; t=$(mktemp "$1.XXXXXX"); base64 -d > "$t"; chmod "$2" "$t"; mv -f "$t" "$1"; }
`;

/** A marker line the executor reads to tell which step failed. */
export const STEP_MARK = "::qdeploy-step ";

/** Renders steps (no uploads) as a bash script; step N announces itself on stderr. */
export function renderBatchScript(steps: Step[]): string {
  const body = steps.map((step, i) => {
    const mark = `printf '%s\\n' ${quoteArgv([STEP_MARK + i])} >&2`;
    switch (step.kind) {
      case "run":
        return `${mark}\n${quoteArgv(step.argv)}`;
      case "write": {
        const data = Buffer.from(step.content).toString("base64").replace(/.{1,76}/g, "$&\n");
        return `${mark}\nqd_write ${quoteArgv([step.path, step.mode.toString(8)])} <<'QDEPLOY_EOF'\n${data}QDEPLOY_EOF`;
      }
      case "upload":
        throw new Error("uploads do not go into a batch script");
    }
  });
  return `${PRELUDE}${body.join("\n")}\n`;
}
