# `qdeploy serve --install`'s fact finding on the host that runs the server: run as
# `bash -s` (root), one `key=value` a line, read-only. What is there already decides what
# the install does, so a second run changes only what changed.
set -u
home=/var/lib/qdeploy-serve exe=/usr/local/lib/qdeploy-serve/qdeploy repo=/var/lib/qdeploy-serve/repo
say() { printf '%s\n' "$*"; }
flag() { if "$@" >/dev/null 2>&1; then say "$key=1"; else say "$key=0"; fi; }
sha() { if [ -f "$1" ]; then sha256sum < "$1" | cut -d' ' -f1; fi; }
say "arch=$(uname -m)"
key=user flag id -u qdeploy-serve
key=git flag command -v git
key=zstd flag command -v zstd
key=age_keygen flag command -v age-keygen
key=caddy flag command -v caddy
# qdeploy's Caddyfile imports the sites folder (qdeploy setup writes it).
key=caddyfile flag grep -qxF 'import /etc/caddy/qdeploy/*.caddy' /etc/caddy/Caddyfile
# Pushes from the server build with Go: on PATH or in Go's own place.
go=$(command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; } || true)
say "go=$go"
say "exe_sha=$(sha "$exe")"
say "unit_sha=$(sha /etc/systemd/system/qdeploy-serve.service)"
say "site_sha=$(sha /etc/caddy/qdeploy/qdeploy-serve.caddy)"
# The build sandbox: the socket and the unit its connections start.
say "build_socket_sha=$(sha /etc/systemd/system/qdeploy-build.socket)"
say "build_service_sha=$(sha /etc/systemd/system/qdeploy-build@.service)"
key=build_active flag systemctl is-active --quiet qdeploy-build.socket
say "known_hosts_sha=$(sha "$home/.ssh/known_hosts")"
head="" origin=""
if [ -d "$repo/.git" ]; then
  head=$(runuser -u qdeploy-serve -- git -C "$repo" rev-parse -q --verify HEAD 2>/dev/null || true)
  origin=$(runuser -u qdeploy-serve -- git -C "$repo" remote get-url origin 2>/dev/null || true)
  say "repo=1"
else
  say "repo=0"
fi
say "head=$head"
say "origin=$origin"
say "ssh_pub=$(cat "$home/.ssh/id_ed25519.pub" 2>/dev/null || true)"
say "age_recipient=$(grep -o 'age1[0-9a-z]*' "$home/.config/qdeploy/age-identity.txt" 2>/dev/null | head -n1 || true)"
key=tokens flag grep -q '"hash"' "$home/tokens.json"
key=active flag systemctl is-active --quiet qdeploy-serve.service
