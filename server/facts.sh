# qdeploy's fact finding: run as `bash -s -- APP` with this text on stdin, in one round trip
# before anything is planned. Works on a host qdeploy has never touched. One `key=value` a line.
set -u
app=$1
root=/srv/qdeploy/$app
say() { printf '%s\n' "$*"; }
has() { command -v "$1" >/dev/null 2>&1 && echo 1 || echo 0; }
sha() { sha256sum "$1" 2>/dev/null | cut -c1-64; }

say "arch=$(uname -m)"
say "user=$(id -un)"
say "systemd=$([ -d /run/systemd/system ] && echo 1 || echo 0)"
say "caddy=$(has caddy)"
say "zstd=$(has zstd)"
say "switch_sha=$(sha "$root/switch")"
say "caddyfile_sha=$(sha /etc/caddy/Caddyfile)"
say "live=$([ -L "$root/current" ] && basename "$(readlink "$root/current")")"
say "live_slot=$(cat "$root/live-slot" 2>/dev/null)"
if [ -e "$root/lock" ] && ! flock -n "$root/lock" true 2>/dev/null; then
  say "lock=$(cat "$root/lock.holder" 2>/dev/null || echo unknown)"
else
  say "lock="
fi
say "blobs=$(ls -1 "$root/blobs" 2>/dev/null | grep -E '^[0-9a-f]{64}$' | tr '\n' ' ')"
for dir in "$root"/releases/*/; do
  [ -d "$dir" ] || continue
  if [ -f "$dir/release.json" ]; then
    say "release=$([ -e "$dir/activated" ] && echo 1 || echo 0) $(tr -d '\n' < "$dir/release.json")"
  else
    say "partial=$(basename "$dir")"
  fi
done
