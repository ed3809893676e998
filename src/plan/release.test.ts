import { describe, expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import { renderUnits } from "../render/units.ts";
import { releaseVars, renderSwitchConf } from "./release.ts";

describe("renderSwitchConf", () => {
  // The switch counts in bash integers: `SECONDS + 1.5` is a syntax error that breaks every switch.
  for (const [sec, whole] of [[1.5, "2"], [0.5, "1"], [60, "60"], [0, "1"]] as const) {
    test(`health_timeout ${sec}s is HEALTH_TIMEOUT=${whole}`, () => {
      const cfg = { ...helloConfig, web: { ...helloConfig.web!, healthTimeoutSec: sec } };
      expect(renderSwitchConf(cfg, {}, [8001, 8002])).toContain(`\nHEALTH_TIMEOUT=${whole}\n`);
    });
  }

  test("web.watchdog: WATCHDOG in whole seconds and its timer among TIMERS; off, neither (the file is as before)", () => {
    const on = { ...helloConfig, web: { ...helloConfig.web!, watchdogSec: 30.5 } };
    const conf = renderSwitchConf(on, renderUnits(on), [8001, 8002]);
    expect(conf).toContain("\nTIMERS='hello-restart.timer hello-job-cleanup.timer hello-watchdog.timer hello-usage.timer'\n");
    expect(conf).toContain("\nWATCHDOG=31\n");
    const off = renderSwitchConf(helloConfig, renderUnits(helloConfig), [8001, 8002]);
    expect(off).not.toContain("watchdog");
    expect(off).not.toContain("WATCHDOG");
  });
});

describe("releaseVars", () => {
  test("the webhook's signing secret ([serve] webhook_secret) never reaches the app's env file", () => {
    const vars = releaseVars(helloConfig, { DATABASE_URL: "postgres://x", WEBHOOK_SECRET: "s3cret" });
    expect(vars).toEqual({ LOG_LEVEL: "info", DATABASE_URL: "postgres://x", QDEPLOY_APP: "hello", QDEPLOY_ENV: "sandbox" });
  });
});
