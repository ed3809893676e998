#!/usr/bin/env bash
# Removes every trace of apps $1... from a sandbox host (units, files, site, firewall ports, web
# ports) (run by harness.ts cleanApp and cleanAllApps, as root); with no argument, every app
# under /srv/qdeploy. Each app's units are the ones that run from /srv/qdeploy/APP/ (and their
# timers): matching on the directory, not on a name glob, never touches "hello-api" when
# cleaning "hello".
set -euo pipefail
shopt -s nullglob
apps=("$@")
if ((${#apps[@]} == 0)); then
  for d in /srv/qdeploy/*/; do d=${d%/}; apps+=("${d##*/}"); done
fi
((${#apps[@]})) || exit 0
cd /etc/systemd/system
units=()
for app in "${apps[@]}"; do
  for f in $(grep -lF -- "/srv/qdeploy/$app/" ./*.service || true); do
    f=${f#./}
    units+=("$f")
    if [[ -e ${f%.service}.timer ]]; then units+=("${f%.service}.timer"); fi
  done
done
if ((${#units[@]})); then
  stop=()
  for u in "${units[@]}"; do
    # A template is stopped through its instances (APP-web@8001.service): `disable --now`
    # refuses a template (systemd #15620), and plain `disable` of one removes its instances' links.
    if [[ $u == *@.service ]]; then stop+=("${u%.service}*.service"); else stop+=("$u"); fi
  done
  systemctl stop "${stop[@]}"
  systemctl disable -q "${units[@]}"
  rm -f -- "${units[@]}"
  systemctl daemon-reload
  systemctl reset-failed # the sandbox is ours: no stale "failed" marks degrade it
fi
# Add-ons (server/addon.sh): each one's database and role, or Redis instance, from its state
# file; then its backups.
pg_running() { compgen -G '/var/run/postgresql/.s.PGSQL.*' > /dev/null; }
for app in "${apps[@]}"; do
  for f in /srv/qdeploy/"$app"/addons/*.env; do
    db=$(sed -n 's/^database=//p' "$f") role=$(sed -n 's/^role=//p' "$f") inst=$(sed -n 's/^instance=//p' "$f")
    if [[ -n $db ]] && pg_running; then
      printf 'DROP DATABASE IF EXISTS "%s" WITH (FORCE);\nDROP ROLE IF EXISTS "%s";\n' "$db" "$role" | (cd / && runuser -u postgres -- psql -X -q)
    fi
    if [[ -n $inst ]]; then
      systemctl disable --now -q "redis-server@$inst"
      rm -rf -- "/var/lib/redis/$inst" "/etc/redis/redis-$inst.conf" "/etc/redis/$inst.tls"
    fi
    # Reached from other hosts: its pg_hba.conf lines (the listen address stays until the
    # cluster is next set up; nothing reaches it without those lines).
    if [[ -n $db ]]; then
      for hba in /etc/postgresql/*/*/pg_hba.conf; do sed -i "/^hostssl \"$db\" /d" "$hba"; done
    fi
  done
  rm -f -- /etc/qdeploy/firewall/"$app".addon-*.from
  rm -rf -- "/var/backups/qdeploy/$app"
done
for app in "${apps[@]}"; do
  rm -rf -- "/srv/qdeploy/$app" "/etc/caddy/qdeploy/$app.caddy" "/etc/qdeploy/firewall/$app.ports"
  # Its web ports go back to the host's registry.
  if [[ -f /srv/qdeploy/.ports ]]; then sed -i "/^$app /d" /srv/qdeploy/.ports; fi
done
if systemctl is-active -q caddy; then systemctl reload caddy; fi
# No add-on left: Postgres goes back to how the image has it (installed, stopped, off at boot),
# so later files do not pay for an idle database on the emulated CPU.
if [[ -z $(compgen -G '/srv/qdeploy/*/addons/*.env') ]] && { [[ -e /etc/systemd/system/multi-user.target.wants/postgresql.service ]] || pg_running; }; then
  systemctl disable --now -q postgresql
fi
