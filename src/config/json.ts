/**
 * Strict JSON (RFC 8259) with positions: Bun's JSON.parse says what is wrong but not where
 * ("JSON Parse error: Expected '}'"), so app.json is read by this small parser, which gives
 * the line and column of the first error and the line of every key, for messages.
 */
import { formatPath, type KeyLines, type KeyPath } from "./locate.ts";

/** The value and the 1-based line of every object key and array item (key paths as formatPath writes them). */
export type JsonResult = { value: unknown; lines: KeyLines } | { error: { line: number; column: number; message: string } };

/** Parses JSON text; never throws. A leading byte order mark is skipped. */
export function parseJsonWithLines(text: string): JsonResult {
  const parser = new Parser(text.startsWith("\uFEFF") ? text.slice(1) : text);
  try {
    parser.space();
    const value = parser.value([]);
    parser.space();
    if (parser.pos < parser.text.length) parser.fail("text after the end of the JSON value");
    return { value, lines: parser.lines };
  } catch (e) {
    if (!(e instanceof SyntaxFailure)) throw e;
    const before = parser.text.slice(0, e.pos);
    const line = before.split("\n").length;
    const column = e.pos - (before.lastIndexOf("\n") + 1) + 1;
    return { error: { line, column, message: e.message } };
  }
}

class SyntaxFailure extends Error {
  constructor(message: string, readonly pos: number) {
    super(message);
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Parser {
  pos = 0;
  readonly lines: KeyLines = new Map();
  constructor(readonly text: string) {}

  fail(message: string, pos = this.pos): never {
    throw new SyntaxFailure(message, pos);
  }

  space(): void {
    while (this.pos < this.text.length && " \t\n\r".includes(this.text[this.pos]!)) this.pos++;
  }

  /** What is at pos, for messages: `'x'` or "the end of the file". */
  here(): string {
    const c = this.text[this.pos];
    if (c === undefined) return "the end of the file";
    return c < " " ? `'${JSON.stringify(c).slice(1, -1)}'` : `'${c}'`;
  }

  mark(path: KeyPath): void {
    const key = formatPath(path);
    if (!this.lines.has(key)) this.lines.set(key, this.text.slice(0, this.pos).split("\n").length);
  }

  value(path: KeyPath): unknown {
    const c = this.text[this.pos];
    if (c === "{") return this.object(path);
    if (c === "[") return this.array(path);
    if (c === '"') return this.string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    if (c === undefined) this.fail("unexpected end of the file: a value is missing");
    if (c === "'") this.fail("strings must be in double quotes");
    if (c === "}" || c === "]") this.fail(`expected a value, found ${this.here()} (a comma before it?)`);
    this.fail(`expected a value, found ${this.here()}`);
  }

  object(path: KeyPath): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.pos++; // {
    this.space();
    if (this.text[this.pos] === "}") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.pos] !== '"') {
        if (this.text[this.pos] === "}") this.fail("a comma before '}' (JSON allows none)");
        this.fail(`expected a property name in double quotes, found ${this.here()}`);
      }
      const key = this.string();
      this.mark([...path, key]);
      this.space();
      if (this.text[this.pos] !== ":") this.fail(`expected ':' after the property name ${JSON.stringify(key)}, found ${this.here()}`);
      this.pos++;
      this.space();
      out[key] = this.value([...path, key]);
      this.space();
      const c = this.text[this.pos];
      if (c === ",") {
        this.pos++;
        continue;
      }
      if (c === "}") {
        this.pos++;
        return out;
      }
      this.fail(`expected ',' or '}' after the value of ${JSON.stringify(key)}, found ${this.here()}`);
    }
  }

  array(path: KeyPath): unknown[] {
    const out: unknown[] = [];
    this.pos++; // [
    this.space();
    if (this.text[this.pos] === "]") {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.pos] === "]") this.fail("a comma before ']' (JSON allows none)");
      this.mark([...path, out.length]);
      out.push(this.value([...path, out.length]));
      this.space();
      const c = this.text[this.pos];
      if (c === ",") {
        this.pos++;
        continue;
      }
      if (c === "]") {
        this.pos++;
        return out;
      }
      this.fail(`expected ',' or ']' in the list, found ${this.here()}`);
    }
  }

  string(): string {
    const start = this.pos;
    this.pos++; // "
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === "\n") this.fail("a string is not closed (a missing '\"'?)", start);
      if (c === '"') break;
      if (c < " ") this.fail("a control character in a string (write it as an escape, e.g. \\n or \\t)");
      if (c === "\\") {
        const e = this.text[this.pos + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.fail("\\u must be followed by four hex digits");
          this.pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.fail(`not a JSON escape: \\${e ?? ""}`);
        this.pos += 2;
        continue;
      }
      this.pos++;
    }
    this.pos++;
    return JSON.parse(this.text.slice(start, this.pos)) as string;
  }

  number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail(`not a JSON number`);
    this.pos += m[0].length;
    return Number(m[0]);
  }
}
