#!/bin/bash
# qdeploy's server side. Installed as /srv/qdeploy/APP/switch by setup; run by push,
# rollback and restart over SSH, and by APP-restart.service from its timer, so the
# zero-downtime switch has exactly one implementation. See docs/server-layout.md.
#
#   switch activate ID WHO [ONLY [UNDOING]]
#                                 health-gated blue/green switch to release ID; ONLY "web"
#                                 leaves the other processes alone ("" for all); UNDOING: the
#                                 live release a refused wave switches back from (audit:
#                                 "reverted UNDOING to ID", so it is nobody's previous release)
#   switch stage ID WHO           a fleet's first half of activate: ID's web slot started on the
#                                 idle port and healthy, out of traffic (activate then cuts over)
#   switch unstage ID             undo a stage the rollout stopped before this host's wave
#   switch restart [PROC [WHO]]   the same switch to the live release (or restart PROC)
#   switch flip WHO [ID]          rollback to the warm standby (ID: only if the standby runs it),
#                                 or exit 3 having changed nothing (no standby, or it does not serve)
#   switch end-standby            stop the warm standby now (sample ends it when its window is up)
#   switch watchdog               web.watchdog (its timer, every 10 s): restart the live web slot
#                                 once it has not answered its health path for WATCHDOG seconds
#   switch sample                 (its timer, every minute) the running services' memory and CPU
#                                 time into usage_file, which keeps the last hour; and the end
#                                 of the warm standby once its window is up
#   switch status                 live release, unit states, health, next timer runs
#   switch exec CMD...            run CMD with the live release's environment, as the app user
#                                 (on a PTY of its own when run on a terminal: exec -it)
#   switch unpack PACK            move a pack's slug blobs into blobs/, each checked by its sha256
#   switch link ID < TREE         make releases/ID, its bin/ and app/ from TREE (base64 of a tar.gz: hard links to blobs)
#   switch destroy WHO            remove the app from this host: its units, site, web ports, add-ons
#                                 here (no final backup), state and folder (a preview's end)
set -euo pipefail
umask 022
# When this run began, in ms: a flip to the standby says how long it took.
started_ms=$(( ${EPOCHREALTIME/./} / 1000 ))

# Builtins where they do: every process costs tens of milliseconds on a small VM. Debian's
# bash-builtins (setup installs it with Caddy) makes rm one: a flip to slot A is the rm of
# route/b (below). Without it, /bin/rm.
[ ! -e /usr/lib/bash/rm ] || enable -f /usr/lib/bash/rm rm 2>/dev/null || :
# The app is the folder the switch is installed in. Every path and unit name below is a
# variable src/server-layout.ts sets (layoutShell, here when the switch is installed).
# standby_file holds "PORT RELEASE UNTIL" (epoch seconds): the web slot of the release
# before the live one, kept running after a switch for web.standby so a rollback needs to
# start nothing.
app=${BASH_SOURCE[0]%/*}
app=${app##*/}
# @layout

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Atomically point symlink $1 at $2: GNU ln -f makes the link under a temporary name and
# renames it over the old one (never a moment without the link), in one process.
relink() { ln -sfn "$2" "$1"; }
# Atomically replace file $1 with stdin, or with $2 when given. SYNC=1: its bytes reach the
# disk before its name does (sync FILE: fsync), for a file read at boot.
replace() {
  if (( $# > 1 )); then printf '%s\n' "$2" > "$1.tmp.$$"; else cat > "$1.tmp.$$"; fi
  [ -z "${SYNC:-}" ] || sync "$1.tmp.$$"
  mv -f "$1.tmp.$$" "$1"
}

# The *_to helpers set the variable named by $1 instead of printing: a $(...) is a fork, tens
# of ms on a small VM, and a rollback's flip waits for each one.
# current's target: cd -P there and back (builtins, where readlink is a process).
live_release_to() {
  local _back=$PWD _rel=""
  if cd -P "$current_link" 2>/dev/null; then _rel=${PWD##*/}; cd "$_back" 2>/dev/null || cd /; fi
  printf -v "$1" '%s' "$_rel"
}
live_slot_to() { local _slot=""; [ -f "$live_slot_file" ] && read -r _slot < "$live_slot_file"; printf -v "$1" '%s' "$_slot"; }
live_release() { local r; live_release_to r; printf '%s\n' "$r"; }
live_slot() { local s; live_slot_to s; printf '%s\n' "$s"; }

# Sets $1 to the status GET http://127.0.0.1:$2$3 answers with (bash's /dev/tcp: no curl
# on a bare server): "" when nothing listens, "none" when the connection got no status line
# within PROBE_TIMEOUT seconds. On a descriptor of its own closed before it returns. SIGPIPE
# is ignored from then on (as log_to_file does): a slot that closes the connection at once
# fails the probe, not the switch.
PROBE_TIMEOUT=5
probe_to() {
  local _fd _status=""
  trap '' PIPE
  if { exec {_fd}<>"/dev/tcp/127.0.0.1/$2"; } 2>/dev/null; then
    _status=none
    if printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: qdeploy-health\r\n\r\n' "$3" >&"$_fd" 2>/dev/null; then
      IFS=' ' read -r -t "$PROBE_TIMEOUT" _ _status _ <&"$_fd" 2>/dev/null && [ -n "$_status" ] || _status=none
    fi
    exec {_fd}>&-
  fi
  printf -v "$1" '%s' "$_status"
}

# 0 when GET http://127.0.0.1:$1$2 answers 2xx.
probe() { local status; probe_to status "$1" "$2"; [[ $status == 2?? ]]; }

# The journal of unit $1 since $2 (this attempt only, not the slot's earlier releases): its
# last lines (journalctl's -n with --since gives the first ones on systemd 252).
journal_tail() {
  say "last lines of $1:" >&2
  journalctl -u "$1" --since "$2" --no-pager -o cat 2>/dev/null | tail -n 12 | sed 's/^/  | /' >&2 || true
}

# Unit names are host-wide: each app's installed-units lists what its releases installed,
# and a name another app already claims is refused (app "foo" with process "bar-worker" and
# app "foo-bar" with process "worker" would both be foo-bar-worker@.service). The host lock
# (claims_lock) keeps two apps' first installs from claiming a name at once.
manifest=$installed_units_file

# The names of release $1's unit files, one a line.
release_units() { local f; for f in "$1"/units/*; do [ -e "$f" ] && printf '%s\n' "${f##*/}"; done; return 0; }

# Fails naming the app when another app's manifest lists one of release $1's unit names.
refuse_claimed() {
  local rel=$1 m other name
  for m in "$apps_dir"/*/"${manifest##*/}"; do
    [ -f "$m" ] && [ "$m" != "$manifest" ] || continue
    other=${m%/*}; other=${other##*/}
    while read -r name; do
      [ -n "$name" ] && [ -e "$rel/units/$name" ] || continue
      die "unit $name of $app is already installed by app $other; rename a process or job (unit names are APP-PROCESS@, APP-job-NAME)"
    done < "$m"
  done
}

# The running instances of template $1 (APP-PROC@.service), one a line; 1 (nothing printed)
# without systemd's unified cgroup hierarchy. There, each running unit has a folder under its
# template's slice: a glob, no process, where `systemctl list-units` costs ~0.15 s on a small VM.
running_instances() {
  local cg=${cgroup_dir:-/sys/fs/cgroup} name=${1%@.service} d slice
  [ -e "$cg/cgroup.controllers" ] || cg=$cg/unified
  [ -e "$cg/cgroup.controllers" ] && [ -d "$cg/system.slice" ] || return 1
  slice_to slice "$cg" "$name"
  for d in "$slice/$name@"*.service; do
    [ -d "$d" ] && printf '%s\n' "${d##*/}"
  done
  return 0
}

# Sets variable $1 to the cgroup folder, under hierarchy $2, of the slice systemd puts template
# $3's instances in (APP-PROC, without @.service). systemd escapes a dash in a slice's name:
# hello-web@ runs in system-hello\x2dweb.slice.
slice_to() { printf -v "$1" '%s/system.slice/system-%s.slice' "$2" "${3//-/'\x2d'}"; }

# Every instance of template $1 (APP-PROC@.service) that runs or is enabled, once each, one a
# line (builtins for the rest: each process costs tens of milliseconds on a small VM); without
# the unified hierarchy, those systemd has loaded.
instances_of() {
  local prefix=${1%@.service}@ link u seen=" "
  while read -r u _; do
    [[ $seen == *" $u "* ]] || { seen+="$u "; printf '%s\n' "$u"; }
  done < <(running_instances "$1" || systemctl list-units --all --plain --no-legend "$prefix*.service"
           for link in "$units_dir"/*.wants/"$prefix"*.service; do [ -e "$link" ] || [ -L "$link" ] && printf '%s\n' "${link##*/}"; done)
  return 0
}

# Installs release $1's unit files that differ from the installed ones (UNITS_DIGEST,
# computed by the planner, saves a cmp per file) and adds them to the manifest. Removes
# nothing: units the release lacks go only once it is live (remove_stale_units), so a
# refused release never stops the live one's processes or timers.
install_units() {
  local rel=$1 name installed="" names
  [ -f "$manifest.digest" ] && read -r installed < "$manifest.digest"
  [ "$installed" = "$UNITS_DIGEST" ] && return 0
  exec 7>>"$claims_lock"
  flock -w 60 7 || die "the host's unit-name lock ($claims_lock) stayed busy for 60s"
  refuse_claimed "$rel"
  names=$(release_units "$rel")
  # The manifest first: a name is claimed before its file exists.
  { [ -f "$manifest" ] && cat "$manifest"; printf '%s\n' "$names"; } | sort -u | grep -v '^$' | replace "$manifest" || true
  exec 7>&-
  while read -r name; do
    [ -n "$name" ] || continue
    cmp -s "$rel/units/$name" "$units_dir/$name" || { cp "$rel/units/$name" "$units_dir/$name.tmp.$$" && mv -f "$units_dir/$name.tmp.$$" "$units_dir/$name"; }
  done <<< "$names"
  systemctl daemon-reload
  replace "$manifest.digest" "$UNITS_DIGEST"
}

# Disables, stops and removes the app's units that release $1 does not have (by exact
# name: `systemctl disable` takes no glob), and leaves the manifest listing release $1's.
remove_stale_units() {
  local rel=$1 name names stale=() files=()
  [ -f "$manifest" ] || return 0
  names=$(release_units "$rel")
  while read -r name; do
    [ -n "$name" ] || continue
    [[ $'\n'$names$'\n' == *$'\n'"$name"$'\n'* ]] && continue
    files+=("$units_dir/$name")
    case $name in
      *@.service) while read -r u; do [ -n "$u" ] && stale+=("$u"); done < <(instances_of "$name") ;;
      *) stale+=("$name") ;;
    esac
  done < "$manifest"
  (( ${#files[@]} )) || return 0
  (( ${#stale[@]} == 0 )) || systemctl disable --no-reload --quiet --now "${stale[@]}" 2>/dev/null || true
  rm -f "${files[@]}"
  printf '%s\n' "$names" | grep -v '^$' | replace "$manifest" || true
  systemctl daemon-reload
  say "removed units: ${files[*]##*/}"
}

# After a refused release: the live release $1's unit files back in place (a reboot must run
# the live release's command lines), and the refused release's new units gone.
restore_units() {
  local prev=$1
  if [ -z "$prev" ] || [ ! -f "$releases_dir/$prev/switch.conf" ]; then
    # A refused first release: nothing of it may start at boot.
    ( UNITS_DIGEST=""; remove_stale_units /nonexistent; rm -f "$manifest.digest" ) || true
    return 0
  fi
  ( load_conf "$releases_dir/$prev"; install_units "$releases_dir/$prev"; remove_stale_units "$releases_dir/$prev" ) ||
    say "could not restore the units of $prev" >&2
}

# Gives Caddy its whole config again through its admin API, which listens on a unix socket
# only root and caddy can reach (qdeploy's Caddyfile and caddy.service drop-in): `caddy
# reload` adapts the Caddyfile and POSTs it there (bash's /dev/tcp cannot speak to a unix
# socket, and curl is not on a bare server). Caddy provisions the new config before it
# switches and keeps the running one on any error: that is `caddy validate`'s check, done
# once. Falls back to systemctl when the socket is not there (Caddy not running).
caddy_load() {
  local out sock=$caddy_admin
  if [ ! -S "$sock" ]; then systemctl reload caddy; return; fi
  if out=$(caddy reload --config "$caddyfile" --adapter caddyfile --address "unix/$sock" 2>&1); then return 0; fi
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
  # Caddy reads the site files at boot: an empty one after a power loss would stop it for
  # every app on the host.
  SYNC=1 replace "$site" "$new"
  if ! caddy_load 2> >(sed 's/^/  | caddy: /' >&2); then
    if [ -n "$old" ]; then SYNC=1 replace "$site" "$old"; else rm -f "$site"; fi
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

# Stops instances of the other processes beyond their new scale. Only the release's own
# templates (APP-PROC@), whose names no other app can hold (refuse_claimed).
stop_extra_instances() {
  local spec u extra=()
  for spec in $PROCS; do
    while read -r u; do
      [[ $u =~ @([0-9]+)\.service$ ]] && (( BASH_REMATCH[1] > ${spec##*:} )) && extra+=("$u")
    done < <(instances_of "$app-${spec%%:*}@.service")
  done
  (( ${#extra[@]} == 0 )) || systemctl disable --no-reload --quiet --now "${extra[@]}" || true
}

# Sets variable $1 to the value of $3 in release folder $2's switch.conf (a plain word, as
# UNITS_DIGEST is), or to "" (no such release), with builtins: not sourced, not in a $(...).
conf_value_to() {
  local _k _v
  printf -v "$1" %s ""
  { while IFS== read -r _k _v; do [ "$_k" = "$3" ] && { printf -v "$1" %s "$_v"; return 0; }; done < "$2/switch.conf"; } 2>/dev/null || :
}

# Reads a release's switch.conf; defaults cover keys that releases of older qdeploys lack.
load_conf() {
  # shellcheck source=/dev/null
  . "$1/switch.conf"
  : "${UNITS_DIGEST:=}" "${CADDY_SETTLE:=0.7}" "${TIMERS:=}" "${PROCS:=}" "${STANDBY:=0}" "${WATCHDOG:=0}"
}

audit() { TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T %s\n' -1 "$*" >> "$audit_file"; }

# The pids listening on TCP port $1 (any address), one a line.
listeners() {
  local line seen=" "
  while read -r line; do
    while [[ $line =~ pid=([0-9]+)(.*) ]]; do
      line=${BASH_REMATCH[2]}
      [[ $seen == *" ${BASH_REMATCH[1]} "* ]] || { seen+="${BASH_REMATCH[1]} "; printf '%s\n' "${BASH_REMATCH[1]}"; }
    done
  done < <(ss -Hltnp "sport = :$1" 2>/dev/null)
}

# 0 when unit $1's processes hold every socket listening on TCP port $2, and there is one,
# with builtins (ss is a process, ~0.1 s on a small VM): the listening sockets' inodes from
# /proc/net/tcp and tcp6, the unit's processes from its cgroup (the unified hierarchy), their
# sockets' inodes from /proc/PID/fdinfo (Linux 5.14 and later). Not 0 when it cannot tell
# that: check_listener then asks ss, and says who else holds the port.
unit_holds_listeners() {
  local unit=$1 hex re table text listening="" held=" " cg=${cgroup_dir:-/sys/fs/cgroup} slice procs pid f key value n=0 ino
  printf -v hex '%04X' "$2"
  # A listening line: local address :PORT, remote HEX:0000, state 0A, then tx:rx, tr:when,
  # retransmits, uid, timeout, inode.
  re=":$hex [0-9A-F]+:0000 0A [0-9A-F]+:[0-9A-F]+ [0-9A-F]+:[0-9A-F]+ [0-9A-F]+ +[0-9]+ +[0-9]+ ([0-9]+) "
  for table in /proc/net/tcp /proc/net/tcp6; do
    text=""
    { IFS= read -r -d '' text < "$table"; } 2>/dev/null || :
    # A busy host's table (thousands of connections): ss reads it quicker than bash.
    (( ${#text} <= 65536 )) || return 1
    while [[ $text =~ $re ]]; do
      listening+="${BASH_REMATCH[1]} "
      # ${text/.../}, not ${text#*...}: bash takes the square of the length for the second.
      text=${text/"${BASH_REMATCH[0]}"/}
    done
  done
  slice_to slice "$cg" "${unit%%@*}"
  procs=$slice/$unit/cgroup.procs
  [ -n "$listening" ] && [ -e "$cg/cgroup.controllers" ] && [ -r "$procs" ] || return 1
  while read -r pid; do
    for f in "/proc/$pid/fdinfo/"*; do
      # An app with many open files: ss is quicker than reading each one.
      (( ++n <= 256 )) || return 1
      { while read -r key value; do [ "$key" = ino: ] && { held+="$value "; break; }; done < "$f"; } 2>/dev/null || :
    done
  done < "$procs"
  for ino in $listening; do [[ $held == *" $ino "* ]] || return 1; done
}

# Fails unless every listener on port $2 is a process of unit $1 (its cgroup): a port
# another program holds would answer the health check for a release that is not running.
# $3 = "before": the unit is not started yet, so no listener at all is the good case.
check_listener() {
  local unit=$1 port=$2 when=$3 pid pids cg comm line
  if [ "$when" = before ] && ! port_listened "$port"; then return 0; fi
  if [ "$when" = after ] && unit_holds_listeners "$unit" "$port"; then return 0; fi
  command -v ss >/dev/null || { say "ss (iproute2) is missing: the switch needs it to check who listens on port $port" >&2; return 1; }
  pids=$(listeners "$port")
  for pid in $pids; do
    # The last line is the unified hierarchy's (0::/...), also on a hybrid cgroup setup.
    cg=""
    { while read -r line; do cg=$line; done < "/proc/$pid/cgroup"; } 2>/dev/null
    [ -n "$cg" ] || continue
    [[ $cg == *"/$unit" ]] && continue
    { read -r comm < "/proc/$pid/comm"; } 2>/dev/null || comm=?
    say "port $port ($app's web slot) is held by pid $pid ($comm, ${cg##*::}), not by $unit; stop it or free the port (the host's port registry: $ports_registry)" >&2
    return 1
  done
  [ "$when" = before ] || [ -n "$pids" ]
}

# 0 when something listens on TCP port $1 (any address): /proc/net/tcp and tcp6 (hex port,
# state 0A), read without ss, a process (~0.1 s on a small VM). Before a slot starts the port
# is free: check_listener then has nothing to ask ss about.
port_listened() {
  local hex tcp tcp6
  printf -v hex '%04X' "$1"
  { tcp=$(< /proc/net/tcp); tcp6=$(< /proc/net/tcp6); } 2>/dev/null || return 0
  [[ $tcp == *":$hex 00000000:0000 0A "* || $tcp6 == *":$hex 00000000000000000000000000000000:0000 0A "* ]]
}

# Sleeps $1 seconds without a process (a `sleep` costs ~40 ms more on a small VM): read's
# timeout on a pipe that nobody writes to, opened once.
nap() {
  [ -n "${nap_fd:-}" ] || exec {nap_fd}<> <(:)
  read -rt "$1" -u "$nap_fd" _ || :
}

# Waits for unit $1 on port $2 to answer $3 within $4 seconds; fails fast if it crashes.
wait_healthy() {
  local unit=$1 port=$2 path=$3 deadline=$((SECONDS + $4)) i=0 state answer=""
  while (( SECONDS < deadline )); do
    probe_to answer "$port" "$path"
    if [[ $answer == 2?? ]]; then
      # One look at who answered: the unit's own process, not something else on the port.
      check_listener "$unit" "$port" after && return 0
      return 1
    fi
    # Every half second (a systemctl is a process): most apps answer before the first look.
    if (( ++i % 20 == 0 )); then
      state=$(systemctl show -P SubState "$unit")
      case $state in failed|auto-restart|dead|exited)
        say "$unit stopped ($state) before it answered $path" >&2; return 1 ;;
      esac
    fi
    # A probe refused is a few ms of builtins: a short nap finds the answer ~40 ms sooner.
    nap 0.025
  done
  local last="its last answer: HTTP $answer"
  case $answer in
    "") last="nothing listened on the port" ;;
    none) last="the port took its last try's connection but sent no HTTP status line (waited up to ${PROBE_TIMEOUT}s)" ;;
  esac
  say "$unit did not answer http://127.0.0.1:$port$path with 2xx within $4s ($last)" >&2
  return 1
}

# The switch's output also goes to switch.log, and it ignores SIGHUP/SIGPIPE: when push's
# connection drops mid-switch the switch still finishes (a dead channel only loses the
# copy on stdout: tee -p keeps writing the log), so it never stops half-way.
log_to_file() {
  local log=$switch_log size
  trap '' HUP PIPE
  # The size is looked at in one run of 16 (a stat is a process; a switch logs about 1 kB).
  if (( RANDOM % 16 == 0 )); then
    size=$(stat -c %s "$log" 2>/dev/null || echo 0)
    if (( size > 1000000 )); then tail -c 500000 "$log" > "$log.tmp.$$" && mv -f "$log.tmp.$$" "$log"; fi
  fi
  TZ=UTC printf '== %(%Y-%m-%dT%H:%M:%SZ)T switch %s\n' -1 "$*" >> "$log"
  exec > >(tee -p -a "$log") 2> >(tee -p -a "$log" >&2)
}

# The switch's own lock (switch.lock), held for its whole run, and the deploy lock. push
# holds the deploy lock (lock.sh) on another SSH channel, and that holder waits for
# switch.lock before it lets go: the deploy lock outlives a switch whose push is gone. When
# nobody holds the deploy lock (the switch run by hand, or push's channel died before the
# switch began), the switch takes it itself. `switch restart` holds it already (fd 9).
take_locks() {
  [ -z "${have_switch_lock:-}" ] || return 0
  have_switch_lock=1
  exec 8>>"$switch_lock_file"
  if ! flock -n 8; then
    # Most often the web slot the last push or rollback left, still finishing its requests.
    local t0=${EPOCHREALTIME/./}
    say "waiting for the app's previous switch (switch.lock), or the drain of the web slot it left"
    flock -w 600 8 || die "another switch of $app kept switch.lock for 600s"
    say "waited $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms for switch.lock"
  fi
  if [ -z "${have_deploy_lock:-}" ]; then
    exec 9>>"$lock_file"
    flock -n 9 || exec 9>&-
  fi
}

# Caddy sends requests to slot B first while route/b exists, else to slot A (the site's
# @slot_b matcher looks on every request: no reload); the other slot is the fallback while the
# first refuses connections. Creating or removing one file is atomic.
# Sets moved_ms, when the traffic moved: the slot it left stops HANDOVER_MS after (drain_slot).
prefer() {
  if [ "$1" = "$PORT_B" ]; then
    [ -d "$route_dir" ] || install -d -m 2750 -o root -g caddy "$route_dir"
    : > "$route_dir/b"
  else
    rm -f "$route_dir/b"
  fi
  moved_ms=$(( ${EPOCHREALTIME/./} / 1000 ))
}

# A switch killed between the route and live-slot: the route follows live-slot ($1), as
# current does. Builtins unless they disagree.
sync_route() {
  local is_b="" want_b=""
  [ -n "$1" ] || return 0
  [ -e "$route_dir/b" ] && is_b=1
  [ "$1" = "$PORT_B" ] && want_b=1
  [ "$is_b" = "$want_b" ] || prefer "$1"
}

# The standby's port, release and end (sb_port sb_id sb_until); fails when there is none.
read_standby() { sb_port="" sb_id="" sb_until=""; { read -r sb_port sb_id sb_until < "$standby_file"; } 2>/dev/null && [ -n "$sb_port" ]; }

# Stops the warm standby, if there is one (it takes no requests: Caddy prefers the live slot).
end_standby() {
  read_standby || return 0
  rm -f "$standby_file"
  systemctl stop "$app-web@$sb_port.service" || true
  say "ended the standby of $sb_id ($app-web@$sb_port.service)"
}

# Keeps the web slot on port $1, just switched away from, running release $2 as the warm
# standby for STANDBY seconds. The usage timer's sample, every minute, ends it once that time
# is up (end_expired_standby): no timer of its own to arm at each push (two systemctl, ~0.3 s
# on a small VM). Its unit is not enabled: a reboot ends it too.
keep_standby() {
  local port=$1 id=$2 now
  printf -v now '%(%s)T' -1
  replace "$standby_file" "$port $id $((now + STANDBY))"
  # An older qdeploy's transient timer would end this standby early: stopped (only if there).
  [ ! -e "/run/systemd/transient/$standby_end_unit.timer" ] || systemctl stop "$standby_end_unit.timer" 2>/dev/null || true
  say "standby: $app-web@$port.service keeps $id running for ${STANDBY}s"
}

# 0 when there is a warm standby and its UNTIL has passed.
standby_over() { local now; printf -v now '%(%s)T' -1; read_standby && [[ $sb_until =~ ^[0-9]+$ ]] && (( now >= sb_until )); }

# Ends the warm standby once its time is up (run by the minute's sample). A switch that holds
# switch.lock is left alone: the next minute looks again.
end_expired_standby() {
  standby_over || return 0
  exec 8>>"$switch_lock_file"
  flock -n 8 || return 0
  # Looked at again under the lock: a switch may have just replaced it.
  standby_over || return 0
  log_to_file end-standby "(its window is up)"
  end_standby
}

# 0 when the warm standby runs release $1 on the slot that is not live ($2), answers its health
# path, and release $1's site is the one Caddy has: a rollback to it is a flip of the route file.
standby_serves() {
  local id=$1 live=$2
  read_standby && [ "$sb_id" = "$id" ] && [ "$sb_port" != "$live" ] || return 1
  [ "$sb_port" = "$PORT_A" ] || [ "$sb_port" = "$PORT_B" ] || return 1
  [ "$slots_dir/$sb_port" -ef "$releases_dir/$id" ] || return 1
  [ -f "$site" ] && [ "$(<"$site")" = "$(<"$releases_dir/$id/site.caddy")" ] || return 1
  # Answering its health path is what matters (its port was checked as its own when it started).
  probe "$sb_port" "$HEALTH"
}

# A switch that was killed outright (SIGKILL, power loss) may have left a web slot running
# that Caddy could route to, or moved live-slot without current. live-slot is the commit
# point (written once the new slot passed its health check and Caddy has its site): current
# follows it (reconcile_current), and every other web slot but the standby is stopped
# (stop_stray_slots).
reconcile_current() {
  local live target
  live_slot_to live
  # -ef (the same file) is a builtin: the common case costs no process.
  [ -n "$live" ] && [ -e "$slots_dir/$live" ] && ! [ "$slots_dir/$live" -ef "$current_link" ] || return 0
  target=$(readlink "$slots_dir/$live" 2>/dev/null) || return 0
  target=${target##*/}
  if [ -n "$target" ] && [ -d "$releases_dir/$target" ]; then
    relink "$current_link" "releases/$target"
    : > "$releases_dir/$target/activated"
    audit "activated $target by reconcile (an interrupted switch had made it live)"
    say "reconciled: $target is live (an interrupted switch had left current behind)"
  fi
}

# Stops every web slot of the app but the live one ($1) and the standby.
stop_stray_slots() {
  local live=$1 u
  # The standby runs on purpose; once its unit is gone (a reboot, a crash) so is the standby.
  local standby="" kept=""
  read_standby && [ "$sb_port" != "$live" ] && standby=$app-web@$sb_port.service
  while read -r u _; do
    [ "$u" = "$app-web@$live.service" ] && continue
    [ "$u" = "$standby" ] && { kept=1; continue; }
    systemctl disable --quiet --no-reload "$u" 2>/dev/null || true
    systemctl stop "$u" || true
    say "reconciled: stopped $u, left running by an interrupted switch"
  done < <(running_instances "$app-web@.service" || systemctl list-units --plain --no-legend --state=active,activating,reloading "$app-web@*.service")
  [ -n "$kept" ] || [ ! -e "$standby_file" ] || rm -f "$standby_file"
  # A slot staged for a release this switch is not going to (its rollout stopped) is one of them.
  [ ! -e "$staged_file" ] || rm -f "$staged_file"
}

# The web process is gone (no web process, or scale.web = 0): stop both slots, remove the
# site so Caddy no longer serves the app's domains.
remove_web() {
  local u units=()
  while read -r u; do [ -n "$u" ] && units+=("$u"); done < <(instances_of "$app-web@.service")
  (( ${#units[@]} == 0 )) || systemctl disable --no-reload --quiet --now "${units[@]}" || true
  rm -f "$live_slot_file" "$standby_file" "$staged_file"
  if [ -f "$site" ]; then
    rm -f "$site"
    caddy_load || say "caddy did not reload without the site of $app" >&2
    say "removed the site of $app"
  fi
}

# Fails when release $1 was made for other ports than the ones the host's registry gives
# the app (a rollback across a port change): its site and slots would use someone else's.
check_ports() {
  local a p q
  [ -f "$ports_registry" ] || return 0
  while read -r a p q; do
    [ "$a" = "$app" ] || continue
    [ "$p $q" = "$PORT_A $PORT_B" ] && return 0
    die "release $1 was made for ports $PORT_A/$PORT_B, but $app now has $p/$q on this host; push a new release instead"
  done < "$ports_registry"
}

# Refuses the release being activated: its slot stopped, the live release's units back.
refuse() {
  local unit=$1 prev=$2 id=$3 who=$4 why=$5
  [ -z "$unit" ] || systemctl stop "$unit" || true
  restore_units "$prev"
  audit "refused $id by $who: $why"
}

# What a refused release leaves behind: the live release, when there was one.
left_serving() { [ -n "$1" ] && printf 'the live release keeps serving' || printf 'no release was live here before it'; }

# What every switch to release $1 (activate, stage) begins with: the locks, what an
# interrupted switch left put right, the release's settings, and, with a web process, its
# ports checked and the route in line with live-slot. Sets prev (the live release) and old
# (the live slot).
open_switch() {
  [ -f "$releases_dir/$1/switch.conf" ] || die "release $1 is not on this host"
  take_locks
  reconcile_current
  live_release_to prev
  load_conf "$releases_dir/$1"
  live_slot_to old
  (( ! WEB )) || { check_ports "$1"; sync_route "$old"; }
}

# Starts release $1's web slot on the port that is not live ($4), sets next and unit, and
# waits for its health path; refuses the release (its slot stopped, the units of the live
# release $3 back) and exits when it cannot. $2: who, for the audit log.
start_idle_slot() {
  local id=$1 who=$2 prev=$3 old=$4 started start=start
  next=$PORT_A; [ "$old" = "$PORT_A" ] && next=$PORT_B
  unit=$app-web@$next.service
  if read_standby && [ "$sb_port" = "$next" ]; then
    # The idle slot is the standby's: it ends, as the new release needs its port. Its unit
    # restarts on the new release (one systemctl where a stop and a start were two, ~0.2 s
    # on a small VM); the port is its own until then, and who answers is checked after.
    rm -f "$standby_file"
    say "ended the standby of $sb_id ($unit): the slot restarts on $id"
    start=restart
  # stop_stray_slots stopped every other web slot: the idle unit is not running.
  elif ! check_listener "$unit" "$next" before; then
    refuse "" "$prev" "$id" "$who" "port $next is held by another process"
    die "release $id cannot start: port $next is not free; $(left_serving "$prev")"
  fi
  relink "$slots_dir/$next" "../releases/$id"
  say "starting $unit ($id)"
  started=$(printf '%(%Y-%m-%d %H:%M:%S)T' -1)
  systemctl "$start" "$unit"
  if ! wait_healthy "$unit" "$next" "$HEALTH" "$HEALTH_TIMEOUT"; then
    journal_tail "$unit" "$started"
    refuse "$unit" "$prev" "$id" "$who" "health check failed"
    die "release $id failed its health check; $(left_serving "$prev")"
  fi
  say "healthy: $unit answers $HEALTH"
  healthy_ms=$(( ${EPOCHREALTIME/./} / 1000 ))
}

# Sets the variable named $1 to what is left of CADDY_SETTLE since the slot started by
# start_idle_slot first answered (healthy_ms), as sleep's argument; to "" once it has passed.
# A site an earlier qdeploy wrote has Caddy check every slot on its own interval (its release
# says 0.7): Caddy sees a slot up at most that long after it answers, however long the switch
# took meanwhile. A slot started elsewhere (staged): all of it. A release written now says 0.
settle_left_to() {
  local _frac=${CADDY_SETTLE#*.} _total
  [ "$_frac" != "$CADDY_SETTLE" ] || _frac=0
  _frac=${_frac}000
  _total=$(( 10#${CADDY_SETTLE%%.*} * 1000 + 10#${_frac:0:3} ))
  left_of_to "$1" "$_total" "${healthy_ms:-}"
}

# Sets the variable named $1 to what is left of $2 ms counted from $3 (ms since the epoch; ""
# counts from now), as sleep's argument; to "" once they have passed.
left_of_to() {
  local _left=$2
  [ -z "$3" ] || _left=$(( _left - ${EPOCHREALTIME/./} / 1000 + $3 ))
  if (( _left > 0 )); then printf -v "$1" '%d.%03d' $(( _left / 1000 )) $(( _left % 1000 )); else printf -v "$1" ''; fi
}

# What `stage` left (st_port st_id: "PORT RELEASE"); fails when there is none.
read_staged() { st_port="" st_id=""; { read -r st_port st_id < "$staged_file"; } 2>/dev/null && [ -n "$st_port" ]; }

# 0 when `stage` left release $1's web slot running on the port that is not live ($2) and it
# still answers its health path: activate then only moves the traffic to it.
staged_serves() {
  read_staged && [ "$st_id" = "$1" ] && [ "$st_port" != "$2" ] || return 1
  [ "$st_port" = "$PORT_A" ] || [ "$st_port" = "$PORT_B" ] || return 1
  [ "$slots_dir/$st_port" -ef "$releases_dir/$1" ] && probe "$st_port" "$HEALTH"
}

# A fleet's first half of activate, on every host before the first wave switches (so a wave
# costs only the move of its traffic): release $1's units installed and its web slot started
# on the idle port and healthy, taking no traffic (Caddy prefers the live slot). Nothing to
# start when the warm standby runs $1 (activate flips to it). `unstage` undoes it when the
# rollout stops before this host's wave; any other switch stops the staged slot.
stage() {
  local id=$1 who=$2 rel=$releases_dir/$1 prev old next unit
  open_switch "$id"
  if (( ! WEB )); then say "nothing to stage: release $id has no web process"; return 0; fi
  if standby_serves "$id" "$old"; then say "staged: the standby runs $id"; return 0; fi
  stop_stray_slots "$old"
  install_units "$rel"
  start_idle_slot "$id" "$who" "$prev" "$old"
  replace "$staged_file" "$next $id"
  say "staged: $unit runs $id, out of traffic until this host's wave"
}

# Undoes `stage` of release $1: its slot stopped, the live release's units back.
unstage() {
  local id=$1
  take_locks
  if ! read_staged || [ "$st_id" != "$id" ] || [ "$st_port" = "$(live_slot)" ]; then say "nothing staged for $id"; return 0; fi
  rm -f "$staged_file"
  systemctl stop "$app-web@$st_port.service" || true
  restore_units "$(live_release)"
  say "unstaged $id: stopped $app-web@$st_port.service; the live release keeps serving"
}

# The health-gated blue/green switch to release $1; $3 = "web" leaves the other processes alone;
# $4 = the live release this switches back from after a refused wave. When the warm standby
# runs release $1 (a rollback inside web.standby's window), the switch is a flip to it.
activate() {
  local id=$1 who=$2 only=${3:-} undoing=${4:-} rel=$releases_dir/$1 old next="" unit="" procs settle="" prev flipped="" staged="" keep="" ms
  open_switch "$id"
  # The flip first, and nothing before it that it does not need: it is what a rollback waits for.
  # `switch flip` checked the standby a moment ago, under the same locks (flip_checked).
  if (( WEB )) && { [ "${flip_checked:-}" = "$id" ] || standby_serves "$id" "$old"; }; then
    next=$sb_port unit=$app-web@$sb_port.service flipped=1
    prefer "$next"
    ms=$(( ${EPOCHREALTIME/./} / 1000 - started_ms ))
    [ -z "${log_after_flip:-}" ] || log_to_file "$log_after_flip"
    say "$prev -> $id (the standby)"
    replace "$live_slot_file" "$next"
    rm -f "$standby_file"
    say "caddy routes to 127.0.0.1:$next: the standby of $id took the traffic back (started nothing, $ms ms into the switch)"
  fi
  # A fleet's host staged the release before its wave (stage): its slot runs and is healthy.
  if (( WEB )) && [ -z "$flipped" ] && staged_serves "$id" "$old"; then
    next=$st_port unit=$app-web@$st_port.service staged=1
    rm -f "$staged_file"
    say "staged: $unit runs $id and answers $HEALTH"
  fi
  # Only the two slots exist: after a flip the other one is the slot just left, drained below.
  [ -n "$flipped$staged" ] || stop_stray_slots "$old"
  install_units "$rel"
  if (( WEB )) && [ -z "$flipped" ]; then
    [ -n "$staged" ] || start_idle_slot "$id" "$who" "$prev" "$old"
    if ! sync_site "$rel"; then
      refuse "$unit" "$prev" "$id" "$who" "caddy did not accept the site"
      die "Caddy refused the site of release $id; $(left_serving "$prev")"
    fi
  fi
  # Nothing refuses the release from here on: the other processes move to it first, as their
  # restart is what the switch waits for last, then the web's traffic.
  relink "$current_link" "releases/$id"
  : > "$rel/activated"
  procs=""; [ "$only" = web ] || procs=$(instances)
  local restarting="" draining="" timers="" was_digest="" left=""
  if [ "$only" != web ]; then
    # A timer is (re)armed from its unit file by a restart: needed only when the unit files
    # differ from the live release's (a systemctl's work is ~0.1 s more with the timers).
    [ -z "$prev" ] || conf_value_to was_digest "$releases_dir/$prev" UNITS_DIGEST
    [ -n "$was_digest" ] && [ "$was_digest" = "$UNITS_DIGEST" ] || timers=$TIMERS
    # Stop-then-start, all instances at once: instance numbers stay stable and a worker
    # never runs two releases side by side. In the background: the bookkeeping and the
    # web's move run meanwhile.
    { [ -z "$procs$timers" ] || systemctl restart $procs $timers; stop_extra_instances; } & restarting=$!
  fi
  if (( WEB )) && [ -z "$flipped" ]; then
    prefer "$next"
    if [ -n "$old" ] && [ "$old" != "$next" ] && keeps_standby "$id" "$prev" "$undoing"; then
      keep=1 # the old slot keeps answering whatever Caddy still sends it: nothing to wait for
    else
      # A release's site that checks each slot's health (written by an earlier qdeploy:
      # CADDY_SETTLE) must have seen the new slot up before the old one goes away; the
      # bookkeeping below runs meanwhile. A site without that check takes the next request.
      settle_left_to left
      [ -z "$left" ] || { sleep "$left" & settle=$!; }
    fi
    replace "$live_slot_file" "$next"
  fi
  link_units "$unit" "$old" $procs $TIMERS
  if [ -n "$next" ] && [ -n "$old" ] && [ "$old" != "$next" ]; then
    if [ -n "$keep" ]; then
      keep_standby "$old" "$prev"
    else
      [ -z "$settle" ] || wait "$settle"
      say "caddy routes to 127.0.0.1:$next; draining $app-web@$old.service"
      drain_slot "$app-web@$old.service"
    fi
  elif [ -n "$next" ]; then
    [ -z "$settle" ] || wait "$settle"
    say "caddy routes to 127.0.0.1:$next"
  else
    remove_web
  fi
  [ -z "$restarting" ] || wait "$restarting"
  if [ -n "$draining" ] && [ -z "${drain_behind:-}" ]; then wait "$draining"; fi
  [ -z "$draining" ] || [ -z "${drain_behind:-}" ] || say "$app-web@$old.service finishes its requests after this; the next push or rollback waits until it has stopped"
  remove_stale_units "$rel"
  # A switch back after a refused wave says so: facts.sh then drops the release it undid
  # from the history, so rollback never picks a release that did not pass the fleet.
  if [ -n "$undoing" ] && [ "$undoing" = "$prev" ] && [ "$undoing" != "$id" ]; then
    audit "reverted $undoing to $id by $who"
  else
    audit "activated $id by $who${only:+ ($only only)}${flipped:+ (the standby)}"
  fi
  say "live: $id"
}

# Milliseconds the slot switched away from keeps listening after the traffic moved (moved_ms):
# a request Caddy sent it just before (on a connection from its pool) reaches the app before
# SIGTERM, whose Shutdown closes the connections that carry no request yet.
HANDOVER_MS=200

# Stops web slot $1 (HANDOVER_MS after the traffic moved), which finishes its in-flight requests first (SIGTERM, then web.drain),
# in the background, and sets draining: the switch's other work goes on meanwhile. A push's or
# rollback's switch (drain_behind) does not wait for it, as Heroku's does not: the command ends
# once the new release serves. That stop keeps switch.lock (fd 8, inherited), and the deploy
# lock's holder (lock.sh) waits for switch.lock before it lets go: the next push or rollback
# waits for the deploy lock until the slot has stopped, and nothing starts that slot meanwhile.
# The stop itself lets go of the deploy lock (fd 9), ignores the TERM that may end the lock's
# holder (in whose process group a flip runs), and writes to switch.log, not to the command's
# channel, which then closes.
drain_slot() {
  local handover
  left_of_to handover "$HANDOVER_MS" "${moved_ms:-}"
  if [ -n "${drain_behind:-}" ]; then
    { trap '' TERM HUP; [ -z "$handover" ] || sleep "$handover"; systemctl stop "$1" && say "drained $1" || say "the stop of $1 failed: see journalctl -u $1"; } >> "$switch_log" 2>&1 < /dev/null 9>&- & draining=$!
  else
    { [ -z "$handover" ] || sleep "$handover"; systemctl stop "$1"; } & draining=$!
  fi
}

# Enables units for the next boot and disables the web slot switched away from: only their
# [Install] links (--no-reload: a daemon-reload costs seconds), so builtins first, as each
# systemctl is a process (~0.2 s on a small VM). A unit whose link is there needs nothing; the
# new web slot takes the old one's link by a rename (both instances link to APP-web@.service).
# Services are WantedBy=multi-user.target, timers timers.target (src/render/units.ts).
# $1: the web unit switched to (or ""), $2: the port switched away from (or ""), then the rest.
link_units() {
  local web=$1 from=$2 wants=$units_dir/multi-user.target.wants u missing=() was=""
  shift 2
  [ -z "$web" ] || [ -z "$from" ] || [ "$app-web@$from.service" = "$web" ] || was=$wants/$app-web@$from.service
  if [ -n "$web" ] && [ ! -L "$wants/$web" ]; then
    if [ -n "$was" ] && [ -L "$was" ] && mv -f "$was" "$wants/$web"; then :; else missing+=("$web"); fi
  elif [ -n "$was" ] && [ -L "$was" ]; then
    rm -f "$was"
  fi
  for u in "$@"; do
    case $u in *.timer) [ -L "$units_dir/timers.target.wants/$u" ] ;; *) [ -L "$wants/$u" ] ;; esac || missing+=("$u")
  done
  (( ${#missing[@]} == 0 )) || systemctl enable --quiet --no-reload "${missing[@]}"
}

# 0 when the slot switched away from stays as the warm standby: web.standby is on, the switch
# moved forward to a newer release (a push, not a rollback, a restart or a revert: the release
# left is the one a rollback goes back to), and Caddy's site picks the live slot by file.
keeps_standby() {
  local id=$1 prev=$2 undoing=$3
  (( STANDBY > 0 )) && [ -n "$prev" ] && [ -z "$undoing" ] && [[ $id > $prev ]] && [[ $(<"$site") == *"@slot_b file {"* ]]
}

# A rollback inside web.standby's window, run by lock.sh under the deploy lock it just took,
# in the same round trip (no facts first: the checks are here). The standby is the release
# that was live before the live one (keeps_standby), the one rollback goes back to; $2 names
# a release it must be. Exit 3 when it is not there or does not serve: nothing changed, and
# the rollback goes the usual way.
flip() {
  local who=$1 want=${2:-}
  take_locks
  read_standby && [ -f "$releases_dir/$sb_id/switch.conf" ] || exit 3
  [ -z "$want" ] || [ "$want" = "$sb_id" ] || exit 3
  load_conf "$releases_dir/$sb_id"
  local live; live_slot_to live
  (( WEB )) && standby_serves "$sb_id" "$live" || exit 3
  # The log's two tees are two processes: they start once the traffic has moved (activate).
  trap '' HUP PIPE
  flip_checked=$sb_id log_after_flip="flip $who $want" activate "$sb_id" "$who"
}

# Zero-downtime restart of the live release: everything, or one process.
restart() {
  # WHO: who asked (the CLI's user, a serve token); the timer's own restart names none.
  local proc=${1:-} by=${2:-the timer} id spec i
  take_locks
  reconcile_current
  id=$(live_release)
  [ -n "$id" ] || die "no live release to restart"
  load_conf "$releases_dir/$id"
  case $proc in
    "") activate "$id" "$by (restart)"; return ;;
    web) (( WEB )) || die "release $id has no web process"; activate "$id" "$by (restart)" web; return ;;
  esac
  stop_stray_slots "$(live_slot)"
  (( ! WEB )) || sync_route "$(live_slot)"
  for spec in $PROCS; do
    [ "${spec%%:*}" = "$proc" ] || continue
    local units=()
    for ((i = 1; i <= ${spec##*:}; i++)); do units+=("$app-$proc@$i.service"); done
    systemctl restart "${units[@]}"
    audit "restarted $proc by $by"
    return
  done
  die "no process \"$proc\" in release $id"
}

# web.watchdog, from its timer: one look at the live web slot's health path. The first failure's
# time goes to watchdog_failing_file, an answer removes it; once the slot has failed for
# WATCHDOG seconds, a zero-downtime restart of web (the other slot started, checked, given the
# traffic; the hung one stopped, SIGKILL after its drain), counted in watchdog_restarts_file
# and the audit log. Never while a deploy holds the lock: it decides what runs.
run_watchdog() {
  local id port now since=0 count=0 _
  exec 9>>"$lock_file"; flock -n 9 || return 0
  have_deploy_lock=1
  id=$(live_release) port=$(live_slot)
  [ -n "$id" ] && [ -n "$port" ] && [ -f "$releases_dir/$id/switch.conf" ] || return 0
  load_conf "$releases_dir/$id"
  (( WEB && WATCHDOG > 0 )) || return 0
  if probe "$port" "$HEALTH"; then [ ! -e "$watchdog_failing_file" ] || rm -f "$watchdog_failing_file"; return 0; fi
  printf -v now '%(%s)T' -1
  { read -r since < "$watchdog_failing_file"; } 2>/dev/null || printf '%s\n' "$now" > "$watchdog_failing_file"
  (( since > 0 )) || since=$now
  if (( now - since < WATCHDOG )); then
    say "$app-web@$port.service did not answer $HEALTH (for $((now - since))s; restarted after ${WATCHDOG}s)"
    return 0
  fi
  log_to_file watchdog
  rm -f "$watchdog_failing_file"
  { read -r count _ < "$watchdog_restarts_file"; } 2>/dev/null || true
  replace "$watchdog_restarts_file" "$((count + 1)) $now"
  audit "watchdog: $app-web@$port.service did not answer $HEALTH for $((now - since))s; restarting web of $id"
  restart web "the watchdog"
}

# The app's units by the manifest (exact names; templates as APP-PROC@*), for status.
unit_patterns() {
  local name
  [ -f "$manifest" ] || return 0
  while read -r name; do
    case $name in
      "") ;;
      *@.service) printf '%s\n' "${name%@.service}@*.service" ;;
      *) printf '%s\n' "$name" ;;
    esac
  done < "$manifest"
}

# The app's units as `systemctl list-units` lists them (UNIT LOAD ACTIVE SUB ...), by the
# manifest's patterns; nothing before the first release installed any.
app_units() {
  local t patterns=()
  while read -r t; do [ -n "$t" ] && patterns+=("$t"); done < <(unit_patterns)
  if (( ${#patterns[@]} )); then systemctl list-units --all --plain --no-legend "${patterns[@]}"; fi
}

# The running services' memory (bytes) and CPU time (ns), once a minute from the usage timer:
# "EPOCH UNIT MEMORY CPU" lines in usage_file, older than an hour dropped (the dashboard's charts).
run_sample() {
  local now u active running=()
  end_expired_standby
  printf -v now '%(%s)T' -1
  while read -r u _ active _; do
    if [[ $u == *.service && $active == active ]]; then running+=("$u"); fi
  done < <(app_units)
  {
    if [ -f "$usage_file" ]; then awk -v since=$((now - 3600)) '$1 >= since' "$usage_file"; fi
    if (( ${#running[@]} )); then
      systemctl show -p Id,MemoryCurrent,CPUUsageNSec "${running[@]}" |
        awk -F= -v now="$now" 'function out() { if (id != "") print now " " id " " v["MemoryCurrent"] " " v["CPUUsageNSec"]; id = ""; delete v }
          /^$/ { out(); next } $1 == "Id" { id = $2 } { v[$1] = ($2 == "[not set]" ? "-" : $2) } END { out() }'
    fi
  } > "$usage_file.tmp"
  mv -f "$usage_file.tmp" "$usage_file"
}

status() {
  local id u active sub running=() stopped=()
  id=$(live_release)
  say "live=$id"
  say "slot=$(live_slot)"
  while read -r u _ active sub _; do
    say "unit=$u $active $sub"
    [[ $u == *.service ]] || continue
    if [ "$active" = active ]; then running+=("$u"); else stopped+=("$u"); fi
  done < <(app_units)
  # Each running service's memory and CPU time against its limits ([resources]), and its
  # restarts: one systemctl for all of them, a block of KEY=VALUE lines each.
  if (( ${#running[@]} )); then
    systemctl show -p Id,MemoryCurrent,MemoryMax,CPUUsageNSec,CPUQuotaPerSecUSec,NRestarts "${running[@]}" |
      awk -F= 'function out() { if (id != "") print "usage=" id " " v["MemoryCurrent"] " " v["MemoryMax"] " " v["CPUUsageNSec"] " " v["CPUQuotaPerSecUSec"] " " v["NRestarts"]; id = ""; delete v }
        /^$/ { out(); next } $1 == "Id" { id = $2 } { v[$1] = ($2 == "[not set]" ? "-" : $2) } END { out() }'
  fi
  # A service that is not running (a job, the restart, the watchdog: one-shot): how its last
  # run ended and when, so it reads as "last run: success", not as a unit that is down.
  if (( ${#stopped[@]} )); then
    systemctl show --timestamp=unix -p Id,Result,ExecMainExitTimestamp,ExecMainStatus "${stopped[@]}" |
      awk -F= 'function out() { if (id != "" && v["ExecMainExitTimestamp"] != "") print "lastrun=" id " " v["Result"] " " substr(v["ExecMainExitTimestamp"], 2) " " v["ExecMainStatus"]; id = ""; delete v }
        /^$/ { out(); next } $1 == "Id" { id = $2 } { v[$1] = $2 } END { out() }'
  fi
  [ -n "$id" ] || return 0
  load_conf "$releases_dir/$id"
  if (( WEB )); then
    if probe "$(live_slot)" "$HEALTH"; then say "health=ok"; else say "health=failing"; fi
  fi
  # Every timer in one call, soonest first; list-timers gives a repeating (monotonic) timer's
  # next run in real time too (the usage and watchdog timers), where NextElapseUSecRealtime is empty.
  # shellcheck disable=SC2086 # TIMERS is a list of unit names
  if [ -n "$TIMERS" ]; then
    systemctl list-timers --all --no-legend $TIMERS | awk '{ n = ($1 == "-" || $1 == "n/a") ? "" : $1 " " $2 " " $3 " " $4; print "timer=" $(NF - 1) " " n }'
  fi
  # web.watchdog's restarts: how many, and the last one's time.
  if (( WATCHDOG > 0 )) && [ -f "$watchdog_restarts_file" ]; then say "watchdog=$(<"$watchdog_restarts_file")"; fi
  # The standby's memory (bytes, cgroup), what web.standby costs while it runs.
  if read_standby; then say "standby=$sb_port $sb_id $sb_until $(systemctl show -P MemoryCurrent "$app-web@$sb_port.service")"; fi
}

# On a terminal (`qdeploy exec -it`: ssh allocated a PTY) the unit gets a PTY of its own
# (--pty: systemd-run relays bytes and window resizes, and passes $TERM); otherwise its
# stdio are ours (--pipe). systemd 252 does not accept the two together.
# CMD runs where the app's processes run (src/plan/layout.ts processPlace): in the release's
# app/, HOME there, its bin/ first on PATH. systemd-run looks CMD up itself, with its own PATH
# and directory, so those are the same: `exec prod -- bin/console` or `-- migrate` is the app's.
# systemd-run itself is found first, on root's PATH: never a file of the app.
# The unit gets the process units' identity and sandbox, all of it (systemd/process@.service
# from DynamicUser= on: src/server-scripts.test.ts holds the two equal; this script runs on
# the host with no renderer to ask). A console keeps working under each: systemd opens the
# PTY and makes it the controlling terminal before the sandbox is set up; PrivateDevices'
# /dev keeps /dev/pts, /dev/ptmx and /dev/tty (DevicePolicy=closed allows them); PrivateUsers
# maps the app's own user, so its files and terminal are its own; ProtectProc=invisible hides
# only other users' processes from ps. What the app's processes cannot do (a JIT under
# MemoryDenyWriteExecute, setrlimit under ~@resources, sudo) a console cannot do either.
exec_hardening=(
  DynamicUser=yes "User=$app" "StateDirectory=$app" UMask=0077 NoNewPrivileges=yes CapabilityBoundingSet=
  ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes ProtectKernelTunables=yes
  ProtectKernelModules=yes ProtectKernelLogs=yes ProtectControlGroups=yes ProtectClock=yes ProtectHostname=yes
  RestrictNamespaces=yes RestrictRealtime=yes RestrictSUIDSGID=yes LockPersonality=yes MemoryDenyWriteExecute=yes
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" SystemCallArchitectures=native
  SystemCallFilter=@system-service "SystemCallFilter=~@privileged @resources" SystemCallErrorNumber=EPERM
  ProtectProc=invisible ProcSubset=pid DevicePolicy=closed PrivateUsers=yes InaccessiblePaths=-/run/caddy
)
run_exec() {
  local id stdio=--pipe dir path run p props=()
  id=$(live_release)
  [ -n "$id" ] || die "no live release"
  dir=$releases_dir/$id/app
  path=$dir/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  run=$(command -v systemd-run) || die "systemd-run not found"
  # A release pushed by a qdeploy before the slug has no app/: as then, the state dir to
  # work in and the release's bin/ on PATH.
  if [ ! -d "$dir" ] && [ -d "$releases_dir/$id/bin" ]; then
    dir=/var/lib/$app path=$releases_dir/$id/bin:/usr/local/bin:/usr/bin:/bin
  else
    cd "$dir" 2>/dev/null || die "release $id has no app directory ($dir)"
  fi
  if [ -t 0 ] && [ -t 1 ]; then stdio=--pty; fi
  for p in "${exec_hardening[@]}"; do props+=(-p "$p"); done
  PATH=$path
  exec "$run" --quiet "$stdio" --wait --collect --service-type=exec "${props[@]}" \
    -p "EnvironmentFile=$releases_dir/$id/env" -p "WorkingDirectory=$dir" \
    --setenv="HOME=$dir" --setenv="PATH=$path" -- "$@"
}

# The slug's new files arrive as one tar of blobs, each named by the sha256 of its bytes
# (SHA: 0755, SHA.r: 0644). Nothing reaches blobs/ unless every name matches its bytes.
run_unpack() {
  local pack=$1 tmp sum name
  [[ $pack == "$blobs_dir/.pack-"* && -f $pack ]] || die "unpack: $pack is not a pack in $blobs_dir"
  tmp=$(mktemp -d "$blobs_dir/.unpack-XXXXXX")
  # Expanded now: the trap runs after this function's locals are gone.
  trap "rm -rf -- $(printf '%q %q' "$tmp" "$pack")" EXIT
  # -m: a blob is dated when it arrived (Last-Modified), not 1970
  tar -xmf "$pack" -C "$tmp" --no-same-owner
  [ -z "$(find "$tmp" -mindepth 1 ! -type f -print -quit)" ] || die "unpack: $pack holds something other than files"
  while read -r sum name; do
    name=${name#./}
    [[ $name =~ ^[0-9a-f]{64}(\.r)?$ && ${name%.r} == "$sum" ]] || die "unpack: $name in $pack does not match its sha256 $sum"
  done < <(cd "$tmp" && find . -type f -exec sha256sum -- {} +)
  find "$tmp" -mindepth 1 -maxdepth 1 -exec mv -f -t "$blobs_dir" -- {} +
}

# releases/ID from the base64 of a gzipped tar on stdin (renderAppTree): its folders, bin/
# and app/ (the slug's files and the programs, hard links to their blobs, so kept releases
# cost no space twice, and the symlinks the commit has). One tar, one process.
run_link() {
  local id=$1 rel
  [[ $id =~ ^[0-9]+$ ]] || die "link: bad release id $id"
  rel=$releases_dir/$id
  [ ! -e "$rel/app" ] || rm -rf -- "$rel/app"
  base64 -d | tar -xz -C "$root" --no-same-owner
  [ -d "$rel/app" ] || die "link: the tree on stdin made no $rel/app"
}

# Removes every trace of the app from this host, under its deploy lock: its units (the
# manifest's, their instances and the transient standby-end timer), its Caddy site, its pair
# in the port registry, its firewall files, its add-ons here (addon destroy, keeping no
# backup), its state directory and its folder. What is left is checked by the caller.
run_destroy() {
  local who=$1 name stop=() files=() f
  exec 9>>"$lock_file"; flock -w 600 9 || die "the deploy lock stayed busy for 600s"
  systemctl stop "$standby_end_unit.timer" "$standby_end_unit.service" 2> /dev/null || true
  [ ! -f "$logdrain_unit" ] || systemctl disable -q --now "${logdrain_unit##*/}" || true
  if [ -f "$manifest" ]; then
    while read -r name; do
      [ -n "$name" ] || continue
      files+=("$units_dir/$name")
      if [[ $name == *@.service ]]; then stop+=("${name%@.service}@*.service"); else stop+=("$name"); fi
    done < "$manifest"
  fi
  if (( ${#stop[@]} )); then
    systemctl stop "${stop[@]}" || true
    for f in "${files[@]}"; do [[ $f == *@.service ]] || systemctl disable -q "${f##*/}" 2> /dev/null || true; done
    for f in "${files[@]}"; do name=${f##*/}; rm -f -- "$units_dir"/*.wants/"$name" "$units_dir"/*.wants/"${name%@.service}"@*.service; done
  fi
  if [ -d "$addons_dir" ] && [ -x "$addon_file" ]; then
    for f in "$addons_dir"/*.env; do [ -f "$f" ] || continue; f=${f##*/}; "$addon_file" destroy "$app" "${f%.env}" 0 > /dev/null; done
  fi
  rm -f -- "${files[@]}" "$logdrain_unit"
  systemctl daemon-reload
  systemctl reset-failed "$app-*" 2> /dev/null || true
  if [ -f "$site" ]; then rm -f "$site"; caddy_load || say "caddy did not reload without the site of $app" >&2; fi
  if [ -f "$ports_registry" ]; then
    exec 7>>"$ports_registry.lock"; flock -w 30 7 || die "the port registry's lock stayed busy"
    grep -v "^$app " "$ports_registry" | replace "$ports_registry" || true
    exec 7>&-
  fi
  if compgen -G "$firewall_dir/$app.*" > /dev/null; then
    rm -f -- "$firewall_dir/$app".ports "$firewall_dir/$app".addon-*.from
    [ ! -x "$firewall_dir/apply" ] || "$firewall_dir/apply" || say "the firewall did not reload without $app's ports" >&2
  fi
  rm -rf -- "/var/lib/private/$app" "/var/lib/$app" "/var/backups/qdeploy/$app"
  rm -rf -- "$root"
  say "destroyed $app by $who"
}

cmd=${1:-}; shift || true
case $cmd in
  # A push's and a rollback's switches: the slot switched away from drains after they end.
  activate) log_to_file activate "$@"; drain_behind=1 activate "$1" "${2:-unknown}" "${3:-}" "${4:-}" ;;
  # The timer's restart waits for a push in progress (lock.sh holds the same lock).
  restart)
    log_to_file restart "$@"
    exec 9>>"$lock_file"; flock -w 600 9 || die "the deploy lock stayed busy for 600s"
    have_deploy_lock=1 restart "${1:-}" "${2:-}" ;;
  status) status ;;
  flip) drain_behind=1 flip "${1:-unknown}" "${2:-}" ;;
  stage) log_to_file stage "$@"; stage "$1" "${2:-unknown}" ;;
  unstage) log_to_file unstage "$@"; unstage "$1" ;;
  end-standby)
    log_to_file end-standby
    exec 8>>"$switch_lock_file"; flock -w 600 8 || die "another switch of $app kept switch.lock for 600s"
    end_standby ;;
  watchdog) run_watchdog ;;
  sample) run_sample ;;
  exec) run_exec "$@" ;;
  unpack) run_unpack "$1" ;;
  link) run_link "$1" ;;
  destroy) run_destroy "${1:-unknown}" ;;
  *) die "usage: switch activate|stage|unstage|restart|flip|end-standby|watchdog|sample|status|exec|unpack|link|destroy" ;;
esac
