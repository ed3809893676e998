/**
 * What qdeploy prints. Colour per stream (colorFor): stdout's by stdout's terminal, stderr's
 * by stderr's. On a terminal: host-prefixed lines and, on stderr, live progress lines redrawn
 * in place; elsewhere (CI): plain lines with a UTC timestamp, and of progress only its final
 * line. Errors go to stderr.
 */
import type { EventSink } from "./events.ts";

export interface OutputOptions {
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
  /** stdout is a terminal: no timestamps (default: process.stdout.isTTY). */
  tty?: boolean;
  /** Colour on stdout (default: colorFor(stdout)). */
  color?: boolean;
  /** stderr is a terminal that can redraw lines: live progress there (default: its isTTY, and TERM is not dumb). */
  errTty?: boolean;
  /** Colour on stderr (default: colorFor(stderr)). */
  errColor?: boolean;
  /** stderr's width; live lines are cut to it so that redrawing never wraps (default: its columns, else 80). */
  columns?: number;
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
  /**
   * A live line for `key` (a build, one host's upload), redrawn in place on a terminal.
   * done=true frees it and prints `line` as an info line (an empty line prints nothing);
   * off a terminal only that final line is printed.
   */
  progress(key: string, line: string, done?: boolean): void;
}

/** Whether to colour a stream: FORCE_COLOR (not 0/false) forces it, then NO_COLOR, TERM=dumb, else the stream's TTY. */
export function colorFor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  const force = env.FORCE_COLOR;
  // As Node's own rule (tty.getColorDepth): an explicit FORCE_COLOR beats NO_COLOR.
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  if (env.NO_COLOR) return false;
  if (env.TERM === "dumb") return false;
  return Boolean(stream.isTTY);
}

const COLORS = ["36", "35", "33", "32", "34"];
const ESC = "\x1b[";

/** Creates the output for this process's flags and terminal. */
export function createOutput(opts: OutputOptions = {}): Output {
  const env = process.env;
  const tty = opts.tty ?? Boolean(process.stdout.isTTY);
  const color = opts.color ?? colorFor({ isTTY: tty }, env);
  const errTty = opts.errTty ?? (Boolean(process.stderr.isTTY) && env.TERM !== "dumb");
  const errColor = opts.errColor ?? colorFor(process.stderr, env);
  const columns = () => opts.columns ?? (process.stderr.columns || 80);
  const rawWrite = opts.write ?? ((t: string) => process.stdout.write(t));
  const rawWriteErr = opts.writeErr ?? ((t: string) => process.stderr.write(t));
  const hostColors = new Map<string, string>();
  const stamp = () => (tty ? "" : `${new Date().toISOString()} `);
  const paint = (code: string, s: string) => (color ? `${ESC}${code}m${s}${ESC}0m` : s);
  const paintErr = (code: string, s: string) => (errColor ? `${ESC}${code}m${s}${ESC}0m` : s);

  // The live block: one line per key on stderr, cursor left below it. Any other line is
  // written with the block wiped first and redrawn after, so it never mixes with it.
  const live = !opts.quiet && !opts.json && errTty;
  const lines = new Map<string, string>();
  let drawn = 0;
  const cut = (line: string) => {
    const width = Math.max(columns() - 1, 10);
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  };
  const redraw = () => {
    let s = drawn ? `${ESC}${drawn}A` : "";
    for (const l of lines.values()) s += `\r${ESC}2K${cut(l)}\n`;
    if (lines.size < drawn) s += `${ESC}J`;
    drawn = lines.size;
    if (s) rawWriteErr(s);
  };
  const around = (f: () => void) => {
    if (!drawn) return f();
    rawWriteErr(`${ESC}${drawn}A\r${ESC}J`);
    drawn = 0;
    f();
    redraw();
  };
  // Only a terminal's stdout shares the screen with the block.
  const write = (t: string) => (tty ? around(() => rawWrite(t)) : rawWrite(t));
  const writeErr = (t: string) => around(() => rawWriteErr(t));

  const say = (line: string) => {
    if (!opts.quiet && !opts.json) write(`${stamp()}${line}\n`);
  };
  return {
    verbose: Boolean(opts.verbose),
    json: Boolean(opts.json),
    info: say,
    host(label, line) {
      if (!hostColors.has(label)) hostColors.set(label, COLORS[hostColors.size % COLORS.length]!);
      for (const l of line.replace(/\n$/, "").split("\n")) say(`${paint(hostColors.get(label)!, label)} ${l}`);
    },
    debug(line) {
      if (opts.verbose) say(paint("2", line));
    },
    result(line) {
      if (!opts.json) write(`${line}\n`);
    },
    data(value) {
      if (opts.json) write(`${JSON.stringify(value, null, 2)}\n`);
    },
    error(line) {
      writeErr(`${paintErr("31", "error:")} ${line}\n`);
    },
    warn(line) {
      writeErr(`${paintErr("33", "warning:")} ${line}\n`);
    },
    progress(key, line, done = false) {
      if (!done) {
        if (!live) return;
        lines.set(key, line);
        return redraw();
      }
      if (lines.delete(key)) {
        // The final line takes the live line's place: wipe the block, print, redraw the rest.
        around(() => {
          if (line) say(line);
        });
        return;
      }
      if (line) say(line);
    },
  };
}

/**
 * The same output with every line (and --json's data) passed through `redactText` first: the
 * CLI's one place where a secret value is taken out of what it prints (src/secrets/redact.ts).
 * Before a live line is cut to the terminal's width, so no part of a value survives the cut.
 */
export function redactingOutput(out: Output, redactText: (s: string) => string): Output {
  return {
    verbose: out.verbose,
    json: out.json,
    info: (l) => out.info(redactText(l)),
    host: (label, l) => out.host(label, redactText(l)),
    debug: (l) => out.debug(redactText(l)),
    result: (l) => out.result(redactText(l)),
    data: (v) => {
      // Each string by itself, before JSON escapes it: a value holding a newline or a quote
      // (a PEM key) is matched as it is.
      const shown = JSON.stringify(v, redactingStrings(redactText));
      out.data(shown === undefined ? v : JSON.parse(shown));
    },
    error: (l) => out.error(redactText(l)),
    warn: (l) => out.warn(redactText(l)),
    progress: (key, l, done) => out.progress(key, redactText(l), done),
  };
}

/** A JSON.stringify replacer that redacts every string value (keys are qdeploy's own names). */
export function redactingStrings(redactText: (s: string) => string): (key: string, value: unknown) => unknown {
  return (_key, value) => (typeof value === "string" ? redactText(value) : value);
}

/** The sink that prints events through the CLI's Output (which knows --quiet, --verbose, --json, colour, live lines). */
export function printEvents(out: Output): EventSink {
  return (e) => {
    switch (e.type) {
      case "info":
        return out.info(e.line);
      case "host":
        return out.host(e.host, e.line);
      case "debug":
        return out.debug(e.line);
      case "warn":
        return out.warn(e.line);
      case "error":
        return out.error(e.line);
      case "wave":
        return out.info(`wave ${e.wave}/${e.waves}: ${e.hosts.join(", ")}`);
      case "locked":
        return out.debug(`holding the deploy lock on ${e.hosts.join(", ")}`);
      case "progress":
        return out.progress(e.key, e.line, e.done);
    }
  };
}
