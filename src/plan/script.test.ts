import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { renderBatchScript } from "./script.ts";

// bash -s reads the script from its stdin as it goes: a step that reads stdin (cat, ssh,
// a `read`) would otherwise take the rest of the script as its input and end the batch early.
test("a run step that reads stdin does not eat the steps after it", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-script-stdin-"));
  const script = renderBatchScript([
    { kind: "run", argv: ["sh", "-c", `cat > ${dir}/swallowed`], why: "reads stdin" },
    { kind: "write", path: `${dir}/after`, content: "still here", mode: 0o644, why: "a later write" },
    { kind: "run", argv: ["touch", `${dir}/last`], why: "a later run" },
  ]);
  const r = Bun.spawnSync(["bash", "-s"], { stdin: new Blob([script]) });
  expect(r.exitCode).toBe(0);
  expect(readFileSync(`${dir}/swallowed`, "utf8")).toBe("");
  expect(readFileSync(`${dir}/after`, "utf8")).toBe("still here");
  expect(readFileSync(`${dir}/last`, "utf8")).toBe("");
  rmSync(dir, { recursive: true });
});

test("a run step's argv is quoted once and reads /dev/null", () => {
  expect(renderBatchScript([{ kind: "run", argv: ["echo", "a b", "$x"], why: "w" }]).split("\n").slice(-2)).toEqual([
    "echo 'a b' '$x' </dev/null",
    "",
  ]);
});
