import { expect, test } from "bun:test";
import path from "node:path";
import { completeWords } from "./completion.ts";

// The repository's deploy.toml: environments sandbox and sandbox-fleet; processes web, worker.
const CONFIG = path.resolve(import.meta.dir, "../../deploy.toml");
const complete = (...words: string[]) => completeWords(words, CONFIG);

test.each([
  [[""], ["addons", "audit", "check", "completion", "exec", "help", "init", "lock", "logs", "maintenance", "plan", "previews", "promote", "push", "releases", "restart", "rollback", "sandbox", "secrets", "serve", "setup", "status", "version"]],
  [["pu"], ["push"]],
  [["addons", ""], ["backup", "backups", "destroy", "psql", "pull", "redis-cli", "restore", "setup", "status"]],
  [["secrets", ""], ["edit", "import", "list", "recipients", "set", "unset"]],
  [["secrets", "recipients", "r"], ["remove"]],
  [["serve", ""], ["token"]],
  [["push", ""], ["sandbox", "sandbox-fleet"]],
  [["push", "sandbox", ""], []],
  [["promote", "sandbox", ""], ["sandbox", "sandbox-fleet"]],
  [["push", "sandbox", "--h"], ["--help", "--hosts"]],
  [["--config", CONFIG, "lock", "status", "s"], ["sandbox", "sandbox-fleet"]],
  [["logs", "sandbox", ""], ["web", "worker"]],
  [["logs", "sandbox", "-n", ""], []],
  [["push", "sandbox", "--role", "w"], ["web", "worker"]],
  [["serve", "token", "add", "ci", "--role", ""], ["deploy", "read"]],
  [["serve", "--install", ""], ["sandbox", "sandbox-fleet"]],
  [["completion", ""], ["bash", "fish", "zsh"]],
  [["help", "se"], ["secrets", "serve", "setup"]],
  [["help", "secrets", "recipients", ""], ["add", "list", "remove"]],
  [["exec", "sandbox", "--", "l"], []],
])("%j", async (words, expected) => {
  expect(await complete(...words)).toEqual(expected);
});

test("a broken or missing deploy.toml offers no environments, and no error", async () => {
  expect(await completeWords(["push", ""], "/nonexistent/deploy.toml")).toEqual([]);
});
