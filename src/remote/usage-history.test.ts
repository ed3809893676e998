import { expect, test } from "bun:test";
import { parseUsageSamples, processSeries } from "./usage-history.ts";

const M = 1024 * 1024;
const S = 1e9;

test("usage.log's samples become one series per process: instances summed, CPU as a share of one CPU since the minute before", () => {
  const text = [
    `1000 hello-web@8001.service ${10 * M} ${1 * S}`,
    `1000 hello-worker@1.service ${20 * M} ${2 * S}`,
    `1000 hello-worker@2.service ${20 * M} -`,
    `1060 hello-web@8001.service ${12 * M} ${7 * S}`, // 6 s of CPU in 60 s: 10 %
    `1060 hello-worker@1.service ${21 * M} ${5 * S}`,
    `1060 hello-worker@2.service ${19 * M} ${3 * S}`, // not said a minute ago: 3 s since its start
    `1120 hello-web@8002.service ${11 * M} ${0.6 * S}`, // a switch: the new slot counts from its start
    `1120 other-web@8101.service ${99 * M} ${99 * S}`, // another app's: never
    "1180 hello-web@8002.serv", // cut short by a write: skipped
    `1120 hello-usage.service ${1 * M} ${1 * S}`, // not a process
  ].join("\n");
  const samples = parseUsageSamples(text);
  expect(samples).toHaveLength(9);
  expect(processSeries(samples, "hello")).toEqual([
    { process: "web", points: [{ at: 1000, memoryBytes: 10 * M, cpuPercent: null }, { at: 1060, memoryBytes: 12 * M, cpuPercent: 10 }, { at: 1120, memoryBytes: 11 * M, cpuPercent: 1 }] },
    { process: "worker", points: [{ at: 1000, memoryBytes: 40 * M, cpuPercent: null }, { at: 1060, memoryBytes: 40 * M, cpuPercent: 10 }] },
  ]);
});
