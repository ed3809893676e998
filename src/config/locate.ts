/**
 * Where each key of a TOML document is defined. @iarna/toml gives values without
 * positions, so this scans the text (already known to parse) for table headers,
 * [[array tables]] (the Nth one is index N-1), dotted keys, inline tables and array
 * items, and records the line that first mentions every key path.
 */

/** A key path: table keys, and array indices as numbers: ["jobs", 0, "name"]. */
export type KeyPath = (string | number)[];

/** `jobs[0].name`, `env."MY VAR"`: how problems name a key. */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const key = /^[A-Za-z0-9_-]+$/.test(seg) ? seg : JSON.stringify(seg);
      out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}

/** Key path (as formatPath writes it) -> 1-based line of its first definition. */
export type KeyLines = Map<string, number>;

/** The best line for a key: its own, else the nearest enclosing table's, else undefined. */
export function lineOf(lines: KeyLines, path: KeyPath): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(formatPath(path.slice(0, n)));
    if (line !== undefined) return line;
  }
  return undefined;
}

/** Scans TOML text for the line of every key path. Never throws: on text it cannot follow, it keeps what it found. */
export function locateKeys(text: string): KeyLines {
  const lines: KeyLines = new Map();
  try {
    new Scanner(text, lines).document();
  } catch {
    // Only reachable on text that did not parse; the parser reports that one.
  }
  return lines;
}

class Scanner {
  private i = 0;
  private readonly lineStarts: number[] = [0];
  /** How many [[x]] headers each array-table path has had so far. */
  private readonly arrayCounts = new Map<string, number>();

  constructor(
    private readonly text: string,
    private readonly lines: KeyLines,
  ) {
    for (let k = 0; k < text.length; k++) if (text[k] === "\n") this.lineStarts.push(k + 1);
  }

  document(): void {
    let table: KeyPath = [];
    for (;;) {
      this.skipBlank(true);
      if (this.i >= this.text.length) return;
      if (this.text.startsWith("[[", this.i)) {
        const line = this.line();
        this.i += 2;
        const path = this.key();
        this.expect("]]");
        const parent = this.resolve(path.slice(0, -1));
        const full = [...parent, path[path.length - 1]!];
        const id = formatPath(full);
        const n = this.arrayCounts.get(id) ?? 0;
        this.arrayCounts.set(id, n + 1);
        table = [...full, n];
        this.record(table, line);
      } else if (this.text[this.i] === "[") {
        const line = this.line();
        this.i += 1;
        table = this.resolve(this.key());
        this.expect("]");
        this.record(table, line);
      } else {
        this.keyValue(table);
      }
    }
  }

  /** Inserts the current index after every prefix that is an array of tables. */
  private resolve(path: KeyPath): KeyPath {
    const out: KeyPath = [];
    for (const seg of path) {
      out.push(seg);
      const n = this.arrayCounts.get(formatPath(out));
      if (n !== undefined) out.push(n - 1);
    }
    return out;
  }

  private keyValue(table: KeyPath): void {
    const line = this.line();
    const path = [...table, ...this.key()];
    this.record(path, line);
    this.skipBlank(false);
    this.expect("=");
    this.skipBlank(false);
    this.value(path);
  }

  private value(path: KeyPath): void {
    const c = this.text[this.i];
    if (c === "{") {
      this.i++;
      for (;;) {
        this.skipBlank(true);
        if (this.text[this.i] === "}") { this.i++; return; }
        if (this.text[this.i] === ",") { this.i++; continue; }
        this.keyValue(path);
      }
    }
    if (c === "[") {
      this.i++;
      let index = 0;
      for (;;) {
        this.skipBlank(true);
        const d = this.text[this.i];
        if (d === undefined) throw new Error("unterminated array");
        if (d === "]") { this.i++; return; }
        if (d === ",") { this.i++; index++; continue; }
        this.record([...path, index], this.line());
        this.value([...path, index]);
      }
    }
    if (this.text.startsWith('"""', this.i)) return this.skipString('"""', true);
    if (this.text.startsWith("'''", this.i)) return this.skipString("'''", false);
    if (c === '"') return this.skipString('"', true);
    if (c === "'") return this.skipString("'", false);
    // Numbers, booleans, dates (which may hold one space): up to a delimiter.
    while (this.i < this.text.length && !/[,\]}#\r\n]/.test(this.text[this.i]!)) this.i++;
  }

  private skipString(quote: string, escapes: boolean): void {
    this.i += quote.length;
    for (;;) {
      if (this.i >= this.text.length) throw new Error("unterminated string");
      if (escapes && this.text[this.i] === "\\") { this.i += 2; continue; }
      if (this.text.startsWith(quote, this.i)) {
        this.i += quote.length;
        // A multi-line string may end with up to two extra quotes ("""a"""").
        if (quote.length === 3) for (let k = 0; k < 2 && this.text[this.i] === quote[0]; k++) this.i++;
        return;
      }
      this.i++;
    }
  }

  /** A dotted key: bare, "basic" or 'literal' parts. */
  private key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipBlank(false);
      const c = this.text[this.i];
      if (c === '"') {
        const start = this.i;
        this.skipString('"', true);
        parts.push(JSON.parse(this.text.slice(start, this.i)) as string);
      } else if (c === "'") {
        const start = this.i;
        this.skipString("'", false);
        parts.push(this.text.slice(start + 1, this.i - 1));
      } else {
        const m = /^[A-Za-z0-9_-]+/.exec(this.text.slice(this.i, this.i + 256));
        if (!m) throw new Error("expected a key");
        parts.push(m[0]);
        this.i += m[0].length;
      }
      this.skipBlank(false);
      if (this.text[this.i] !== ".") return parts;
      this.i++;
    }
  }

  /** Skips spaces and tabs; with newlines, also line breaks and comments. */
  private skipBlank(newlines: boolean): void {
    while (this.i < this.text.length) {
      const c = this.text[this.i]!;
      if (c === " " || c === "\t") this.i++;
      else if (newlines && (c === "\n" || c === "\r")) this.i++;
      else if (newlines && c === "#") while (this.i < this.text.length && this.text[this.i] !== "\n") this.i++;
      else return;
    }
  }

  private expect(s: string): void {
    this.skipBlank(false);
    if (!this.text.startsWith(s, this.i)) throw new Error(`expected ${s}`);
    this.i += s.length;
    // A comment may follow a header or a value on its line.
  }

  private record(path: KeyPath, line: number): void {
    for (let n = 1; n <= path.length; n++) {
      const id = formatPath(path.slice(0, n));
      if (!this.lines.has(id)) this.lines.set(id, line);
    }
  }

  private line(): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= this.i) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}
