/** Where things live on a server (docs/server-layout.md). Pure: names and paths only. */

/** Where every app's folder is, and the host-wide files beside them. */
export const APPS_DIR = "/srv/qdeploy";

/** Host-wide paths qdeploy writes, the same for every app. */
export const HOST_PATHS = {
  /** qdeploy's drop-in for Debian's caddy.service (the admin socket's directory and umask). */
  caddyDropIn: "/etc/systemd/system/caddy.service.d/qdeploy.conf",
  /** Caddy's admin API, a socket only root and caddy reach. */
  caddyAdmin: "/run/caddy/admin.sock",
  /** The firewall's script, boot unit input and each app's public ports (server/firewall.sh). */
  firewallDir: "/etc/qdeploy/firewall",
};

/** The root of everything qdeploy keeps for one app. */
export function appDir(app: string): string {
  return `${APPS_DIR}/${app}`;
}

/** Whether `path` is an app's installed switch (layout's switchScript). */
export function isSwitchScript(path: string | undefined): boolean {
  return path !== undefined && /^[^/]+\/switch$/.test(path.startsWith(`${APPS_DIR}/`) ? path.slice(APPS_DIR.length + 1) : "");
}

/** Paths inside appDir, and the system paths qdeploy writes for the app. */
export function layout(app: string) {
  const root = appDir(app);
  return {
    root,
    blobs: `${root}/blobs`,
    blob: (sha256: string) => `${root}/blobs/${sha256}`,
    /** A pack of slug blobs on its way in (a dot name: never taken for a blob, unpacked by `switch unpack`). */
    pack: (sha256: string) => `${root}/blobs/.pack-${sha256}`,
    releases: `${root}/releases`,
    release: (id: string) => `${root}/releases/${id}`,
    slots: `${root}/slots`,
    slot: (port: number) => `${root}/slots/${port}`,
    current: `${root}/current`,
    liveSlot: `${root}/live-slot`,
    lock: `${root}/lock`,
    /** Who holds the deploy lock (server/lock.sh). */
    lockHolder: `${root}/lock.holder`,
    /** The switch's own lock, held for its whole run (server/switch.sh take_locks). */
    switchLock: `${root}/switch.lock`,
    /** What every switch printed, newest last (trimmed at 1 MB). */
    switchLog: `${root}/switch.log`,
    audit: `${root}/audit.log`,
    /** The warm standby: "PORT RELEASE UNTIL" while the previous release's web slot runs. */
    standby: `${root}/standby`,
    /** "PORT RELEASE": a fleet's release started on the idle slot before its wave (switch stage). */
    staged: `${root}/staged`,
    /** web.watchdog: when the live web slot first failed to answer (epoch seconds), while it fails. */
    watchdogFailing: `${root}/watchdog.failing`,
    /** web.watchdog: "COUNT LAST" (epoch seconds), its restarts of a hung web slot. */
    watchdogRestarts: `${root}/watchdog.restarts`,
    /** The last hour of "EPOCH UNIT MEMORY CPU_NSEC" samples of the running services (switch sample). */
    usage: `${root}/usage.log`,
    /** [logs] drain: rsyslog's config, journal cursor and queue (0700 root). */
    logDrain: `${root}/logdrain`,
    logDrainConf: `${root}/logdrain/rsyslog.conf`,
    /** The unit names the app's releases installed (host-wide claims: server/switch.sh). */
    installedUnits: `${root}/installed-units`,
    /** A review app's record (src/plan/review-app.ts PreviewRecord): which preview, its URL and commit. */
    preview: `${root}/preview.json`,
    /** The key of release.json's configDigest (0600 root, never printed). */
    digestKey: `${root}/digest.key`,
    switchScript: `${root}/switch`,
    /** server/addon.sh, run by push, the backup timers and `qdeploy addons`. */
    addonScript: `${root}/addon`,
    /** Each add-on's credentials, NAME.env (a folder 0700 root, files 0600). */
    addonState: `${root}/addons`,
    /** An add-on's backups (0700 root): server/addon.sh's backup writes them. */
    addonBackups: (name: string) => `/var/backups/qdeploy/${app}/${name}`,
    /**
     * Maintenance mode: the folder Caddy reads (2750 root:caddy) and the page in it, whose
     * presence is the switch (the site's `@maintenance file` matcher): outside the releases,
     * so a push or rollback keeps it, and toggled without a Caddy reload.
     */
    maintenance: `${root}/maintenance`,
    maintenancePage: `${root}/maintenance/page.html`,
    /**
     * Which web slot Caddy sends requests to first: slot B while route/b exists, else slot A
     * (the site's `@slot_b file` matcher; server/switch.sh prefer). A folder Caddy reads
     * (2750 root:caddy), written by the switch alone.
     */
    route: `${root}/route`,
    unitDir: "/etc/systemd/system",
    caddyMain: "/etc/caddy/Caddyfile",
    caddySites: "/etc/caddy/qdeploy",
    caddySite: `/etc/caddy/qdeploy/${app}.caddy`,
    caddyDropIn: HOST_PATHS.caddyDropIn,
    caddyAdmin: HOST_PATHS.caddyAdmin,
    /** The host's port registry: "APP PORT PORT" a line, every app's web pair. */
    portsRegistry: `${APPS_DIR}/.ports`,
    /** The lock two apps' switches take to claim unit names. */
    claimsLock: `${APPS_DIR}/.claims.lock`,
    firewallDir: HOST_PATHS.firewallDir,
  };
}

/**
 * The layout as shell assignments, for the server scripts (server/*.sh), which read these
 * names and never spell a path out themselves: in place of their `# @layout` line
 * (src/server-scripts.ts), once the script has set `$app`. The same text for every app, so
 * one installed switch serves all. `appsDir`: tests lay the apps out in a temp folder.
 */
export function layoutShell(appsDir = APPS_DIR): string {
  const APP = "@APP@";
  const l = layout(APP);
  const vars: Record<string, string> = {
    releases_dir: l.releases,
    slots_dir: l.slots,
    blobs_dir: l.blobs,
    current_link: l.current,
    live_slot_file: l.liveSlot,
    standby_file: l.standby,
    staged_file: l.staged,
    route_dir: l.route,
    lock_file: l.lock,
    holder_file: l.lockHolder,
    switch_lock_file: l.switchLock,
    switch_log: l.switchLog,
    audit_file: l.audit,
    installed_units_file: l.installedUnits,
    digest_key_file: l.digestKey,
    switch_file: l.switchScript,
    addon_file: l.addonScript,
    addons_dir: l.addonState,
    units_dir: l.unitDir,
    caddyfile: l.caddyMain,
    site: l.caddySite,
    caddy_dropin: l.caddyDropIn,
    caddy_admin: l.caddyAdmin,
    ports_registry: l.portsRegistry,
    claims_lock: l.claimsLock,
    firewall_dir: l.firewallDir,
    standby_end_unit: unitNames.standbyEnd(APP),
    watchdog_failing_file: l.watchdogFailing,
    watchdog_restarts_file: l.watchdogRestarts,
    usage_file: l.usage,
    logdrain_conf: l.logDrainConf,
    logdrain_unit: `${l.unitDir}/${unitNames.logDrain(APP)}`,
  };
  const shell = (v: string) => `"${v.replace(appDir(APP), "$root").replace(APPS_DIR, "$apps_dir").replaceAll(APP, "$app")}"`;
  return [`apps_dir=${appsDir}`, 'root="$apps_dir/$app"', ...Object.entries(vars).map(([k, v]) => `${k}=${shell(v)}`)].join("\n");
}

/** Unit names on the server (SPEC: APP-web@..., APP-restart.timer, APP-job-NAME.timer). */
export const unitNames = {
  template: (app: string, proc: string) => `${app}-${proc}@.service`,
  instance: (app: string, proc: string, instance: string | number) => `${app}-${proc}@${instance}.service`,
  restartService: (app: string) => `${app}-restart.service`,
  restartTimer: (app: string) => `${app}-restart.timer`,
  jobService: (app: string, job: string) => `${app}-job-${job}.service`,
  jobTimer: (app: string, job: string) => `${app}-job-${job}.timer`,
  addonBackupService: (app: string, addon: string) => `${app}-addon-${addon}-backup.service`,
  addonBackupTimer: (app: string, addon: string) => `${app}-addon-${addon}-backup.timer`,
  /** The transient timer (and its service) an older qdeploy armed to end the warm standby: stopped where it is left (the usage timer ends it now). */
  standbyEnd: (app: string) => `${app}-standby-end`,
  /** web.watchdog's look at the live web slot, and its timer. */
  watchdogService: (app: string) => `${app}-watchdog.service`,
  watchdogTimer: (app: string) => `${app}-watchdog.timer`,
  /** The minute's sample of the running services' memory and CPU (the dashboard's charts), and its timer. */
  usageService: (app: string) => `${app}-usage.service`,
  usageTimer: (app: string) => `${app}-usage.timer`,
  /** [logs] drain: the app's own rsyslog, forwarding its units' journal lines. */
  logDrain: (app: string) => `${app}-logdrain.service`,
};

/**
 * Shell-style patterns (journalctl -u, systemctl list-units) matching exactly the units of
 * an app with these processes, jobs, restart timer and web.watchdog: templates as `APP-PROC@*.service`.
 * No other app can hold these names: the switch refuses a unit name another app installed.
 */
export function unitPatterns(app: string, processes: string[], jobs: string[], restart: boolean, watchdog = false): string[] {
  return [
    ...processes.map((p) => `${app}-${p}@*.service`),
    ...(restart ? [unitNames.restartService(app), unitNames.restartTimer(app)] : []),
    ...(watchdog ? [unitNames.watchdogService(app), unitNames.watchdogTimer(app)] : []),
    ...jobs.flatMap((j) => [unitNames.jobService(app, j), unitNames.jobTimer(app, j)]),
  ];
}

/** The web ports a host qdeploy never touched gives its first app (the registry's first pair). */
export const FIRST_WEB_PORTS: [number, number] = [8001, 8002];

/** How often web.watchdog's timer looks at the live web slot's health path. */
export const WATCHDOG_INTERVAL_SEC = 10;

/** The PATH after the app's bin/ (Debian's default for root, the unit's own PATH otherwise). */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Where a process of the release in `releaseDir` (a release, slots/PORT or current) runs,
 * as on Heroku: the app's files are its working directory and HOME, their bin/ first on PATH.
 * server/switch.sh's `exec` spells the same out for itself.
 */
export function processPlace(releaseDir: string): { workingDirectory: string; home: string; path: string } {
  const app = `${releaseDir}/app`;
  return { workingDirectory: app, home: app, path: `${app}/bin:${SYSTEM_PATH}` };
}
