/**
 * Writes schema/deploy.schema.json from src/config/schema.ts, the one source of truth.
 * Run after changing the schema: node_modules/.bin/bun scripts/write-schema.ts
 * (src/config/schema.test.ts fails while the committed file is out of date).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { renderSchemaJson } from "../src/config/schema.ts";

/** Where the committed schema lives, from the repository root. */
export const SCHEMA_FILE = path.join(import.meta.dir, "..", "schema", "deploy.schema.json");

if (import.meta.main) {
  await writeFile(SCHEMA_FILE, renderSchemaJson());
  console.log(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
}
