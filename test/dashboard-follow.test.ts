/**
 * The logs page's Follow in a real browser (chromium, test/browser.ts) over model hosts
 * (test/fixtures/serve-deps.ts): one token following in more tabs than it may is told why
 * in the page, and a tab that stops gives its stream back.
 */
import { afterAll, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { TOKEN_COOKIE } from "../src/serve/auth.ts";
import { FOLLOWS_PER_TOKEN } from "../src/serve/log-streams.ts";
import { startServer } from "../src/serve/serve.ts";
import { launchBrowser, screenshot, type TestBrowser } from "./browser.ts";
import { fakeServe } from "./fixtures/serve-deps.ts";

const f = fakeServe({ environments: { prod: [{ label: "root@h1:22", live: null, releases: [], journal: ["first line"] }] } });
const server = startServer(f.deps, { host: "127.0.0.1", port: 0 });
let browser: TestBrowser | undefined;
afterAll(async () => {
  await browser?.close();
  await server.stop();
});

/** Clicks Follow and waits until the page says something other than "following" with no line yet. */
async function clickFollow(page: Page): Promise<string> {
  await page.click("#follow");
  // The page's first lines are the one-shot journal; a follow's is the same line once more.
  await page.waitForFunction('document.getElementById("follow-state").textContent !== "following" || document.getElementById("log").textContent.split("first line").length > 2');
  return (await page.locator("#follow-state").textContent())!;
}

test("a tab over the token's cap says why it is not following; a tab that stops makes room", async () => {
  browser = await launchBrowser();
  await browser.context.addCookies([{ name: TOKEN_COOKIE, value: await f.token("read", { name: "phone" }), url: server.url }]);
  const tabs: Page[] = [];
  const notes: string[] = [];
  for (let i = 0; i <= FOLLOWS_PER_TOKEN; i++) {
    const page = await browser.newPage();
    await page.goto(`${server.url}/env/prod/logs`);
    tabs.push(page);
    notes.push(await clickFollow(page));
  }
  const last = tabs.at(-1)!;
  await screenshot(last, "dashboard-follow-refused");
  expect(notes).toEqual([
    ...Array(FOLLOWS_PER_TOKEN).fill("following"),
    `not following: token "phone" already follows ${FOLLOWS_PER_TOKEN} log streams, the most one token may; close one (a tab following logs) first`,
  ]);
  expect(await last.locator("#follow").textContent()).toBe("Follow");

  // Stop in the first tab: its journalctl stops on the host and the last tab may follow.
  await tabs[0]!.click("#follow");
  await tabs[0]!.waitForFunction('document.getElementById("follow-state").textContent === ""');
  for (let i = 0; i < 50 && !f.log.includes("root@h1:22 journalctl stopped"); i++) await Bun.sleep(20);
  expect(f.log.filter((l) => l === "root@h1:22 journalctl stopped")).toHaveLength(1);
  expect(await clickFollow(last)).toBe("following");
  expect((await last.locator("#log").textContent())!.split("root@h1:22 | first line")).toHaveLength(3);
}, 60_000);
