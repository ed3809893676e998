# qdeploy's deploy lock, run as `bash -c "$(cat lock.sh)" lock APP hold|status|release [WHO WAIT [FACTS [FLIP]]]`.
# With FACTS (the text of facts.sh), hold also reports the host's facts once it holds the
# lock: one round trip instead of two, and facts no other push can change under us.
# With FLIP (a rollback of one host: the release named, or ""), hold first runs `switch flip`
# under the lock: a rollback to the warm standby in the same round trip, before the facts.
# An flock on the app's lock file held by a shell that lives as long as the SSH channel
# that started it: a push that dies (killed, lost connection) frees the lock by itself,
# but only once a switch it started has ended: the holder waits for the switch's own
# switch.lock before it lets go (see take_locks in switch.sh).
# lock.holder says who holds it (its first line, as `status` shows it) and, on a second
# line, what proves the holder's pid is still that process: `release` signals nothing else.
set -u
app=$1 cmd=$2
# @layout
holder=$holder_file
[ -d "$root" ] || mkdir -p "$root"

# The first line of lock.holder (who, pid, since); nothing when there is none.
holder_line() { local line=""; { read -r line < "$holder"; } 2>/dev/null; printf '%s' "$line"; }
# What a pid reused by another process cannot share: this boot's id and the process's start
# time (clock ticks since boot, /proc/PID/stat field 22, after the parenthesised name, which
# may hold spaces), into $identity (no $(...): a fork is tens of ms on a small VM). Empty
# when process $1 does not exist.
proc_identity() {
  local stat boot f
  identity=""
  { read -r stat < "/proc/$1/stat" && read -r boot < /proc/sys/kernel/random/boot_id; } 2>/dev/null || return 0
  read -ra f <<< "${stat##*) }"
  identity="$boot ${f[19]}"
}
case $cmd in
  hold)
    who=$3 wait=$4
    exec 9>>"$lock_file"
    # Held by another: say by whom before waiting, so the push does not sit silent for up to
    # WAIT seconds. Free (the common case), this is the only flock: no process more.
    if ! flock -n 9; then
      line=$(holder_line)
      (( wait > 0 )) && printf 'WAITING %s\n' "${line:-unknown}" && flock -w "$wait" 9
    fi || {
      line=$(holder_line)
      printf 'deploy lock on %s is held by %s (waited %ss)\n' "$app" "${line:-unknown}" "$wait" >&2
      exit 75
    }
    proc_identity $$
    TZ=UTC printf '%s, pid %s, since %(%Y-%m-%dT%H:%M:%SZ)T\nprocess %s\n' "$who" "$$" -1 "$identity" > "$holder"
    echo LOCKED
    # A dropped connection must not kill the holder before a switch has ended (the flip
    # below, or one the push starts on another channel: see the end).
    trap '' HUP PIPE
    facts=${5:-}
    # The switch's output, then "::flip CODE" (3: no standby to flip to; nothing changed).
    if (( $# >= 6 )); then
      # No standby file, no standby: no switch started to say so (a process is tens of ms).
      # have_deploy_lock: this shell holds it, so the switch need not try to take it. Sourced
      # in the $(...)'s subshell, not run: a second bash would start (~0.1 s on a small VM).
      if [ -f "$standby_file" ] && [ -x "$switch_file" ]; then
        out=$(have_deploy_lock=1; . "$switch_file" flip "$who" "$6" 2>&1 < /dev/null) && rc=0 || rc=$?
      else out="" rc=3; fi
      printf '%s%s::flip %s\n' "$out" "${out:+$'\n'}" "$rc"
    fi
    # "claim": facts.sh gives the app its web ports now, under the lock.
    if [ -n "$facts" ]; then (set -- "$app" claim; holding=1; eval "$facts"); echo "::facts-end"; fi
    # A builtin read, not cat: only this shell holds fd 9, so ending it frees the lock.
    while IFS= read -r _; do :; done
    # The push is gone or done; a switch it started may still run (its channel dropped), or
    # the web slot it left still finishes its requests (switch.sh's drain_slot): the record
    # says so, for a push that waits for the lock meanwhile.
    exec 8>>"$switch_lock_file"
    if ! flock -n 8 9>&-; then
      line="" proof=""
      { read -r line; read -r proof; } < "$holder" 2>/dev/null || :
      [ -z "$line" ] || printf '%s (its command has ended; the switch it started still runs, or drains the old web slot)\n%s\n' "$line" "$proof" > "$holder"
      flock 8 9>&- # fd 9 stays with this shell only, so `lock release` can still end it
    fi
    rm -f "$holder" ;;
  status)
    if [ ! -e "$lock_file" ] || flock -n "$lock_file" true; then echo free
    else line=$(holder_line); echo "held by ${line:-a running restart}"; fi ;;
  release)
    # A holder killed outright (kill -9, a reboot) leaves its record behind, and its pid may
    # be any other process's by now: only the process the record proves is signalled.
    line=$(holder_line)
    pid=$(sed -n '1s/.*, pid \([0-9]*\),.*/\1/p' "$holder" 2>/dev/null)
    recorded=$(sed -n 's/^process //p' "$holder" 2>/dev/null)
    if [ ! -e "$lock_file" ] || flock -n "$lock_file" true; then
      if [ -n "$line" ]; then echo "not held; removed the record of a holder that is gone ($line)"; else echo "not held"; fi
      rm -f "$holder"
    elif [ -z "$line" ]; then
      # switch.sh's restart (the timer's) or a switch run by hand: no record, and it ends by itself.
      echo "held by a running restart or switch (no holder record): nothing was ended; it frees the lock when it is done"
    elif [ -z "$pid" ] || [ -z "$recorded" ]; then
      # Written by a qdeploy that did not record the start time: the pid proves nothing.
      echo "held by $line, recorded without its start time: nothing was ended; if pid ${pid:-?} is still qdeploy's lock holder (ps -o lstart,args -p ${pid:-?}: bash ... lock $app hold), end it with kill"
    elif proc_identity "$pid"; [ "$identity" = "$recorded" ]; then
      if kill "$pid" 2>/dev/null; then echo "released (ended pid $pid)"; rm -f "$holder"
      else echo "held by $line: could not end pid $pid"; fi
    else
      # The recorded holder is gone; whatever holds the lock now (a restart, a switch) left no record.
      echo "held, but pid $pid is no longer the process that took the lock: nothing was ended; removed its record ($line); the lock is held by a running restart or switch"
      rm -f "$holder"
    fi ;;
  *) echo "usage: lock APP hold|status|release" >&2; exit 2 ;;
esac
