/** Where things live on a server (docs/server-layout.md). Pure: names and paths only. */

/** The root of everything qdeploy keeps for one app. */
export function appDir(app: string): string {
  return `/srv/qdeploy/${app}`;
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
    audit: `${root}/audit.log`,
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
  };
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
};

/**
 * Shell-style patterns (journalctl -u, systemctl list-units) matching exactly the units of
 * an app with these processes, jobs and restart timer: templates as `APP-PROC@*.service`.
 * No other app can hold these names: the switch refuses a unit name another app installed.
 */
export function unitPatterns(app: string, processes: string[], jobs: string[], restart: boolean): string[] {
  return [
    ...processes.map((p) => `${app}-${p}@*.service`),
    ...(restart ? [unitNames.restartService(app), unitNames.restartTimer(app)] : []),
    ...jobs.flatMap((j) => [unitNames.jobService(app, j), unitNames.jobTimer(app, j)]),
  ];
}

/** The web ports a host qdeploy never touched gives its first app (the registry's first pair). */
export const FIRST_WEB_PORTS: [number, number] = [8001, 8002];

/**
 * How often Caddy checks each web slot's health path. A slot takes traffic at most this long
 * after it is healthy; the switch waits that long before it stops the old slot.
 */
export const CADDY_HEALTH_INTERVAL_MS = 500;

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
