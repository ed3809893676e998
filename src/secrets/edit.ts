/**
 * `secrets edit`: an environment's secrets as a dotenv file in the user's editor, in a private
 * temporary folder (tmpfs when there is one) removed afterwards; saved, encrypted, when the
 * editor quits with good text. Returns the names added, changed and removed.
 */
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OperationError } from "../errors.ts";
import { readSecretsFile } from "./age-store.ts";
import { emptyValues, formatDotenv, parseDotenv, type DotenvProblem } from "./dotenv.ts";
import { childEnviron } from "../util/child-env.ts";
import { ageFilesFor, identityFor, saveSecrets, type SecretsConfigSource, type SecretsIO, type SecretsOptions } from "./operation.ts";

/** What an edit changed, by name. */
export interface EditResult {
  env: string;
  added: string[];
  changed: string[];
  removed: string[];
  file: string;
}

const EDIT_HEADER = (env: string, shown: string) =>
  [
    `# qdeploy secrets for ${env}: saved, encrypted, to ${shown} when you quit the editor.`,
    "# dotenv format: KEY=value (spaces around it are trimmed; ' # ' starts a comment), KEY='literal text',",
    '# KEY="with \\n for a newline", or a quoted value over several lines. Lines starting with # are not saved.',
    "",
  ].join("\n");

/** The first and last lines of the problems `edit` puts at the top of a reopened file; removed before parsing. */
const PROBLEMS_FIRST = "# qdeploy: NOTHING IS SAVED YET. Fix these problems, then save and quit (quit without saving to give up):";
const PROBLEMS_LAST = "# (end of problems)";
/** A scripted editor that never fixes its text must not keep qdeploy reopening it. */
const MAX_EDIT_ROUNDS = 20;

/** `text` without the problems block a reopened editor was given. */
function withoutProblems(text: string): string {
  if (!text.startsWith(`${PROBLEMS_FIRST}\n`)) return text;
  const lines = text.split("\n");
  const last = lines.indexOf(PROBLEMS_LAST);
  if (last >= 0) return lines.slice(last + 1).join("\n");
  let i = 1;
  while (i < lines.length && lines[i]!.startsWith("#   line ")) i++;
  return lines.slice(i).join("\n");
}

/**
 * Problems of the edited text, numbered as the lines of the file that shows them at its
 * top: the block's length is known from the first count, so the text is parsed again
 * below that many placeholder lines.
 */
function numberedProblems(body: string): DotenvProblem[] {
  const first = parseDotenv(body, { writable: true }).problems;
  if (!first.length) return first;
  return parseDotenv("#\n".repeat(first.length + 2) + body, { writable: true }).problems;
}

function problemsBlock(problems: DotenvProblem[]): string {
  return [PROBLEMS_FIRST, ...problems.map((p) => `#   ${p.message}`), PROBLEMS_LAST, ""].join("\n");
}

/**
 * Opens the environment's secrets in $VISUAL or $EDITOR (else vi); a mistake reopens the editor
 * with the problems at the top, and leaving it unchanged then gives up, saving nothing.
 */
export async function editSecrets(io: SecretsIO, source: SecretsConfigSource, env: string, opts: SecretsOptions = {}): Promise<EditResult> {
  const files = await ageFilesFor(source, env);
  const identity = await identityFor(io, opts);
  const before = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? emptyValues();
  const editor = (io.environ.VISUAL || io.environ.EDITOR || "vi").trim().split(/\s+/);

  // tmpfs when there is one: the plaintext then never reaches a disk.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = await mkdtemp(join(base, "qdeploy-secrets-")); // mkdtemp: mode 0700
  const path = join(dir, `${env}.env`);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let child: ReturnType<typeof Bun.spawn> | undefined;
  const onFatal = (signal: NodeJS.Signals, code: number) => () => {
    child?.kill(signal);
    cleanup();
    process.exit(128 + code);
  };
  const handlers: [NodeJS.Signals, () => void][] = [
    ["SIGTERM", onFatal("SIGTERM", 15)],
    ["SIGHUP", onFatal("SIGHUP", 1)],
    // Ctrl-C belongs to the editor while it runs (git does the same).
    ["SIGINT", () => {}],
  ];
  for (const [s, h] of handlers) process.on(s, h);
  let after: Record<string, string>;
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      await handle.writeFile(EDIT_HEADER(env, files.show(files.file)) + formatDotenv(before));
    } finally {
      await handle.close();
    }
    // On a mistake the editor opens again on the same text, the problems (line numbers,
    // never values) at its top, until the text is good or is saved unchanged.
    let reopened: { body: string; problems: DotenvProblem[] } | null = null;
    for (let round = 1; ; round++) {
      try {
        child = Bun.spawn([...editor, path], {
          stdio: ["inherit", "inherit", "inherit"],
          env: childEnviron(io.environ),
        });
      } catch (e) {
        throw new OperationError(
          `cannot start the editor "${editor[0]}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ` +
            `set VISUAL or EDITOR to an installed editor`,
        );
      }
      const code = await child.exited;
      if (code !== 0) throw new OperationError(`the editor (${editor[0]}) exited with ${code}: nothing was changed in ${env}`);
      const body = withoutProblems(await readFile(path, "utf8"));
      if (reopened && body === reopened.body) {
        throw new OperationError(
          `nothing was saved to ${env}'s secrets: the editor was left without changes, with ` +
            `${reopened.problems.length} problem${reopened.problems.length === 1 ? "" : "s"} still in it ` +
            `(${reopened.problems.map((p) => p.message).join("; ")})`,
        );
      }
      const problems = numberedProblems(body);
      if (!problems.length) {
        after = parseDotenv(body).values;
        break;
      }
      if (round >= MAX_EDIT_ROUNDS) {
        throw new OperationError(`nothing was saved to ${env}'s secrets: the text still had problems after ${round} edits (${problems.map((p) => p.message).join("; ")})`);
      }
      io.err(
        `${problems.length} problem${problems.length === 1 ? "" : "s"} in the edit (${problems.map((p) => p.message).join("; ")}): ` +
          `opening the editor again; quit it without saving to give up`,
      );
      await writeFile(path, problemsBlock(problems) + body);
      reopened = { body, problems };
    }
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
    await rm(dir, { recursive: true, force: true });
  }

  const added = Object.keys(after).filter((k) => !(k in before));
  const changed = Object.keys(after).filter((k) => k in before && before[k] !== after[k]);
  const removed = Object.keys(before).filter((k) => !(k in after));
  const result = { env, added, changed, removed, file: files.show(files.file) };
  if (added.length || changed.length || removed.length) await saveSecrets(io, env, files, identity, after);
  return result;
}
