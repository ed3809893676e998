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

/** Installs each app as qdeploy lays one out: a web template with an enabled instance, a worker, a job timer, a Caddy site. */
const FAKE_APPS = String.raw`set -eu
mkdir -p /etc/caddy/qdeploy
cd /etc/systemd/system
enable=""
for app in "$@"; do
  mkdir -p /srv/qdeploy/$app/current/bin
  printf '#!/bin/sh
exec sleep infinity
' > /srv/qdeploy/$app/current/bin/run
  chmod 755 /srv/qdeploy/$app/current/bin/run
  for u in web@ worker@; do
    printf '[Service]
ExecStart=/srv/qdeploy/%s/current/bin/run
[Install]
WantedBy=multi-user.target
' $app > $app-$u.service
  done
  printf '[Service]
Type=oneshot
ExecStart=/srv/qdeploy/%s/current/bin/run
' $app > $app-job-tick.service
  printf '[Timer]
OnCalendar=hourly
[Install]
WantedBy=timers.target
' > $app-job-tick.timer
  echo "# $app" > /etc/caddy/qdeploy/$app.caddy
  enable="$enable $app-web@8001.service $app-worker@1.service $app-job-tick.timer"
done
systemctl daemon-reload
systemctl enable -q --now $enable # unit names have no spaces: split on purpose
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
  const made = await onVm(vm, ["bash", "-s", "--", "qtest", "qtest-api"], FAKE_APPS);
  expect(made.stderr).toBe("");
  expect(made.code).toBe(0);
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
