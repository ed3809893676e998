/**
 * What qdeploy prints. On a terminal: colour (unless NO_COLOR) and host-prefixed progress;
 * elsewhere (CI): plain lines with a UTC timestamp. Errors go to stderr.
 */
export interface OutputOptions {
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
  tty?: boolean;
  color?: boolean;
  write?: (text: string) => void;
  writeErr?: (text: string) => void;
}

export interface Output {
  readonly verbose: boolean;
  readonly json: boolean;
  /** A progress or status line (hidden by --quiet and --json). */
  info(line: string): void;
  /** A line about one host, prefixed with it. */
  host(label: string, line: string): void;
  /** Detail shown only with --verbose. */
  debug(line: string): void;
  /** The command's result: always shown (unless --json, where `data` is printed instead). */
  result(line: string): void;
  /** Machine-readable output for --json. */
  data(value: unknown): void;
  /** A problem, on stderr. */
  error(line: string): void;
  /** Something the user should look at that did not stop the command, on stderr. */
  warn(line: string): void;
}

const COLORS = ["36", "35", "33", "32", "34"];

/** Creates the output for this process's flags and terminal. */
export function createOutput(opts: OutputOptions = {}): Output {
  const tty = opts.tty ?? Boolean(process.stdout.isTTY);
  const color = opts.color ?? (tty && !process.env.NO_COLOR);
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  const writeErr = opts.writeErr ?? ((t: string) => process.stderr.write(t));
  const hostColors = new Map<string, string>();
  const stamp = () => (tty ? "" : `${new Date().toISOString()} `);
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const progress = (line: string) => {
    if (!opts.quiet && !opts.json) write(`${stamp()}${line}\n`);
  };
  return {
    verbose: Boolean(opts.verbose),
    json: Boolean(opts.json),
    info: progress,
    host(label, line) {
      if (!hostColors.has(label)) hostColors.set(label, COLORS[hostColors.size % COLORS.length]!);
      for (const l of line.replace(/\n$/, "").split("\n")) progress(`${paint(hostColors.get(label)!, label)} ${l}`);
    },
    debug(line) {
      if (opts.verbose) progress(paint("2", line));
    },
    result(line) {
      if (!opts.json) write(`${line}\n`);
    },
    data(value) {
      if (opts.json) write(`${JSON.stringify(value, null, 2)}\n`);
    },
    error(line) {
      writeErr(`${paint("31", "error:")} ${line}\n`);
    },
    warn(line) {
      writeErr(`${paint("33", "warning:")} ${line}\n`);
    },
  };
}

/** Turns a stream of chunks into whole lines for `onLine`; call `flush` at the end. */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: string) => void; flush: () => void } {
  let partial = "";
  return {
    push(chunk) {
      partial += chunk;
      let i: number;
      while ((i = partial.indexOf("\n")) >= 0) {
        onLine(partial.slice(0, i));
        partial = partial.slice(i + 1);
      }
    },
    flush() {
      if (partial) onLine(partial);
      partial = "";
    },
  };
}

/** The same output with every occurrence of these values replaced (see secrets/redact.ts). */
export function redactingOutput(out: Output, redactText: (s: string) => string): Output {
  return {
    verbose: out.verbose,
    json: out.json,
    info: (l) => out.info(redactText(l)),
    host: (label, l) => out.host(label, redactText(l)),
    debug: (l) => out.debug(redactText(l)),
    result: (l) => out.result(redactText(l)),
    data: (v) => out.data(JSON.parse(redactText(JSON.stringify(v)))),
    error: (l) => out.error(redactText(l)),
    warn: (l) => out.warn(redactText(l)),
  };
}
