# Puts the server's Caddy site in place only if Caddy takes the whole config with it: run as
# `bash -c SCRIPT serve-site` (root) once SITE.new is written. The sites folder is copied with
# the new file in the old one's place and `caddy validate`d under a temp Caddyfile; only then
# is the file renamed and Caddy reloaded through its admin socket (as the switch does).
set -euo pipefail
site=/etc/caddy/qdeploy/qdeploy-serve.caddy sock=/run/caddy/admin.sock
d=$(mktemp -d)
trap 'rm -rf -- "$d" "$site.new"' EXIT
shopt -s nullglob
for f in /etc/caddy/qdeploy/*.caddy; do [ "$f" = "$site" ] || cp -- "$f" "$d/"; done
cp -- "$site.new" "$d/qdeploy-serve.caddy"
sed "s#^import /etc/caddy/qdeploy/\*\.caddy\$#import $d/*.caddy#" /etc/caddy/Caddyfile > "$d/Caddyfile"
# Validating provisions the TLS apps: their storage goes to the temp dir, not root's home.
if ! out=$(cd "$d" && HOME=$d XDG_DATA_HOME=$d/data XDG_CONFIG_HOME=$d/config caddy validate --config "$d/Caddyfile" --adapter caddyfile 2>&1); then
  printf '%s\n' "$out" | grep -v '"level":"info"' | sed "s#$d/#/etc/caddy/qdeploy/#" >&2
  echo "Caddy refused the server's site; the running config is unchanged" >&2
  exit 1
fi
mv -f -- "$site.new" "$site"
if [ -S "$sock" ]; then
  caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile --address "unix/$sock" >/dev/null 2>&1 || { echo "caddy reload failed" >&2; exit 1; }
else
  systemctl reload-or-restart caddy
fi
echo "caddy serves the site"
