/**
 * `exec -it ENV -- CMD...` without the CLI's argument parser: runs execInteractive in the
 * current directory's project and exits with the command's status (test/e2e/exec-tty.test.ts
 * runs it under script(1), so its stdin is a terminal).
 */
import { execInteractive } from "../../src/commands/exec-tty.ts";
import { createOutput } from "../../src/output.ts";

const [env, ...rest] = process.argv.slice(2);
const argv = rest[0] === "--" ? rest.slice(1) : rest;
const out = createOutput();
try {
  process.exit(await execInteractive({ out, configFile: "deploy.toml", lockWaitSec: 60 }, env!, argv, {}));
} catch (e) {
  out.error((e as Error).message);
  process.exit(1);
}
