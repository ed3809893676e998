/**
 * Issue 22's measure: follows `push` (src/ops/deploy.ts) through its calls, statically, with
 * the TypeScript compiler's type checker, and says how often the calls go back up the layers
 * config → facts → plan → execute (LAYERS). `bun scripts/trace-push.ts [--json]`;
 * test/trace-push.test.ts keeps the count from growing.
 *
 * How it walks: depth-first from push, each function once, its calls in the order they run
 * (a call's arguments first, then the call, then the callbacks written inline in it). A call
 * is followed when the checker resolves its callee to a body in src/ (not tests): a function,
 * a method, a constructor, an arrow or function assigned to a const or a property, or a
 * const that names such functions (`const build = op.build ?? buildForArchs`). A function
 * named as an argument (`.map(blobName)`) counts as called there. A call through an
 * interface (Remote.exec, OpContext.connect) has no body to follow: it is counted as
 * unresolved, not guessed.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const ROOT = path.resolve(import.meta.dir, "..");

/** The entry: this function of this file. */
export const ENTRY = { file: "src/ops/deploy.ts", name: "push" };

/**
 * A src file's layer, by its path (the first match wins); a call into a lower number than its
 * caller's is a step back up. null: a leaf every layer may use, not counted.
 */
export const LAYERS: { match: RegExp; layer: number | null; name: string; why: string }[] = [
  { match: /^src\/(util\/|errors\.ts|events\.ts|output\.ts|server-scripts\.ts|server-layout\.ts|server-commands\.ts)/, layer: null, name: "leaf", why: "helpers, error and event types, the server's scripts, paths and command lines: every layer names them, they call nothing of qdeploy's" },
  { match: /^src\/ops\/execute\.ts$/, layer: 4, name: "execute", why: "carries out a finished plan across the hosts" },
  { match: /^src\/ops\//, layer: 0, name: "ops", why: "the orchestrator: sequences config, facts, plan and execute for one command" },
  { match: /^src\/(config|secrets)\//, layer: 1, name: "config", why: "what the user declared: deploy.toml and the secret values it names, read before any host" },
  { match: /^src\/(build|sandbox)\//, layer: 2, name: "facts", why: "facts about the local machine: the built app, the sandbox VMs' ports" },
  { match: /^src\/(plan\/facts\.ts|remote\/host-ops\.ts)$/, layer: 2, name: "facts", why: "facts about the hosts: gathered under the deploy lock and parsed" },
  { match: /^src\/(plan|render)\//, layer: 3, name: "plan", why: "pure: config + facts -> steps, and the renderers of the files the steps write" },
  { match: /^src\/remote\/run-plan\.ts$/, layer: 4, name: "execute", why: "runs one host's share of a plan through its Remote" },
  { match: /^src\/remote\//, layer: 5, name: "remote", why: "the transport: SSH, uploads, host keys" },
  { match: /^src\/(cli|commands|serve)\/|^src\/cli\.ts$/, layer: -1, name: "edge", why: "the edges that make an operation's context: nothing below calls them" },
];

export function layerOf(file: string): { layer: number | null; name: string } {
  const l = LAYERS.find((x) => x.match.test(file));
  if (!l) throw new Error(`trace-push: no layer for ${file} (add it to LAYERS)`);
  return l;
}

/** A call that goes back up: from a file of a deeper layer into a shallower one. */
export interface BackUpEdge {
  caller: string;
  callee: string;
  from: number;
  to: number;
}

export interface Trace {
  entry: string;
  /** Files in the order first entered (leaves included). */
  files: { file: string; layer: number | null; name: string }[];
  /** The non-leaf files entered, in call order (a return to the caller's file is an entry too). */
  sequence: string[];
  /** Distinct functions reached. */
  functions: number;
  backUps: BackUpEdge[];
  /** Entries in `sequence` into a file entered before (a return, or a later call into it). */
  returns: number;
  /** Calls whose callee is declared in src/ without a body (interface members, function-typed parameters): caller and callee as written. */
  unresolved: string[];
}

type Fn = ts.FunctionLikeDeclaration & { body: ts.Node };

function isFn(n: ts.Node): n is Fn {
  return (
    (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isConstructorDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isGetAccessorDeclaration(n)) &&
    n.body !== undefined
  );
}

function unwrap(e: ts.Expression): ts.Expression {
  while (ts.isParenthesizedExpression(e) || ts.isNonNullExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

/** Builds the program from tsconfig.json's options with the entry file as its root. */
function program(): ts.Program {
  const configPath = path.join(ROOT, "tsconfig.json");
  const read = ts.readConfigFile(configPath, (f) => readFileSync(f, "utf8"));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
  return ts.createProgram({ rootNames: [path.join(ROOT, ENTRY.file)], options: parsed.options });
}

export function tracePush(): Trace {
  const prog = program();
  const checker = prog.getTypeChecker();
  const rel = (sf: ts.SourceFile) => path.relative(ROOT, sf.fileName).split(path.sep).join("/");
  const inSrc = (n: ts.Node) => {
    const f = rel(n.getSourceFile());
    return f.startsWith("src/") && !f.endsWith(".d.ts") && !f.endsWith(".test.ts");
  };

  /** `file:name` of a function: its own name, Class.method, the const or property it is assigned to. */
  function nameOf(fn: ts.Node): string {
    const file = rel(fn.getSourceFile());
    let n: ts.Node | undefined = fn;
    const parts: string[] = [];
    while (n && !ts.isSourceFile(n)) {
      if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isClassDeclaration(n) || ts.isGetAccessorDeclaration(n)) && n.name) parts.unshift(n.name.getText());
      else if (ts.isConstructorDeclaration(n)) parts.unshift("constructor");
      else if ((ts.isVariableDeclaration(n) || ts.isPropertyAssignment(n)) && ts.isIdentifier(n.name) && n.initializer && isFn(unwrap(n.initializer))) parts.unshift(n.name.text);
      n = n.parent;
    }
    return `${file}:${parts.join(".") || `<fn@${fn.getSourceFile().getLineAndCharacterOfPosition(fn.getStart()).line + 1}>`}`;
  }

  /** The functions an expression names: a function itself, or a const/property that holds one or several. */
  function functionsOf(expr: ts.Expression, depth = 0): { fns: Fn[]; bodiless: boolean } {
    const e = unwrap(expr);
    if (isFn(e)) return { fns: [e], bodiless: false };
    if (depth > 4) return { fns: [], bodiless: false };
    if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken || e.operatorToken.kind === ts.SyntaxKind.BarBarToken)) {
      const a = functionsOf(e.left, depth + 1);
      const b = functionsOf(e.right, depth + 1);
      return { fns: [...a.fns, ...b.fns], bodiless: a.bodiless || b.bodiless };
    }
    if (ts.isConditionalExpression(e)) {
      const a = functionsOf(e.whenTrue, depth + 1);
      const b = functionsOf(e.whenFalse, depth + 1);
      return { fns: [...a.fns, ...b.fns], bodiless: a.bodiless || b.bodiless };
    }
    const at = ts.isPropertyAccessExpression(e) ? e.name : ts.isIdentifier(e) || ts.isElementAccessExpression(e) ? e : null;
    if (!at) return { fns: [], bodiless: false };
    let sym = checker.getSymbolAtLocation(at);
    if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
    const fns: Fn[] = [];
    let bodiless = false;
    for (const d of sym?.declarations ?? []) {
      if (!inSrc(d)) continue;
      if (isFn(d)) fns.push(d);
      else if ((ts.isVariableDeclaration(d) || ts.isPropertyAssignment(d)) && d.initializer) fns.push(...functionsOf(d.initializer, depth + 1).fns);
      else if (ts.isShorthandPropertyAssignment(d)) {
        const v = checker.getShorthandAssignmentValueSymbol(d);
        for (const vd of v?.declarations ?? []) if (isFn(vd)) fns.push(vd);
      } else if (ts.isClassDeclaration(d)) {
        const ctor = d.members.find((m) => ts.isConstructorDeclaration(m) && m.body);
        if (ctor) fns.push(ctor as Fn);
      } else bodiless = bodiless || ts.isMethodSignature(d) || ts.isPropertySignature(d) || ts.isParameter(d) || ts.isFunctionDeclaration(d);
    }
    return { fns, bodiless: bodiless && fns.length === 0 };
  }

  const visited = new Set<ts.Node>();
  const firstSeen = new Map<string, { layer: number | null; name: string }>();
  const sequence: string[] = [];
  const backUps = new Map<string, BackUpEdge>();
  const unresolved: string[] = [];

  /** The enclosing declared function of a node (inline arrows belong to the function they are written in). */
  function owner(n: ts.Node): ts.Node {
    for (let p: ts.Node | undefined = n; p; p = p.parent) {
      if (ts.isFunctionDeclaration(p) || ts.isMethodDeclaration(p) || ts.isConstructorDeclaration(p) || ts.isGetAccessorDeclaration(p)) return p;
      if ((ts.isArrowFunction(p) || ts.isFunctionExpression(p)) && p.parent && (ts.isVariableDeclaration(p.parent) || ts.isPropertyAssignment(p.parent))) return p;
    }
    return n.getSourceFile();
  }

  function enterFile(file: string) {
    const l = layerOf(file);
    if (!firstSeen.has(file)) firstSeen.set(file, l);
    if (l.layer !== null && sequence.at(-1) !== file) sequence.push(file);
  }

  function call(from: ts.Node, fn: Fn) {
    const callerFile = rel(from.getSourceFile());
    const calleeFile = rel(fn.getSourceFile());
    const a = layerOf(callerFile).layer;
    const b = layerOf(calleeFile).layer;
    if (a !== null && b !== null && b < a) {
      const caller = nameOf(owner(from));
      const callee = nameOf(fn);
      backUps.set(`${caller} ${callee}`, { caller, callee, from: a, to: b });
    }
    if (visited.has(fn)) return;
    walk(fn);
    enterFile(callerFile);
  }

  function walk(fn: Fn) {
    visited.add(fn);
    enterFile(rel(fn.getSourceFile()));
    const deferred: Fn[] = [];
    visit(fn.body, deferred);
    // Functions assigned to locals and never called here are still code of this function.
    for (const d of deferred) if (!visited.has(d)) walk(d);
  }

  /** Walks a body in the order it runs; nested declared functions wait until they are called. */
  function visit(node: ts.Node, deferred: Fn[]) {
    if (ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) return;
    if ((ts.isVariableDeclaration(node) || ts.isPropertyAssignment(node)) && node.initializer && isFn(unwrap(node.initializer))) {
      deferred.push(unwrap(node.initializer) as Fn);
      return;
    }
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const args = node.arguments ?? ts.factory.createNodeArray<ts.Expression>();
      const inline = args.filter((a) => isFn(unwrap(a)));
      visit(node.expression, deferred);
      for (const a of args) if (!inline.includes(a)) visit(a, deferred);
      const callee = functionsOf(node.expression);
      if (callee.bodiless) unresolved.push(`${nameOf(owner(node))}: ${node.expression.getText().replace(/\s+/g, " ")}`);
      for (const fn of callee.fns) call(node, fn);
      // Functions handed over by name are called by the callee (or the library) from here.
      for (const a of args) {
        const e = unwrap(a);
        if (inline.includes(a) || !(ts.isIdentifier(e) || ts.isPropertyAccessExpression(e))) continue;
        for (const fn of functionsOf(e).fns) call(node, fn);
      }
      for (const a of inline) visit((unwrap(a) as Fn).body, deferred);
      return;
    }
    ts.forEachChild(node, (c) => visit(c, deferred));
  }

  const entryFile = prog.getSourceFile(path.join(ROOT, ENTRY.file));
  const entry = entryFile?.statements.find((s): s is ts.FunctionDeclaration & Fn => ts.isFunctionDeclaration(s) && s.name?.text === ENTRY.name && s.body !== undefined);
  if (!entry) throw new Error(`trace-push: no function ${ENTRY.name} in ${ENTRY.file}`);
  walk(entry);

  const seen = new Set<string>();
  let returns = 0;
  for (const f of sequence) {
    if (seen.has(f)) returns++;
    seen.add(f);
  }
  return {
    entry: nameOf(entry),
    files: [...firstSeen].map(([file, l]) => ({ file, ...l })),
    sequence,
    functions: visited.size,
    backUps: [...backUps.values()],
    returns,
    unresolved,
  };
}

function report(t: Trace): string {
  const counted = t.files.filter((f) => f.layer !== null);
  const lines = [
    `trace of ${t.entry}`,
    "",
    `  files visited          ${t.files.length} (${counted.length} in layers, ${t.files.length - counted.length} leaves)`,
    `  functions reached      ${t.functions}`,
    `  steps back up          ${t.backUps.length}`,
    `  returns to a file left ${t.returns}`,
    `  unresolved calls       ${t.unresolved.length} (through interfaces or function-typed values)`,
    "",
    "layers:",
    ...LAYERS.map((l) => `  ${String(l.layer ?? "-").padStart(2)} ${l.name.padEnd(8)} ${l.match.source}  (${l.why})`),
    "",
    "files, in the order first entered:",
    ...t.files.map((f) => `  ${String(f.layer ?? "-").padStart(2)} ${f.file}`),
    "",
    "steps back up (caller -> callee, layer from -> to):",
    ...(t.backUps.length ? t.backUps.map((e) => `  ${e.from} -> ${e.to}  ${e.caller} -> ${e.callee}`) : ["  none"]),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const t = tracePush();
  console.log(process.argv.includes("--json") ? JSON.stringify(t, null, 2) : report(t));
}
