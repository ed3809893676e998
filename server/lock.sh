# qdeploy's deploy lock, run as `bash -c "$(cat lock.sh)" lock APP hold|status|release [WHO WAIT [FACTS]]`.
# With FACTS (the text of facts.sh), hold also reports the host's facts once it holds the
# lock: one round trip instead of two, and facts no other push can change under us.
# An flock on /srv/qdeploy/APP/lock held by a shell that lives as long as the SSH channel
# that started it: a push that dies (killed, lost connection) frees the lock by itself,
# but only once a switch it started has ended: the holder waits for the switch's own
# switch.lock before it lets go (see take_locks in switch.sh).
set -u
app=$1 cmd=$2
root=/srv/qdeploy/$app
holder=$root/lock.holder
[ -d "$root" ] || mkdir -p "$root"
case $cmd in
  hold)
    who=$3 wait=$4
    exec 9>>"$root/lock"
    if ! flock -w "$wait" 9; then
      printf 'deploy lock on %s is held by %s (waited %ss)\n' "$app" "$(cat "$holder" 2>/dev/null || echo unknown)" "$wait" >&2
      exit 75
    fi
    TZ=UTC printf '%s, pid %s, since %(%Y-%m-%dT%H:%M:%SZ)T\n' "$who" "$$" -1 > "$holder"
    echo LOCKED
    facts=${5:-}
    # "claim": facts.sh gives the app its web ports now, under the lock.
    if [ -n "$facts" ]; then (set -- "$app" claim; eval "$facts"); echo "::facts-end"; fi
    # A dropped connection must not kill the holder before the switch below has ended.
    trap '' HUP PIPE
    # A builtin read, not cat: only this shell holds fd 9, so ending it frees the lock.
    while IFS= read -r _; do :; done
    # The push is gone or done; a switch it started may still run (its channel dropped).
    exec 8>>"$root/switch.lock"
    flock 8 9>&- # fd 9 stays with this shell only, so `lock release` can still end it
    rm -f "$holder" ;;
  status)
    if [ ! -e "$root/lock" ] || flock -n "$root/lock" true; then echo free
    else echo "held by $(cat "$holder" 2>/dev/null || echo 'a running restart')"; fi ;;
  release)
    pid=$(sed -n 's/.*, pid \([0-9]*\),.*/\1/p' "$holder" 2>/dev/null)
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then echo "released (ended pid $pid)"; else echo "not held"; fi
    rm -f "$holder" ;;
  *) echo "usage: lock APP hold|status|release" >&2; exit 2 ;;
esac
