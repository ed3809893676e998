# qdeploy's fact finding: run as `bash -s -- APP [claim]` with this text on stdin, in one
# round trip before anything is planned. Works on a host qdeploy has never touched. One
# `key=value` a line. Builtins wherever they do: each process costs tens of milliseconds on
# a small VM. With "claim" (push, under the app's deploy lock: lock.sh) a new app is given
# its web ports.
set -u
app=$1 claim=${2:-}
# @layout
say() { printf '%s\n' "$*"; }
# 1 or 0 for a test, without the fork of $(...).
flag() { if "$@" >/dev/null 2>&1; then say "$key=1"; else say "$key=0"; fi; }

# bash's own machine type is uname -m's (x86_64, aarch64) without a process.
say "arch=${HOSTTYPE:-$(uname -m)}"
# The name of uid $1 from /etc/passwd (builtins), else id's answer (a user from LDAP).
user_name() {
  local name uid
  while IFS=: read -r name _ uid _; do [ "$uid" = "$1" ] && { say "$name"; return; }; done < /etc/passwd
  id -un
}
# The login user, even when reached through `sudo -n` (every command is, for a login
# other than root), and whether root's commands are open to it: sudo=1 when this runs as
# root through sudo or `sudo -n true` works, 0 when not, empty for a root login.
if [ -n "${SUDO_USER:-}" ] && [ "$EUID" -eq 0 ]; then
  say "user=$SUDO_USER"
  say "sudo=1"
elif [ "$EUID" -eq 0 ]; then
  say "user=$(user_name 0)"
  say "sudo="
else
  say "user=$(user_name "$EUID")"
  key=sudo flag sudo -n true
fi
key=systemd flag test -d /run/systemd/system
key=caddy flag command -v caddy
key=zstd flag command -v zstd
key=nft flag test -x /usr/sbin/nft
# [logs] drain: rsyslogd with its TLS driver (Debian's rsyslog and rsyslog-gnutls).
rsyslog_tls() { test -x /usr/sbin/rsyslogd && compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' > /dev/null; }
key=rsyslog flag rsyslog_tls
fw=$firewall_dir
dropin=$caddy_dropin
switch_sha="" caddyfile_sha="" caddy_dropin_sha="" firewall_apply_sha="" firewall_unit_sha="" logdrain_conf_sha="" logdrain_unit_sha=""
while read -r sum file; do
  case $file in
    "$switch_file") switch_sha=$sum ;;
    "$caddyfile") caddyfile_sha=$sum ;;
    "$dropin") caddy_dropin_sha=$sum ;;
    "$fw/apply") firewall_apply_sha=$sum ;;
    "$units_dir/qdeploy-firewall.service") firewall_unit_sha=$sum ;;
    "$logdrain_conf") logdrain_conf_sha=$sum ;;
    "$logdrain_unit") logdrain_unit_sha=$sum ;;
  esac
done < <(sha256sum "$switch_file" "$caddyfile" "$dropin" "$fw/apply" "$units_dir/qdeploy-firewall.service" "$logdrain_conf" "$logdrain_unit" 2>/dev/null)
say "switch_sha=$switch_sha"
say "caddyfile_sha=$caddyfile_sha"
say "caddy_dropin_sha=$caddy_dropin_sha"
say "firewall_sha=$firewall_apply_sha $firewall_unit_sha"
say "logdrain_sha=$logdrain_conf_sha $logdrain_unit_sha"
# Add-ons (server/addon.sh): the installed script's and backup units' sha256, and the add-ons
# this host keeps credentials for (the folder is root's: a sudo login reads it as root).
# One sha256sum for all of them, and none for an app without add-ons (a fork costs the most).
addon_files=""
if [ -f "$addon_file" ]; then
  while read -r sum f; do
    addon_files+="${f##*/}:$sum "
  done < <(sha256sum "$addon_file" "$units_dir/$app"-addon-*-backup.{service,timer} 2>/dev/null)
fi
say "addon_files=$addon_files"
addons=""
for f in "$addons_dir"/*.env; do
  [ -f "$f" ] && { f=${f##*/}; addons+="${f%.env} "; }
done
say "addons=$addons"
ports=""
[ -f "$fw/$app.ports" ] && read -r ports < "$fw/$app.ports"
say "firewall_ports=$ports"
# current's target by cd -P (a builtin; readlink is a process). Nothing here is relative.
live=""
[ -L "$current_link" ] && cd -P "$current_link" 2>/dev/null && live=$PWD && cd /
say "live=${live##*/}"
slot=""
[ -f "$live_slot_file" ] && read -r slot < "$live_slot_file"
say "live_slot=$slot"

# The app's two web ports (blue/green) from the host-wide registry, one "APP PORT PORT" a
# line, claimed under its flock so two apps never get the same pair. An app keeps the pair
# it has; one deployed before the registry keeps its live release's.
registry=$ports_registry
ports_of() {
  local a p q
  [ -f "$registry" ] || return 0
  while read -r a p q; do [ "$a" = "$1" ] && { printf '%s %s\n' "$p" "$q"; return 0; }; done < "$registry"
}
claim_ports() {
  local pair taken registered p a q PORT_A="" PORT_B=""
  # An app keeps its pair: when it has one, no lock is needed to read it (the registry is
  # replaced by rename, never written in place).
  pair=$(ports_of "$app")
  [ -z "$pair" ] || { printf '%s\n' "$pair"; return 0; }
  [ -d "$apps_dir" ] || mkdir -p "$apps_dir"
  exec 7>>"$registry.lock"
  flock -w 30 7 || { echo "the port registry's lock ($registry.lock) stayed busy" >&2; return 1; }
  pair=$(ports_of "$app")
  if [ -z "$pair" ]; then
    # Taken: every registered port, and every port something listens on now.
    registered=" "
    [ -f "$registry" ] && while read -r a p q; do registered+="$p $q "; done < "$registry"
    taken="$registered$(ss -Hltn 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
    if [ -n "$live" ] && [ -f "$releases_dir/${live##*/}/switch.conf" ]; then
      # Deployed before the registry: keep the pair its live slot listens on, unless
      # another app has registered it since.
      eval "$(grep -E '^PORT_[AB]=[0-9]+$' "$releases_dir/${live##*/}/switch.conf")"
      [ -z "$PORT_A" ] || [[ $registered == *" $PORT_A "* || $registered == *" $PORT_B "* ]] || pair="$PORT_A $PORT_B"
    fi
    for ((p = 8001; p < 8800 && ${#pair} == 0; p += 2)); do
      [[ $taken == *" $p "* || $taken == *" $((p + 1)) "* ]] || pair="$p $((p + 1))"
    done
    [ -n "$pair" ] || { echo "no free pair of web ports in 8001-8800" >&2; return 1; }
    { [ -f "$registry" ] && cat "$registry"; printf '%s %s\n' "$app" "$pair"; } > "$registry.tmp.$$" && mv -f "$registry.tmp.$$" "$registry"
  fi
  exec 7>&-
  printf '%s\n' "$pair"
}
if [ "$claim" = claim ]; then say "ports=$(claim_ports)"; else say "ports=$(ports_of "$app")"; fi

# The releases that went live, oldest first (the audit trail; repeats of one release in a
# row, restarts, count once): rollback goes to the one before the live one. A switch back
# after a refused wave ("reverted R3 to R2") is "-R3 R2": the client drops R3 (parseHistory).
history="" last=""
if [ -f "$audit_file" ]; then
  while read -r _ verb id _ back _; do
    case $verb in
      activated) [ "$id" != "$last" ] && { history+="$id "; last=$id; } ;;
      reverted) history+="-$id $back "; last=$back ;;
    esac
  done < <(tail -n 1000 "$audit_file")
fi
say "history=$history"
holder=""
# Under lock.sh's hold (holding=1) the holder is this push: its record says so, no flock
# needed to find out.
if [ -n "${holding:-}" ]; then
  [ -f "$holder_file" ] && read -r holder < "$holder_file"
elif [ -e "$lock_file" ] && ! flock -n "$lock_file" true 2>/dev/null; then
  holder=unknown
  [ -f "$holder_file" ] && read -r holder < "$holder_file"
fi
say "lock=$holder"
blobs=""
for f in "$blobs_dir"/*; do
  [[ ${f##*/} =~ ^[0-9a-f]{64}(\.r)?$ ]] && blobs+="${f##*/} "
done
say "blobs=$blobs"
for dir in "$releases_dir"/*/; do
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
[ -f "$digest_key_file" ] && read -r digest_key < "$digest_key_file"
say "digest_key=$digest_key"
