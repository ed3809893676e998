# qdeploy's fact finding: run as `bash -s -- APP` with this text on stdin, in one round trip
# before anything is planned. Works on a host qdeploy has never touched. One `key=value` a
# line. Builtins wherever they do: each process costs tens of milliseconds on a small VM.
set -u
app=$1
root=/srv/qdeploy/$app
say() { printf '%s\n' "$*"; }
# 1 or 0 for a test, without the fork of $(...).
flag() { if "$@" >/dev/null 2>&1; then say "$key=1"; else say "$key=0"; fi; }

say "arch=$(uname -m)"
# The login user, even when reached through `sudo -n` (every command is, for a login
# other than root), and whether root's commands are open to it: sudo=1 when this runs as
# root through sudo or `sudo -n true` works, 0 when not, empty for a root login.
if [ -n "${SUDO_USER:-}" ] && [ "$EUID" -eq 0 ]; then
  say "user=$SUDO_USER"
  say "sudo=1"
elif [ "$EUID" -eq 0 ]; then
  say "user=$(id -un)"
  say "sudo="
else
  say "user=$(id -un)"
  key=sudo flag sudo -n true
fi
key=systemd flag test -d /run/systemd/system
key=caddy flag command -v caddy
key=zstd flag command -v zstd
key=nft flag test -x /usr/sbin/nft
fw=/etc/qdeploy/firewall
dropin=/etc/systemd/system/caddy.service.d/qdeploy.conf
switch_sha="" caddyfile_sha="" caddy_dropin_sha="" firewall_apply_sha="" firewall_unit_sha=""
while read -r sum file; do
  case $file in
    "$root/switch") switch_sha=$sum ;;
    /etc/caddy/Caddyfile) caddyfile_sha=$sum ;;
    "$dropin") caddy_dropin_sha=$sum ;;
    "$fw/apply") firewall_apply_sha=$sum ;;
    /etc/systemd/system/qdeploy-firewall.service) firewall_unit_sha=$sum ;;
  esac
done < <(sha256sum "$root/switch" /etc/caddy/Caddyfile "$dropin" "$fw/apply" /etc/systemd/system/qdeploy-firewall.service 2>/dev/null)
say "switch_sha=$switch_sha"
say "caddyfile_sha=$caddyfile_sha"
say "caddy_dropin_sha=$caddy_dropin_sha"
say "firewall_sha=$firewall_apply_sha $firewall_unit_sha"
ports=""
[ -f "$fw/$app.ports" ] && read -r ports < "$fw/$app.ports"
say "firewall_ports=$ports"
live=""
[ -L "$root/current" ] && live=$(readlink "$root/current")
say "live=${live##*/}"
slot=""
[ -f "$root/live-slot" ] && read -r slot < "$root/live-slot"
say "live_slot=$slot"
holder=""
if [ -e "$root/lock" ] && ! flock -n "$root/lock" true 2>/dev/null; then
  holder=unknown
  [ -f "$root/lock.holder" ] && read -r holder < "$root/lock.holder"
fi
say "lock=$holder"
blobs=""
for f in "$root"/blobs/*; do
  [[ ${f##*/} =~ ^[0-9a-f]{64}$ ]] && blobs+="${f##*/} "
done
say "blobs=$blobs"
for dir in "$root"/releases/*/; do
  [ -d "$dir" ] || continue
  if [ -f "$dir/release.json" ]; then
    json=""
    IFS= read -r -d '' json < "$dir/release.json"
    activated=0
    [ -e "$dir/activated" ] && activated=1
    dir=${dir%/}
    # The directory's name too, so a release.json that does not parse can be named.
    say "release=$activated ${dir##*/} ${json//$'\n'/}"
  else
    dir=${dir%/}
    say "partial=${dir##*/}"
  fi
done
# The key of release.json's configDigest (root-only): the client keys the digest with it.
digest_key=""
[ -f "$root/digest.key" ] && read -r digest_key < "$root/digest.key"
say "digest_key=$digest_key"
