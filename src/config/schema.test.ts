import { expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import path from "node:path";
import Ajv from "ajv";
import { renderValidator, VALIDATOR_FILE } from "../../scripts/write-schema.ts";
import { deploySchema, renderSchemaJson } from "./schema.ts";

const committed = path.join(import.meta.dir, "..", "..", "schema", "deploy.schema.json");

test("schema/deploy.schema.json is what scripts/write-schema.ts writes (run it after changing schema.ts)", async () => {
  expect(await readFile(committed, "utf8")).toBe(renderSchemaJson());
});

test("src/config/validate-deploy.generated.js is the schema compiled as scripts/write-schema.ts writes it (run it after changing schema.ts)", async () => {
  expect(await readFile(VALIDATOR_FILE, "utf8")).toBe(renderValidator());
});

test("ajv compiles the schema in strict mode", () => {
  expect(() => new Ajv({ strict: true, allErrors: true }).compile(deploySchema)).not.toThrow();
});

/** Every object schema closes its keys, and every property says what it is (editors show it). */
test("every property has a description; every object has additionalProperties", () => {
  const missing: string[] = [];
  const walk = (s: Record<string, unknown>, where: string) => {
    if (s.type === "object" && s.additionalProperties === undefined) missing.push(`${where}: additionalProperties`);
    for (const [key, sub] of Object.entries((s.properties as Record<string, Record<string, unknown>>) ?? {})) {
      if (typeof sub.description !== "string" || sub.description === "") missing.push(`${where}.${key}: description`);
      walk(sub, `${where}.${key}`);
    }
    if (typeof s.additionalProperties === "object") walk(s.additionalProperties as Record<string, unknown>, `${where}.*`);
    if (typeof s.items === "object") walk(s.items as Record<string, unknown>, `${where}[]`);
  };
  walk(deploySchema as unknown as Record<string, unknown>, "deploy");
  expect(missing).toEqual([]);
});
