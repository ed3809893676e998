/**
 * Preloaded into every `bun test` run (bunfig.toml). Hooks here wrap the whole run, not one
 * file: the e2e suites share one sandbox VM (test/e2e/harness.ts), stopped here after the
 * last file, so one boot serves them all; sandboxDown stops a fleet suite's extra VMs
 * (harness fleet()) with it. A run that never touched the VM does nothing.
 */
import { afterAll } from "bun:test";
import { sandboxDown, sandboxStatus } from "../src/sandbox/index.ts";
import { cleanAllApps, SANDBOX_PROJECT, SANDBOX_USED } from "./e2e/harness.ts";

/** Set when this preload ran (test/e2e-shared-vm.test.ts checks bunfig.toml loads it). */
export const PRELOADED = Symbol.for("qdeploy.test.preloaded");
(globalThis as Record<symbol, unknown>)[PRELOADED] = true;

afterAll(async () => {
  if (!(globalThis as Record<symbol, unknown>)[SANDBOX_USED]) return;
  // `npm test` (test/run.ts) runs each e2e file as its own bun test and stops the VMs itself;
  // the next file on this VM finds it with no app running.
  if (process.env.QDEPLOY_E2E_KEEP_VM) {
    const vm = await sandboxStatus({ projectDir: SANDBOX_PROJECT });
    if (vm.running) await cleanAllApps(vm);
    return;
  }
  await sandboxDown({ projectDir: SANDBOX_PROJECT, log: (l) => console.log(`[sandbox] ${l}`) });
}, 120_000);
