import { expect, test } from "bun:test";
import { countsOf, failuresOf, jobsFor, laneEnv, planLanes, planRun } from "./lanes.ts";

const FILES = ["src/a.test.ts", "test/cli.test.ts", "test/sandbox.test.ts", "test/e2e/deploy.test.ts", "test/e2e/fleet.test.ts", "test/e2e/slug.test.ts"];

test("the unit files are one job; each file that needs a VM is its own; the fleet's boots VMs of its own", () => {
  expect(jobsFor(FILES)).toEqual([
    { name: "units", files: ["./src/a.test.ts", "./test/cli.test.ts"], vm: false, solo: false },
    { name: "test/e2e/deploy.test.ts", files: ["./test/e2e/deploy.test.ts"], vm: true, solo: false },
    { name: "test/e2e/fleet.test.ts", files: ["./test/e2e/fleet.test.ts"], vm: true, solo: true },
    { name: "test/e2e/slug.test.ts", files: ["./test/e2e/slug.test.ts"], vm: true, solo: false },
    { name: "test/sandbox.test.ts", files: ["./test/sandbox.test.ts"], vm: true, solo: false },
  ]);
});

test("longest first onto the lane that ends soonest; every job in exactly one lane", () => {
  const timings = { units: 100, "test/sandbox.test.ts": 200, "test/e2e/deploy.test.ts": 300, "test/e2e/fleet.test.ts": 250 };
  const lanes = planLanes(jobsFor(FILES), timings, 2).map((l) => l.map((j) => j.name));
  // deploy 300 -> 1; fleet 250 -> 2; sandbox 200 -> 2 (450); slug (untimed: 120) -> 1 (420); units 100 -> 1.
  expect(lanes).toEqual([
    ["test/e2e/deploy.test.ts", "test/e2e/slug.test.ts", "units"],
    ["test/e2e/fleet.test.ts", "test/sandbox.test.ts"],
  ]);
  expect(lanes.flat().sort()).toEqual(jobsFor(FILES).map((j) => j.name).sort());
});

test("two lanes: the VM jobs, the unit files in the first lane free, the fleet last; one lane: every job in order", () => {
  const jobs = jobsFor(FILES);
  const two = planRun(jobs, {}, 2);
  expect(two.first.flat().map((j) => j.name).sort()).toEqual(["test/e2e/deploy.test.ts", "test/e2e/slug.test.ts", "test/sandbox.test.ts"]);
  expect(two.next.map((j) => j.name)).toEqual(["units"]);
  expect(two.last.map((j) => j.name)).toEqual(["test/e2e/fleet.test.ts"]);
  expect(planRun(jobs, {}, 1)).toEqual({ first: [jobs], next: [], last: [] });
  // Without a fleet file the unit files go in the lanes.
  const noFleet = planRun(jobs.filter((j) => !j.solo), {}, 2);
  expect([noFleet.next, noFleet.last]).toEqual([[], []]);
  expect(noFleet.first.flat().map((j) => j.name)).toContain("units");
});

test("bun's closing lines are read; a run that failed without saying so counts one failure", () => {
  expect(countsOf("(pass) a\n 3 pass\n 0 fail\nRan 3 tests", 0)).toEqual({ pass: 3, fail: 0 });
  expect(countsOf(" 3 pass\n 2 fail\n", 1)).toEqual({ pass: 3, fail: 2 });
  expect(countsOf("error: Cannot find module './x'\n", 1)).toEqual({ pass: 0, fail: 1 });
});

test("lane 1 is the usual sandbox; lane 2 has its own folder and every port 10 up", () => {
  expect(laneEnv(1, "/r", {})).toEqual({
    QDEPLOY_E2E_KEEP_VM: "1",
    QDEPLOY_SANDBOX_SSH_PORT: "2222",
    QDEPLOY_SANDBOX_HTTP_PORT: "8080",
    QDEPLOY_SANDBOX_HTTPS_PORT: "8443",
    QDEPLOY_SANDBOX_PROBE_PORT: "8999",
  });
  expect(laneEnv(2, "/r", { QDEPLOY_SANDBOX_SSH_PORT: "3000" })).toMatchObject({ QDEPLOY_E2E_PROJECT: "/r/.qdeploy/lanes/2", QDEPLOY_SANDBOX_SSH_PORT: "3010", QDEPLOY_SANDBOX_HTTP_PORT: "8090" });
});

test("each failed test's lines are kept for the run's end: its error before its (fail) line, not the tests around it", () => {
  const output = ["(pass) a [1ms]", "", "error: expect(received).toBe(expected)", "Expected: 1", "Received: 2", "      at t.ts:3:4", "(fail) b [2ms]", "(pass) c [1ms]", "ok", "(fail) d [1ms]", " 2 pass", " 2 fail"].join("\n");
  expect(failuresOf(output)).toEqual(["error: expect(received).toBe(expected)\nExpected: 1\nReceived: 2\n      at t.ts:3:4\n(fail) b [2ms]", "ok\n(fail) d [1ms]"]);
  expect(failuresOf(output, 2)).toEqual(["…\n      at t.ts:3:4\n(fail) b [2ms]", "ok\n(fail) d [1ms]"]);
  expect(failuresOf("(pass) a\n 1 pass\n 0 fail\n")).toEqual([]);
  // bun's closing list repeats the (fail) lines; a timeout's reason follows its (fail) line.
  const closing = ["(pass) a [1ms]", "killed 1 dangling process", "(fail) b [5000ms]", "  ^ this test timed out after 5000ms.", "(pass) c [1ms]", "", "1 tests failed:", "(fail) b [5000ms]", " 2 pass", " 1 fail"].join("\n");
  expect(failuresOf(closing)).toEqual(["killed 1 dangling process\n(fail) b [5000ms]\n  ^ this test timed out after 5000ms."]);
});
