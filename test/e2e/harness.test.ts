/**
 * The harness's own promises on the shared VM: sandbox() hands every suite the same running
 * VM, and cleanApp removes exactly one app (units, instances, timers, files, Caddy site) and
 * leaves an app whose name starts the same. Units are made by hand here: fast, and they
 * only need to run from /srv/qdeploy/APP/ as qdeploy's do.
 */
import { beforeAll, expect, test } from "bun:test";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, onVm, sandbox } from "./harness.ts";

const MIN = 60_000;
let vm: SandboxInfo;

/** Installs app APP as qdeploy lays it out: a web template with an enabled instance, a worker, a job timer, a Caddy site. */
const FAKE_APP = String.raw`set -eu
app=$1
mkdir -p /srv/qdeploy/$app/current/bin /etc/caddy/qdeploy
printf '#!/bin/sh\nexec sleep infinity\n' > /srv/qdeploy/$app/current/bin/run
chmod 755 /srv/qdeploy/$app/current/bin/run
cd /etc/systemd/system
for u in web@ worker@; do
  printf '[Service]\nExecStart=/srv/qdeploy/%s/current/bin/run\n[Install]\nWantedBy=multi-user.target\n' $app > $app-$u.service
done
printf '[Service]\nType=oneshot\nExecStart=/srv/qdeploy/%s/current/bin/run\n' $app > $app-job-tick.service
printf '[Timer]\nOnCalendar=hourly\n[Install]\nWantedBy=timers.target\n' > $app-job-tick.timer
echo "# $app" > /etc/caddy/qdeploy/$app.caddy
systemctl daemon-reload
systemctl enable -q --now $app-web@8001.service $app-worker@1.service $app-job-tick.timer
`;

/** What of APP is on the VM: unit files, enablement links, active units, files. */
async function traces(app: string): Promise<string> {
  const r = await onVm(vm, ["bash", "-c", String.raw`app=$1; cd /etc/systemd/system
ls -d $app-* */$app-* 2>/dev/null; systemctl list-units --plain --no-legend --all "$app-*" | awk '$3 != "inactive" {print $1, $3}'
ls -d /srv/qdeploy/$app /etc/caddy/qdeploy/$app.caddy 2>/dev/null; true`, "traces", app]);
  return r.stdout.trim();
}

beforeAll(async () => {
  vm = await sandbox();
}, 10 * MIN);

test("sandbox() returns the same running VM to every caller", async () => {
  const again = await sandbox();
  expect(again.pid).toBe(vm.pid!);
  expect(again.sshPort).toBe(vm.sshPort);
}, 2 * MIN);

test("cleanApp removes one app entirely and leaves the app whose name starts the same", async () => {
  for (const app of ["qtest", "qtest-api"]) {
    const r = await onVm(vm, ["bash", "-s", "--", app], FAKE_APP);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  }
  const before = await traces("qtest-api");
  expect(before).toContain("qtest-api-web@8001.service active");
  expect(before).toContain("multi-user.target.wants/qtest-api-web@8001.service");

  await cleanApp(vm, "qtest");
  expect(await traces("qtest-api")).toBe(before); // untouched: running, enabled, files kept
  const gone = await onVm(vm, ["bash", "-c", "ls /etc/systemd/system/qtest-web@.service /etc/systemd/system/*/qtest-web@8001.service /srv/qdeploy/qtest 2>&1; systemctl is-active qtest-web@8001.service qtest-job-tick.timer"]);
  expect(gone.stdout).not.toMatch(/^\/(etc|srv)\//m); // every ls failed
  expect(gone.stdout.trim().split("\n").slice(-2)).toEqual(["inactive", "inactive"]);

  await cleanApp(vm, "qtest-api");
  expect(await traces("qtest-api")).toBe("");
  await cleanApp(vm, "qtest-api"); // nothing left to clean is fine
}, 5 * MIN);
