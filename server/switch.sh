#!/bin/bash
# qdeploy's server side. Installed as /srv/qdeploy/APP/switch by setup; run by push,
# rollback and restart over SSH, and by APP-restart.service from its timer, so the
# zero-downtime switch has exactly one implementation. See docs/server-layout.md.
#
#   switch activate ID WHO [web]  health-gated blue/green switch to release ID
#   switch restart [PROC]         the same switch to the live release (or restart PROC)
#   switch status                 live release, unit states, health, next timer runs
#   switch exec CMD...            run CMD with the live release's environment, as the app user
set -euo pipefail
umask 022

# Builtins where they do: every process costs tens of milliseconds on a small VM.
root=${BASH_SOURCE[0]%/*}
app=${root##*/}
units_dir=/etc/systemd/system
site=/etc/caddy/qdeploy/$app.caddy

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Atomically point symlink $1 at $2 (rename: never a moment without the link).
relink() { ln -sfn "$2" "$1.tmp.$$" && mv -Tf "$1.tmp.$$" "$1"; }
# Atomically replace file $1 with stdin, or with $2 when given.
replace() {
  if (( $# > 1 )); then printf '%s\n' "$2" > "$1.tmp.$$"; else cat > "$1.tmp.$$"; fi
  mv -f "$1.tmp.$$" "$1"
}

live_release() { local t; t=$(readlink "$root/current" 2>/dev/null) && printf '%s\n' "${t##*/}" || true; }
live_slot() { local s=""; [ -f "$root/live-slot" ] && read -r s < "$root/live-slot"; printf '%s\n' "$s"; }

# 0 when GET http://127.0.0.1:$1$2 answers 2xx (bash's /dev/tcp: no curl on a bare server).
probe() {
  ( exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: qdeploy-health\r\n\r\n' "$2" >&3
    IFS=' ' read -r -t 5 _ status _ <&3 || exit 1
    [[ $status == 2?? ]] ) 2>/dev/null
}

# Waits for unit $1 on port $2 to answer $3 within $4 seconds; fails fast if it crashes.
wait_healthy() {
  local unit=$1 port=$2 path=$3 deadline=$((SECONDS + $4)) i=0 state
  while (( SECONDS < deadline )); do
    probe "$port" "$path" && return 0
    if (( i++ % 5 == 0 )); then
      state=$(systemctl show -P SubState "$unit")
      case $state in failed|auto-restart|dead|exited)
        say "$unit stopped ($state) before it answered $path" >&2; return 1 ;;
      esac
    fi
    sleep 0.1
  done
  say "$unit did not answer http://127.0.0.1:$port$path with 2xx within $4s" >&2
  return 1
}

# The journal of unit $1 since $2 (this attempt only, not the slot's earlier releases).
journal_tail() {
  say "last lines of $1:" >&2
  journalctl -u "$1" --since "$2" -n 12 --no-pager -o cat 2>/dev/null | sed 's/^/  | /' >&2 || true
}

# Installs release $1's unit files when they differ from the installed ones (UNITS_DIGEST,
# computed by the planner, saves a cmp per file); removes units a release no longer has.
install_units() {
  local rel=$1 f name manifest=$root/installed-units
  local installed=""
  [ -f "$manifest.digest" ] && read -r installed < "$manifest.digest"
  [ "$installed" = "$UNITS_DIGEST" ] && return 0
  for f in "$rel"/units/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    cmp -s "$f" "$units_dir/$name" || { cp "$f" "$units_dir/$name.tmp.$$" && mv -f "$units_dir/$name.tmp.$$" "$units_dir/$name"; }
  done
  if [ -f "$manifest" ]; then
    while read -r name; do
      if [ -z "$name" ] || [ -e "$rel/units/$name" ]; then continue; fi
      case $name in
        *@.service) systemctl disable --no-reload --now "${name%@.service}@*.service" >/dev/null 2>&1 || true ;;
        *) systemctl disable --no-reload --now "$name" >/dev/null 2>&1 || true ;;
      esac
      rm -f "$units_dir/$name"
    done < "$manifest"
  fi
  ls -1 "$rel/units" | replace "$manifest"
  systemctl daemon-reload
  replace "$manifest.digest" "$UNITS_DIGEST"
}

# Gives Caddy its whole config again through its admin API, which listens on a unix socket
# only root and caddy can reach (qdeploy's Caddyfile and caddy.service drop-in): `caddy
# reload` adapts the Caddyfile and POSTs it there (bash's /dev/tcp cannot speak to a unix
# socket, and curl is not on a bare server). Caddy provisions the new config before it
# switches and keeps the running one on any error: that is `caddy validate`'s check, done
# once. Falls back to systemctl when the socket is not there (Caddy not running).
caddy_load() {
  local out sock=/run/caddy/admin.sock
  if [ ! -S "$sock" ]; then systemctl reload caddy; return; fi
  if out=$(caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile --address "unix/$sock" 2>&1); then return 0; fi
  # Its info lines are noise; the error says which file and line Caddy refused.
  grep -v '^{"level":"info"' <<<"$out" >&2 || true
  return 1
}

# Installs release $1's site for Caddy when it differs from the live one (a first deploy,
# changed domains); the old file is put back if Caddy refuses it. A switch between slots
# needs no reload: both slots are upstreams, and Caddy routes to the first healthy one.
sync_site() {
  local rel=$1 old="" new
  [ -f "$site" ] && old=$(<"$site")
  new=$(<"$rel/site.caddy")
  [ "$old" = "$new" ] && return 0
  replace "$site" "$new"
  if ! caddy_load 2> >(sed 's/^/  | caddy: /' >&2); then
    if [ -n "$old" ]; then replace "$site" "$old"; else rm -f "$site"; fi
    caddy_load >/dev/null 2>&1 || true
    return 1
  fi
  say "caddy loaded the site of $rel"
}

# The other processes' instances (for release conf, sourced): "APP-PROC@N.service" words.
instances() {
  local spec i
  for spec in $PROCS; do
    for ((i = 1; i <= ${spec##*:}; i++)); do printf '%s ' "$app-${spec%%:*}@$i.service"; done
  done
}

# Stops instances of the other processes beyond their new scale (one systemctl to list).
stop_extra_instances() {
  local unit rest proc i spec extra=()
  [ -n "$PROCS" ] || return 0
  while read -r unit rest; do
    [[ $unit =~ ^$app-([a-z][a-z0-9_-]*)@([0-9]+)\.service$ ]] || continue
    proc=${BASH_REMATCH[1]} i=${BASH_REMATCH[2]}
    [ "$proc" = web ] && continue
    for spec in $PROCS; do [ "${spec%%:*}" = "$proc" ] && (( i <= ${spec##*:} )) && continue 2; done
    extra+=("$unit")
  done < <(systemctl list-units --all --plain --no-legend "$app-*@*.service")
  (( ${#extra[@]} == 0 )) || systemctl disable --no-reload --quiet --now "${extra[@]}" || true
}

# Reads a release's switch.conf; defaults cover keys that releases of older qdeploys lack.
load_conf() {
  # shellcheck source=/dev/null
  . "$1/switch.conf"
  : "${UNITS_DIGEST:=}" "${CADDY_SETTLE:=0.7}" "${TIMERS:=}" "${PROCS:=}"
}

audit() { TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T %s\n' -1 "$*" >> "$root/audit.log"; }

# The health-gated blue/green switch to release $1; $3 = "web" leaves the other processes alone.
activate() {
  local id=$1 who=$2 only=${3:-} rel=$root/releases/$1 old next="" unit started procs settle
  [ -f "$rel/switch.conf" ] || die "release $id is not on this host"
  load_conf "$rel"
  install_units "$rel"
  old=$(live_slot)
  if (( WEB )); then
    next=$PORT_A; [ "$old" = "$PORT_A" ] && next=$PORT_B
    unit=$app-web@$next.service
    relink "$root/slots/$next" "../releases/$id"
    say "starting $unit ($id)"
    started=$(printf '%(%Y-%m-%d %H:%M:%S)T' -1)
    # restart, not start: a leftover of an interrupted switch must not keep the old release.
    systemctl restart "$unit"
    if ! wait_healthy "$unit" "$next" "$HEALTH" "$HEALTH_TIMEOUT"; then
      journal_tail "$unit" "$started"
      systemctl stop "$unit" || true
      audit "refused $id by $who: health check failed"
      die "release $id failed its health check; the live release keeps serving"
    fi
    say "healthy: $unit answers $HEALTH"
    if ! sync_site "$rel"; then
      systemctl stop "$unit" || true
      audit "refused $id by $who: caddy did not accept the site"
      die "Caddy refused the site of release $id; the live release keeps serving"
    fi
    # Caddy's own health check must see the new slot up before the old one goes away;
    # the bookkeeping below runs meanwhile.
    sleep "$CADDY_SETTLE" & settle=$!
    replace "$root/live-slot" "$next"
  fi
  relink "$root/current" "releases/$id"
  : > "$rel/activated"
  procs=""; [ "$only" = web ] || procs=$(instances)
  # --no-reload: enabling only links units for the next boot; a daemon-reload costs seconds.
  if [ -n "${unit:-}$procs$TIMERS" ]; then systemctl enable --quiet --no-reload ${unit:+"$unit"} $procs $TIMERS; fi
  local draining=""
  if [ -n "$next" ] && [ -n "$old" ] && [ "$old" != "$next" ]; then
    systemctl disable --quiet --no-reload "$app-web@$old.service" 2>/dev/null || true
    wait "$settle"
    say "caddy routes to 127.0.0.1:$next; draining $app-web@$old.service"
    # In the background: the other processes move on while in-flight requests finish.
    systemctl stop "$app-web@$old.service" & draining=$!
  elif [ -n "$next" ]; then
    wait "$settle"
    say "caddy routes to 127.0.0.1:$next"
  fi
  if [ "$only" != web ]; then
    # Stop-then-start, all instances at once: instance numbers stay stable and a worker
    # never runs two releases side by side.
    [ -z "$procs" ] || systemctl restart $procs
    stop_extra_instances
    [ -z "$TIMERS" ] || systemctl start $TIMERS
  fi
  [ -z "$draining" ] || wait "$draining"
  audit "activated $id by $who${only:+ ($only only)}"
  say "live: $id"
}

# Zero-downtime restart of the live release: everything, or one process.
restart() {
  local proc=${1:-} id spec i
  id=$(live_release)
  [ -n "$id" ] || die "no live release to restart"
  load_conf "$root/releases/$id"
  case $proc in
    "") activate "$id" restart; return ;;
    web) (( WEB )) || die "release $id has no web process"; activate "$id" restart web; return ;;
  esac
  for spec in $PROCS; do
    [ "${spec%%:*}" = "$proc" ] || continue
    local units=()
    for ((i = 1; i <= ${spec##*:}; i++)); do units+=("$app-$proc@$i.service"); done
    systemctl restart "${units[@]}"
    audit "restarted $proc"
    return
  done
  die "no process \"$proc\" in release $id"
}

status() {
  local id t
  id=$(live_release)
  say "live=$id"
  say "slot=$(live_slot)"
  systemctl list-units --all --plain --no-legend "$app-*" | awk '{print "unit=" $1 " " $3 " " $4}'
  [ -n "$id" ] || return 0
  load_conf "$root/releases/$id"
  if (( WEB )); then
    if probe "$(live_slot)" "$HEALTH"; then say "health=ok"; else say "health=failing"; fi
  fi
  for t in $TIMERS; do say "timer=$t $(systemctl show -P NextElapseUSecRealtime "$t")"; done
}

run_exec() {
  local id
  id=$(live_release)
  [ -n "$id" ] || die "no live release"
  exec systemd-run --quiet --pipe --wait --collect --service-type=exec \
    -p DynamicUser=yes -p "User=$app" -p "StateDirectory=$app" \
    -p "EnvironmentFile=$root/releases/$id/env" -p "WorkingDirectory=/var/lib/$app" \
    --setenv="PATH=$root/releases/$id/bin:/usr/local/bin:/usr/bin:/bin" -- "$@"
}

cmd=${1:-}; shift || true
case $cmd in
  activate) activate "$1" "${2:-unknown}" "${3:-}" ;;
  # The timer's restart waits for a push in progress (lock.sh holds the same lock).
  restart) exec 9>>"$root/lock"; flock -w 600 9 || die "the deploy lock stayed busy for 600s"; restart "${1:-}" ;;
  status) status ;;
  exec) run_exec "$@" ;;
  *) die "usage: switch activate|restart|status|exec" ;;
esac
