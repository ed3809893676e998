import { expect, test } from "bun:test";
import { switchCommands } from "./server-commands.ts";
import { switchText } from "./server-scripts.ts";

const s = switchCommands("hello");

test("activate: ID WHO, then ONLY and UNDOING only when given, in switch.sh's order", () => {
  expect(s.activate("2", "me")).toEqual(["/srv/qdeploy/hello/switch", "activate", "2", "me"]);
  expect(s.activate("2", "me", { only: "web" })).toEqual([s.script, "activate", "2", "me", "web"]);
  expect(s.activate("2", "me", { undoing: "3" })).toEqual([s.script, "activate", "2", "me", "", "3"]);
});

test("every verb the client builds is one switch.sh takes", () => {
  const verbs = new Set(/usage: switch ([a-z|-]+)/.exec(switchText)![1]!.split("|"));
  const built = [s.activate("1", "w"), s.stage("1", "w"), s.unstage("1"), s.restart(null, "w"), s.timerRestart.split(" "), s.status(), s.exec(["ls"]), s.unpack("p"), s.link("1")];
  for (const argv of built) expect(verbs).toContain(argv[1]!);
  expect(s.restart(null, "me")).toEqual([s.script, "restart", "", "me"]);
  expect(s.timerRestart).toBe(`${s.script} restart`);
  // status where the switch may not be installed: the same verb, run only when it is there.
  expect(s.statusIfInstalled()).toEqual(["sh", "-c", 'if [ -x "$1" ]; then exec "$1" status; fi', "sh", s.script]);
});
