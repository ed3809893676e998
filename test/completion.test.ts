/**
 * `qdeploy completion bash|zsh|fish` as each shell runs it: the script is sourced into the
 * real shell, which calls the real bin/qdeploy for candidates (in the repository, whose
 * deploy.toml has the environments sandbox and sandbox-fleet).
 */
import { expect, test } from "bun:test";
import path from "node:path";
import { requireTool } from "./tools.ts";

const REPO = path.resolve(import.meta.dir, "..");
const ENV = { ...process.env, PATH: `${path.join(REPO, "bin")}:${process.env.PATH}` };

function shell(program: string, script: string): string[] {
  const p = Bun.spawnSync([requireTool(program), "-c", script], { cwd: REPO, env: ENV });
  if (p.exitCode !== 0) throw new Error(`${program} exited ${p.exitCode}: ${p.stderr}`);
  return p.stdout.toString().split("\n").filter(Boolean);
}

test("bash: commands, subcommands, environments, flags; files when nothing fits", () => {
  const complete = (words: string[]) =>
    shell("bash", `source <(qdeploy completion bash); COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _qdeploy; printf '%s\\n' "\${COMPREPLY[@]}"`);
  expect(complete(["qdeploy", "pu"])).toEqual(["push"]);
  expect(complete(["qdeploy", "secrets", ""])).toEqual(["edit", "import", "list", "recipients", "set", "unset"]);
  expect(complete(["qdeploy", "push", ""])).toEqual(["sandbox", "sandbox-fleet"]);
  expect(complete(["qdeploy", "push", "sandbox", "--lo"])).toEqual(["--lock-wait"]);
  expect(complete(["qdeploy", "push", "--config", "deploy.t"])).toEqual(["deploy.toml"]);
});

test("zsh: the script parses, and its function offers what __complete says (or files)", () => {
  const script = (words: string[]) =>
    `compdef() { :; }; compadd() { print -l -- \${(P)2}; }; _files() { print FILES; }; source <(qdeploy completion zsh); words=(${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length}; _qdeploy`;
  expect(shell("zsh", "qdeploy completion zsh | zsh -n && print ok")).toEqual(["ok"]);
  expect(shell("zsh", script(["qdeploy", "rollb"]))).toEqual(["rollback"]);
  expect(shell("zsh", script(["qdeploy", "lock", "status", ""]))).toEqual(["sandbox", "sandbox-fleet"]);
  expect(shell("zsh", script(["qdeploy", "push", "sandbox", "--config", ""]))).toEqual(["FILES"]);
});

test("fish: complete -C gives the candidates", () => {
  const complete = (line: string) => shell("fish", `qdeploy completion fish | source; complete -C '${line}'`);
  expect(complete("qdeploy secrets re")).toEqual(["recipients"]);
  expect(complete("qdeploy serve token add ci --role ")).toEqual(["deploy", "read"]);
  expect(complete("qdeploy completion ")).toEqual(["bash", "fish", "zsh"]);
});
