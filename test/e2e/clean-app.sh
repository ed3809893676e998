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
for app in "${apps[@]}"; do
  rm -rf -- "/srv/qdeploy/$app" "/etc/caddy/qdeploy/$app.caddy" "/etc/qdeploy/firewall/$app.ports"
  # Its web ports go back to the host's registry.
  if [[ -f /srv/qdeploy/.ports ]]; then sed -i "/^$app /d" /srv/qdeploy/.ports; fi
done
if systemctl is-active -q caddy; then systemctl reload caddy; fi
