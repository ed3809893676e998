import { describe, expect, test } from "bun:test";
import type { ResolvedConfig } from "../config/types.ts";
import { helloConfig } from "../../test/fixtures/config.ts";
import { planReleasePhase } from "../plan/release-phase.ts";
import { renderExecStart } from "./units.ts";

/** The programs of the real Procfiles below, as one release's bin/. */
const BINARIES = ["go-postgres-heroku", "strillone", "app", "migrate", "seed"];
const cfg: ResolvedConfig = { ...helloConfig, build: { ...helloConfig.build, binaries: BINARIES } };
const SLOT = "/srv/qdeploy/hello/slots/%i";
const ID = "20261204010203";
const REL = `/srv/qdeploy/hello/releases/${ID}`;

/** The release phase's command: systemd-run's argv after "--". */
function releaseCommand(line: string): string[] {
  const argv = planReleasePhase({ ...cfg, release: { command: line, timeoutSec: 60 } }, ID, "h")!.argv;
  return argv.slice(argv.indexOf("--") + 1);
}

describe("Procfile lines as Heroku runs them", () => {
  // [Procfile line, the web unit's ExecStart=, the release phase's command]
  const rows: [string, string, string[]][] = [
    // Plain: systemd starts the program itself and expands $VAR/${VAR} from the unit's environment.
    ["./bin/go-postgres-heroku", `${SLOT}/bin/go-postgres-heroku`, [`${REL}/bin/go-postgres-heroku`]],
    [
      "migrate -path migrations -database $DATABASE_URL up",
      `${SLOT}/bin/migrate -path migrations -database $DATABASE_URL up`,
      [`${REL}/bin/migrate`, "-path", "migrations", "-database", "$DATABASE_URL", "up"],
    ],
    ['bin/app --port=${PORT} "$FLAGS"', `${SLOT}/bin/app "--port=\${PORT}" "\${FLAGS}"`, [`${REL}/bin/app`, "--port=${PORT}", "${FLAGS}"]],
    ["./scripts/start.sh --fast", `${SLOT}/app/scripts/start.sh --fast`, [`${REL}/app/scripts/start.sh`, "--fast"]],
    // Anything else: bash -c LINE, every $ doubled so that bash, not systemd, expands it; % doubled in the unit.
    ["WEB_SERVER_PORT=$PORT bin/strillone", '/bin/bash -c "WEB_SERVER_PORT=$$PORT bin/strillone"', ["/bin/bash", "-c", "WEB_SERVER_PORT=$$PORT bin/strillone"]],
    ["export WORKER='true' && app", `/bin/bash -c "export WORKER='true' && app"`, ["/bin/bash", "-c", "export WORKER='true' && app"]],
    [
      "app --db ${DATABASE_URL:-postgres://localhost/dev}",
      '/bin/bash -c "app --db $${DATABASE_URL:-postgres://localhost/dev}"',
      ["/bin/bash", "-c", "app --db $${DATABASE_URL:-postgres://localhost/dev}"],
    ],
    // Where bash would outlive a program it runs (it is not the last, or the last is in a pipeline or
    // redirected), a trap first keeps bash until that program has finished (TERM_AFTER_CHILDREN).
    [
      "bin/migrate up && bin/seed",
      `/bin/bash -c "trap 'trap - TERM; kill -TERM $$$$' TERM; bin/migrate up && bin/seed"`,
      ["/bin/bash", "-c", "trap 'trap - TERM; kill -TERM $$$$' TERM; bin/migrate up && bin/seed"],
    ],
    [
      "bin/app 2>&1 | tee -a /tmp/app.log",
      `/bin/bash -c "trap 'trap - TERM; kill -TERM $$$$' TERM; bin/app 2>&1 | tee -a /tmp/app.log"`,
      ["/bin/bash", "-c", "trap 'trap - TERM; kill -TERM $$$$' TERM; bin/app 2>&1 | tee -a /tmp/app.log"],
    ],
    ["app >>/tmp/log", `/bin/bash -c "trap 'trap - TERM; kill -TERM $$$$' TERM; app >>/tmp/log"`, ["/bin/bash", "-c", "trap 'trap - TERM; kill -TERM $$$$' TERM; app >>/tmp/log"]],
    [
      'echo "say \\"hi\\" 100%" $(date +%s) && exec app',
      '/bin/bash -c "echo \\"say \\\\\\"hi\\\\\\" 100%%\\" $$(date +%%s) && exec app"',
      ["/bin/bash", "-c", 'echo "say \\"hi\\" 100%" $$(date +%s) && exec app'],
    ],
  ];
  for (const [line, execStart, release] of rows) {
    test(line, () => {
      expect(renderExecStart(cfg, line, SLOT)).toBe(execStart);
      expect(releaseCommand(line)).toEqual(release);
    });
  }
});
