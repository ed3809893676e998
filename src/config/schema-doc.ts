/**
 * deploy.toml's keys as a markdown table, read off the JSON Schema (the one source of truth),
 * for docs/deploy-toml.md (written by scripts/docs.ts). The schema has no `default` keyword:
 * each default is in its key's description, so the table has no column of its own for it.
 */
import { deploySchema } from "./schema.ts";

/** The part of a JSON Schema node the table reads. */
interface Node {
  type?: string;
  description?: string;
  enum?: readonly unknown[];
  anyOf?: readonly Node[];
  items?: Node;
  properties?: Record<string, Node>;
  additionalProperties?: Node | boolean;
  required?: readonly string[];
  minimum?: number;
  maximum?: number;
}

/** What stands for a free-form name under a table ("processes.PROC", "env.NAME"). */
const PLACEHOLDER: Record<string, string> = { environments: "ENV", processes: "PROC", scale: "PROC", roles: "PROC", branches: "BRANCH" };

/** A node's type in TOML's words: a table, an array of ..., the values an enum allows. */
function typeOf(n: Node): string {
  if (n.anyOf) return n.anyOf.map(typeOf).join(" or ");
  if (n.enum) return n.enum.map((v) => JSON.stringify(v)).join(", ");
  if (n.type === "object") return "table";
  if (n.type === "array") return n.items?.type === "object" ? "array of tables" : `array of ${n.items ? typeOf(n.items) : "values"}`;
  if (n.type === "integer" && n.minimum !== undefined && n.maximum !== undefined) return `integer ${n.minimum}..${n.maximum}`;
  return n.type ?? "any";
}

/** One row per key, depth first; a top-level key repeated deeper (an environment's copy of `[build]`) is not. */
function rows(root: Node, n: Node, prefix: string): string[][] {
  const out: string[][] = [];
  for (const [key, sub] of Object.entries(n.properties ?? {})) {
    if (prefix && root.properties?.[key] === sub) continue;
    const at = `${prefix}${key}`;
    const required = n.required?.includes(key) ? ", required" : "";
    out.push([at, typeOf(sub) + required, sub.description ?? ""]);
    const inner = sub.type === "array" && sub.items?.type === "object" ? sub.items : sub;
    out.push(...rows(root, inner, `${at}.`));
    if (typeof inner.additionalProperties === "object") {
      const name = `${at}.${PLACEHOLDER[key] ?? "NAME"}`;
      const free = inner.additionalProperties;
      if (!free.properties) out.push([name, typeOf(free), free.description ?? ""]);
      else out.push(...rows(root, free, `${name}.`));
    }
  }
  return out;
}

/** The keys table of docs/deploy-toml.md: key, type, description, for every key of the schema. */
export function renderKeysTable(schema: Node = deploySchema as unknown as Node): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  // Descriptions are plain text but for `code`: a * outside code would start emphasis ("*-*-*").
  const text = (s: string) => s.split("`").map((part, i) => (i % 2 ? part : part.replace(/\*/g, "\\*"))).join("`");
  const body = rows(schema, schema, "").map(([key, type, description]) => `| \`${cell(key!)}\` | ${cell(type!)} | ${cell(text(description!))} |`);
  return ["| key | type | description |", "| --- | --- | --- |", ...body].join("\n");
}
