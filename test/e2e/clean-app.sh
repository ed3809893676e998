#!/usr/bin/env bash
# Removes every trace of app $1 from a sandbox host (units, files, site, firewall ports, web ports) (run by harness.ts cleanApp, as root).
# Its units are the ones that run from /srv/qdeploy/APP/ (and their timers): matching on the
# directory, not on a name glob, never touches "hello-api" when cleaning "hello".
set -euo pipefail
app=$1
root=/srv/qdeploy/$app
shopt -s nullglob
cd /etc/systemd/system
units=()
for f in $(grep -lF -- "$root/" ./*.service || true); do
  f=${f#./}
  units+=("$f")
  if [[ -e ${f%.service}.timer ]]; then units+=("${f%.service}.timer"); fi
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
rm -rf -- "$root" "/etc/caddy/qdeploy/$app.caddy" "/etc/qdeploy/firewall/$app.ports"
# Its web ports go back to the host's registry.
if [[ -f /srv/qdeploy/.ports ]]; then sed -i "/^$app /d" /srv/qdeploy/.ports; fi
if systemctl is-active -q caddy; then systemctl reload caddy; fi
