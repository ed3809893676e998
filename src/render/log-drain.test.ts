import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { helloConfig as base } from "../../test/fixtures/config.ts";
import { freshHostFacts } from "../plan/facts.ts";
import { planLogDrain } from "../plan/setup.ts";
import { describeStep } from "../plan/steps.ts";
import { renderLogDrain, unitRegex } from "./log-drain.ts";

const drain = { host: "logs.example.com", port: 6514, url: "syslog+tls://logs.example.com:6514" };
const cfg = { ...base, logDrain: drain };
const CONF = "/srv/qdeploy/hello/logdrain/rsyslog.conf";
const UNIT = "/etc/systemd/system/hello-logdrain.service";
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("the log drain's files", () => {
  test("rsyslog forwards exactly the app's services' lines over TLS, checking the drain's name; the unit runs it on its own config", () => {
    const files = renderLogDrain(cfg, drain);
    expect(Object.keys(files)).toEqual([CONF, UNIT]);
    const conf = files[CONF]!;
    expect(conf).toContain("if re_match($!_SYSTEMD_UNIT, '^(hello-web@[^/]*[.]service|hello-worker@[^/]*[.]service|hello-restart[.]service|hello-job-cleanup[.]service|hello-release-[^/]*[.]service)$') then {");
    expect(conf).toContain('target="logs.example.com" port="6514" protocol="tcp" template="drain" TCP_Framing="octet-counted"');
    expect(conf).toContain('StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="logs.example.com"');
    expect(conf).toContain('global(workDirectory="/srv/qdeploy/hello/logdrain" defaultNetstreamDriverCAFile="/etc/ssl/certs/ca-certificates.crt")');
    expect(conf).not.toContain("\\"); // rsyslog strings would need every backslash doubled
    expect(files[UNIT]).toContain("ExecStartPre=/usr/sbin/rsyslogd -N1 -f /srv/qdeploy/hello/logdrain/rsyslog.conf\nExecStart=/usr/sbin/rsyslogd -n -iNONE -f /srv/qdeploy/hello/logdrain/rsyslog.conf\n");
    expect(files[UNIT]).toContain("ReadWritePaths=/srv/qdeploy/hello/logdrain\n");
  });

  test("the unit pattern matches the app's services and no other app's", () => {
    const re = new RegExp(unitRegex(cfg));
    for (const u of ["hello-web@8101.service", "hello-worker@2.service", "hello-job-cleanup.service", "hello-restart.service", "hello-release-20261205100000.service"]) expect(u).toMatch(re);
    for (const u of ["hello-api-web@8101.service", "hello-web@8101.serviceX", "other-web@1.service", "hello-restart.timer", "hello-logdrain.service"]) expect(u).not.toMatch(re);
  });
});

describe("planLogDrain", () => {
  const steps = (c: typeof base, f: Partial<ReturnType<typeof freshHostFacts>> = {}) => planLogDrain(c, { ...freshHostFacts(base.hosts[0]!, "x86_64"), ...f }).map(describeStep).map((l) => l.split(" (")[0]);

  test("a host without rsyslog gets Debian's, then the drain's files, enabled and restarted", () => {
    const s = steps(cfg);
    expect(s[0]).toStartWith("run    bash -c ");
    expect(s.slice(1)).toEqual([
      "run    install -d -m 0700 /srv/qdeploy/hello/logdrain",
      `write  ${CONF}`,
      `write  ${UNIT}`,
      "run    systemctl daemon-reload",
      "run    systemctl enable --quiet hello-logdrain.service",
      "run    systemctl restart hello-logdrain.service",
    ]);
  });

  test("nothing when the host has the same files; the files again when the drain changes; removed when deploy.toml drops it", () => {
    const files = renderLogDrain(cfg, drain);
    const installed = { rsyslog: true, logDrainSha: `${sha(files[CONF]!)} ${sha(files[UNIT]!)}` };
    expect(steps(cfg, installed)).toEqual([]);
    expect(steps({ ...cfg, logDrain: { ...drain, port: 6515 } }, installed)).toHaveLength(6);
    expect(steps(base, installed)).toEqual(["run    systemctl disable --now --quiet hello-logdrain.service", `run    rm -rf /srv/qdeploy/hello/logdrain ${UNIT}`, "run    systemctl daemon-reload"]);
    expect(steps(base, { rsyslog: true, logDrainSha: "" })).toEqual([]);
  });
});
