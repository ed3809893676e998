import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
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

test("the app's switch is sourced in a subshell (no second bash); any other program is run", () => {
  const last = (argv: string[]) => renderBatchScript([{ kind: "run", argv, why: "w" }]).split("\n").at(-2);
  expect(last(["/srv/qdeploy/hello/switch", "link", "20261206040831"])).toBe("( . /srv/qdeploy/hello/switch link 20261206040831 ) </dev/null");
  expect(last(["/srv/qdeploy/hello/addon", "status"])).toBe("/srv/qdeploy/hello/addon status </dev/null");
  expect(last(["/srv/qdeploy/a/b/switch", "x"])).toBe("/srv/qdeploy/a/b/switch x </dev/null");
  expect(last(["/tmp/switch", "x"])).toBe("/tmp/switch x </dev/null");
});

test("each write gets its own mode, and the steps after it the script's umask (077)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-script-mode-"));
  const script = renderBatchScript([
    { kind: "write", path: `${dir}/public`, content: "p", mode: 0o644, why: "w" },
    { kind: "write", path: `${dir}/tool`, content: "t", mode: 0o755, fresh: true, why: "w" },
    { kind: "write", path: `${dir}/secret`, content: "s", mode: 0o600, why: "w" },
    { kind: "run", argv: ["sh", "-c", `umask > ${dir}/umask`], why: "w" },
  ]);
  const r = Bun.spawnSync(["bash", "-s"], { stdin: new Blob([script]) });
  expect(r.exitCode).toBe(0);
  const mode = (f: string) => (statSync(`${dir}/${f}`).mode & 0o777).toString(8);
  expect([mode("public"), mode("tool"), mode("secret")]).toEqual(["644", "755", "600"]);
  expect(readFileSync(`${dir}/umask`, "utf8").trim()).toBe("0077");
  rmSync(dir, { recursive: true });
});

test("an async step runs beside the steps after it; the script waits for it at its end and fails as it", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-script-async-"));
  const script = (code: number) =>
    renderBatchScript([
      // It sees the later step's file only because both run at once.
      { kind: "run", argv: ["sh", "-c", `while [ ! -e ${dir}/later ]; do sleep 0.01; done; touch ${dir}/async; exit ${code}`], why: "beside", async: true },
      { kind: "run", argv: ["touch", `${dir}/later`], why: "later" },
    ]);
  const ok = Bun.spawnSync(["bash", "-s"], { stdin: new Blob([script(0)]), timeout: 10_000 });
  expect(ok.exitCode).toBe(0);
  expect(readFileSync(`${dir}/async`, "utf8")).toBe("");
  rmSync(`${dir}/later`);
  const failed = Bun.spawnSync(["bash", "-s"], { stdin: new Blob([script(3)]), timeout: 10_000 });
  expect(failed.exitCode).toBe(3);
  // The last step mark names the async step: the executor reports the failure as its.
  expect(failed.stderr.toString().trim().split("\n").at(-1)).toBe("::qdeploy-step 0");
  rmSync(dir, { recursive: true });
});

test("a run step with stdin reads exactly its text (a heredoc), and the steps after it still run", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-script-heredoc-"));
  const text = "line one\n$HOME `x` 'q'\nQDEPLOY_EOF\n";
  const script = renderBatchScript([
    { kind: "run", argv: ["sh", "-c", `cat > ${dir}/got`], stdin: text, why: "reads its stdin" },
    { kind: "run", argv: ["touch", `${dir}/last`], why: "a later run" },
  ]);
  const r = Bun.spawnSync(["bash", "-s"], { stdin: new Blob([script]) });
  expect(r.exitCode).toBe(0);
  expect(readFileSync(`${dir}/got`, "utf8")).toBe(`${text}\n`);
  expect(readFileSync(`${dir}/last`, "utf8")).toBe("");
  rmSync(dir, { recursive: true });
});
