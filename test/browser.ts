/**
 * A real browser for the tests: Debian's chromium (test/tools.ts lists it, so `npm test`
 * installs it) driven by playwright-core, headless, with a fresh profile that close removes.
 * A missing chromium is a failure naming its package, never a skip.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { requireTool } from "./tools.ts";

/** Where screenshots go (git ignores it): the repo's test-artifacts/. */
export const ARTIFACTS = resolve(import.meta.dir, "../test-artifacts");

// No sandbox: the tests run as root, where chromium refuses its own. The rest keeps a test
// run from talking to Google (sync, component updates, background fetches) or using a GPU.
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** What launchBrowser returns: one browser with one profile. */
export interface TestBrowser {
  /** A new tab. */
  newPage(): Promise<Page>;
  /** Stops the browser and all its processes and removes the profile; again is harmless. */
  close(): Promise<void>;
  /** The profile directory (every chromium process of this browser has it in its argv). */
  readonly userDataDir: string;
  /** The playwright context, for what newPage does not cover (cookies, routes, viewport of new pages). */
  readonly context: BrowserContext;
}

export interface LaunchOptions {
  /** Accept any certificate: the sandbox's Caddy signs with its own `tls internal` CA. */
  ignoreHTTPSErrors?: boolean;
  /** Page size; playwright's default is 1280x720. A phone is about 390x844. */
  viewport?: { width: number; height: number };
}

/**
 * Starts headless chromium with a profile of its own under the temp dir. A persistent
 * context because playwright's launch() refuses a --user-data-dir and makes its own.
 */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  const executablePath = requireTool("chromium");
  const userDataDir = mkdtempSync(join(tmpdir(), "qdeploy-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: ARGS,
      ignoreHTTPSErrors: opts.ignoreHTTPSErrors ?? false,
      ...(opts.viewport ? { viewport: opts.viewport } : {}),
    });
  } catch (err) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    userDataDir,
    context,
    newPage: () => context.newPage(),
    close: () =>
      (closing ??= context.close().finally(() => rmSync(userDataDir, { recursive: true, force: true }))),
  };
}

/** Saves a full-page PNG as test-artifacts/NAME.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  if (!/^[\w.-]+$/.test(name)) throw new Error(`screenshot name must be letters, digits, . _ - (got ${JSON.stringify(name)})`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
