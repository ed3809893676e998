#!/bin/bash
# qdeploy's add-ons on this host: Postgres (Debian's postgresql, one database and role per app,
# environment and add-on) and Redis (Debian's redis-server, one instance of its own per add-on,
# with a password). Installed as /srv/qdeploy/APP/addon by push (src/ops/addons.ts) and run as
# root: by push to provision, by the backup timers, and by `qdeploy addons ...`.
#
#   addon ensure APP ENV NAME SERVICE     install and create what is missing; prints url=URL
#   addon backup APP NAME KEEP            one backup now, checked readable, then prune to KEEP
#   addon backups APP NAME                backup=FILE BYTES EPOCH, newest last
#   addon restore APP NAME KEEP FILE      a backup first, then FILE (a name in the backups folder)
#   addon status APP NAME AT              key=value lines (src/ops/addons.ts parseAddonStatus)
#   addon console APP NAME                psql or redis-cli as the app (credentials in the environment)
#   addon destroy APP NAME KEEP           a final backup, then the database or instance and its credentials
#
# Passwords are made here, kept in /srv/qdeploy/APP/addons/NAME.env (root, 0600), and reach
# psql on stdin and redis-cli in its environment: never a command line.
set -euo pipefail
umask 077
# runuser keeps the working directory: one every user may enter.
cd /

die() { printf 'addon: %s\n' "$*" >&2; exit 1; }

verb=${1:-}; app=${2:-}; shift 2 || die "usage: addon VERB APP NAME ..."
[[ $app =~ ^[a-z][a-z0-9-]*$ ]] || die "bad app name '$app'"
root=/srv/qdeploy/$app
state_dir=$root/addons

# The add-on's state file: service=, password=, port=, and database=/role= or instance=.
load() {
  name=$1
  [[ $name =~ ^[a-z][a-z0-9]*$ ]] || die "bad add-on name '$name'"
  state=$state_dir/$name.env
  backups=/var/backups/qdeploy/$app/$name
  service="" password="" port="" database="" role="" instance=""
  [ -f "$state" ] || return 1
  while IFS='=' read -r k v; do
    case $k in service|password|port|database|role|instance) printf -v "$k" '%s' "$v" ;; esac
  done < "$state"
}

save() {
  install -d -m 0700 -o root -g root "$state_dir"
  {
    printf 'service=%s\npassword=%s\nport=%s\n' "$service" "$password" "$port"
    if [ -n "$database" ]; then printf 'database=%s\nrole=%s\n' "$database" "$role"; fi
    if [ -n "$instance" ]; then printf 'instance=%s\n' "$instance"; fi
  } > "$state.tmp"
  chmod 0600 "$state.tmp"
  mv -f "$state.tmp" "$state"
}

new_password() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

install_package() {
  echo "installing $1 (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >&2
}

# ---- Postgres ----------------------------------------------------------------------------

pg_sql() { runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d "${1:-postgres}"; }

# Started, enabled for boot, and accepting connections. Checked by the files that say so
# (each program started costs most of a second on a small emulated VM), and each step done
# only when it is not so already: systemctl enable reloads systemd.
pg_up() {
  command -v pg_lsclusters > /dev/null || install_package postgresql
  [ -e /etc/systemd/system/multi-user.target.wants/postgresql.service ] && compgen -G '/var/run/postgresql/.s.PGSQL.*' > /dev/null && return 0
  [ -n "$(pg_lsclusters -h 2> /dev/null)" ] || die "postgresql is installed but has no cluster (pg_createcluster 15 main --start makes Debian's default)"
  systemctl is-enabled --quiet postgresql || systemctl enable --quiet postgresql
  systemctl start postgresql
  local i
  for i in $(seq 1 120); do
    pg_isready -q 2> /dev/null && return 0
    sleep 0.5
  done
  die "postgres did not accept connections within 60 s (journalctl -u 'postgresql*')"
}

pg_ensure() {
  local env=$1 fresh=0 out
  pg_up
  if ! load "$name"; then
    service=postgres password=$(new_password) fresh=1
    database=$(printf '%s_%s_%s' "$app" "$env" "$name" | tr '-' '_')
    role=$database
  fi
  # One psql: what is missing is created; a password is set only when this host made one,
  # so a second push changes no credential. Then the port, and whether TLS is on.
  out=$(pg_sql <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role')
\gexec
$([ $fresh = 1 ] && printf "ALTER ROLE \"%s\" LOGIN PASSWORD '%s';" "$role" "$password")
SELECT format('CREATE DATABASE %I OWNER %I', '$database', '$role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$database')
\gexec
REVOKE ALL ON DATABASE "$database" FROM PUBLIC;
GRANT ALL ON DATABASE "$database" TO "$role";
SELECT current_setting('port') || ' ' || current_setting('ssl');
SQL
  )
  out=${out##*$'\n'}
  port=${out%% *}
  [ $fresh = 1 ] && save
  # As on Heroku, no sslmode: Debian's cluster has TLS on (its snakeoil key), which lib/pq
  # requires by default; a cluster with it off would fail them, so the URL says so then.
  local query=""
  [ "${out##* }" = on ] || query="?sslmode=disable"
  printf 'url=postgres://%s:%s@127.0.0.1:%s/%s%s\n' "$role" "$password" "$port" "$database" "$query"
}

# ---- Redis -------------------------------------------------------------------------------

redis_conf() { printf '/etc/redis/redis-%s.conf' "$instance"; }

redis_free_port() {
  local used p
  used=" $(cat /etc/redis/redis-qdeploy-*.conf 2> /dev/null | awk '$1 == "port" {printf "%s ", $2}')$(ss -Hltn | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
  for p in $(seq 6380 6479); do
    [[ $used == *" $p "* ]] || { echo "$p"; return 0; }
  done
  die "no free port for Redis in 6380-6479"
}

redis_ensure() {
  if ! command -v redis-server > /dev/null; then
    install_package redis-server
    # Debian's package starts an instance on 6379 with no password: qdeploy's instances are its own.
    systemctl disable --now --quiet redis-server
  fi
  if ! load "$name"; then
    service=redis password=$(new_password) instance="qdeploy-$app-$name" port=$(redis_free_port)
  fi
  install -d -m 0750 -o redis -g redis "/var/lib/redis/$instance"
  local conf
  conf=$(redis_conf)
  {
    printf 'bind 127.0.0.1 -::1\nprotected-mode yes\nport %s\n' "$port"
    printf 'supervised systemd\ndaemonize no\npidfile /run/redis-%s/redis-server.pid\nlogfile ""\n' "$instance"
    printf 'dir /var/lib/redis/%s\ndbfilename dump.rdb\nsave 3600 1 300 100 60 10000\n' "$instance"
    # A backup (redis-cli --rdb) is a replica's sync: without this it waits 5 s for others.
    printf 'repl-diskless-sync-delay 0\n'
    printf 'requirepass %s\n' "$password"
  } > "$conf.tmp"
  chown root:redis "$conf.tmp"
  chmod 0640 "$conf.tmp"
  if ! cmp -s "$conf.tmp" "$conf"; then
    mv -f "$conf.tmp" "$conf"
    systemctl enable --quiet "redis-server@$instance"
    systemctl restart "redis-server@$instance"
    save
  else
    rm -f "$conf.tmp"
    systemctl is-active --quiet "redis-server@$instance" || systemctl enable --quiet --now "redis-server@$instance"
  fi
  local i
  for i in $(seq 1 60); do
    [ "$(REDISCLI_AUTH=$password redis-cli -p "$port" --no-auth-warning ping 2> /dev/null)" = PONG ] && break
    [ "$i" = 60 ] && die "redis-server@$instance did not answer within 30 s (journalctl -u redis-server@$instance)"
    sleep 0.5
  done
  printf 'url=redis://:%s@127.0.0.1:%s\n' "$password" "$port"
}

# ---- backups -----------------------------------------------------------------------------

require() { load "$1" || die "no add-on $1 on this host for $app (push provisions it)"; }

# One backup into the add-on's folder, checked readable before it counts; then the oldest go.
backup() {
  local keep=$1 stamp tmp file
  install -d -m 0700 "$backups"
  exec 8> "$state_dir/$name.lock"
  flock -w 600 8 || die "another backup of $name is still running"
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  if [ "$service" = postgres ]; then
    file=$backups/$stamp.dump tmp=$backups/.$stamp.dump.tmp
    runuser -u postgres -- pg_dump -Fc "$database" > "$tmp" || { rm -f "$tmp"; die "pg_dump $database failed"; }
    pg_restore --list "$tmp" > /dev/null || { rm -f "$tmp"; die "the dump of $database does not read back (pg_restore --list)"; }
  else
    file=$backups/$stamp.rdb tmp=$backups/.$stamp.rdb.tmp
    REDISCLI_AUTH=$password redis-cli -p "$port" --no-auth-warning --rdb "$tmp" > /dev/null || { rm -f "$tmp"; die "redis-cli --rdb failed"; }
    redis-check-rdb "$tmp" > /dev/null || { rm -f "$tmp"; die "the snapshot of $instance does not read back (redis-check-rdb)"; }
  fi
  mv -f "$tmp" "$file"
  ls -1 "$backups" | grep -E '^[0-9]{8}T[0-9]{6}Z\.(dump|rdb)$' | sort | head -n "-$keep" | while read -r old; do rm -f "$backups/$old"; done
  printf 'backup=%s %s\n' "${file##*/}" "$(stat -c %s "$file")"
}

list_backups() {
  local f
  for f in "$backups"/*; do
    [[ ${f##*/} =~ ^[0-9]{8}T[0-9]{6}Z\.(dump|rdb)$ ]] && printf 'backup=%s %s %s\n' "${f##*/}" "$(stat -c %s "$f")" "$(stat -c %Y "$f")"
  done
  return 0
}

restore() {
  local keep=$1 name_=$2
  [[ $name_ =~ ^[0-9]{8}T[0-9]{6}Z\.(dump|rdb)$ || $name_ =~ ^upload-[0-9a-f]{64}\.(dump|rdb)$ ]] || die "'$name_' is not a backup's name"
  [ -f "$backups/$name_" ] || die "no backup $name_ of $name (qdeploy addons backups lists them)"
  # Held by a second name while the backup taken first prunes the oldest: it may be one of them.
  file=$backups/.restore-$$-$name_ # global: the EXIT trap reads it
  ln -f "$backups/$name_" "$file"
  trap 'rm -f "$file"' EXIT
  # What does not read is refused before anything changes.
  if [ "$service" = postgres ]; then
    [[ $name_ == *.dump ]] || die "$name_ is not a Postgres dump"
    pg_restore --list "$file" > /dev/null || die "$name_ does not read (pg_restore --list)"
  else
    [[ $name_ == *.rdb ]] || die "$name_ is not a Redis snapshot"
    redis-check-rdb "$file" > /dev/null || die "$name_ does not read (redis-check-rdb)"
  fi
  backup "$keep" >&2
  if [ "$service" = postgres ]; then
    runuser -u postgres -- pg_restore --clean --if-exists --no-owner --no-acl --role="$role" --single-transaction -d "$database" < "$file"
  else
    # Stopped first: Redis writes its dataset over dump.rdb when it stops.
    systemctl stop "redis-server@$instance"
    install -o redis -g redis -m 0640 "$file" "/var/lib/redis/$instance/dump.rdb"
    systemctl start "redis-server@$instance"
  fi
  printf 'restored=%s\n' "$name_"
}

status() {
  local at=$1 unit newest="" count=0 f
  say() { printf '%s=%s\n' "$1" "$2"; }
  say service "$service"
  say created "$(stat -c %Y "$state")"
  if [ "$service" = postgres ]; then
    unit=postgresql
    say state "$(runuser -u postgres -- pg_isready -q 2> /dev/null && echo active || echo inactive)"
    say version "$(runuser -u postgres -- psql -X -At -c 'show server_version' 2> /dev/null | cut -d' ' -f1)"
    say size "$(printf "SELECT pg_database_size('%s')" "$database" | pg_sql 2> /dev/null)"
  else
    unit=redis-server@$instance
    say state "$(systemctl is-active "$unit" || true)"
    say version "$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')"
    say size "$(REDISCLI_AUTH=$password redis-cli -p "$port" --no-auth-warning info memory 2> /dev/null | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')"
  fi
  for f in "$backups"/*; do
    [[ ${f##*/} =~ ^[0-9]{8}T[0-9]{6}Z\.(dump|rdb)$ ]] || continue
    count=$((count + 1)) newest=$f
  done
  say backups "$count"
  say last_backup "$([ -n "$newest" ] && printf '%s %s %s' "${newest##*/}" "$(stat -c %s "$newest")" "$(stat -c %Y "$newest")")"
  say backup_result "$(systemctl show -P Result "$app-addon-$name-backup.service" 2> /dev/null || true)"
  # The schedule's period: the gap between its next two runs.
  say period "$(TZ=UTC systemd-analyze calendar --iterations=2 "$at" 2> /dev/null | awk '/Next elapse|Iter\. #2/ {print $(NF-2)" "$(NF-1)}' | while read -r d t; do date -u -d "$d $t" +%s; done | paste -sd' ' | awk '{print $2 - $1}')"
}

console() {
  if [ "$service" = postgres ]; then
    PGPASSWORD=$password PGHOST=127.0.0.1 PGPORT=$port PGUSER=$role PGDATABASE=$database exec psql
  else
    REDISCLI_AUTH=$password exec redis-cli -p "$port" --no-auth-warning
  fi
}

destroy() {
  backup "$1"
  if [ "$service" = postgres ]; then
    pg_sql <<SQL
DROP DATABASE IF EXISTS "$database" WITH (FORCE);
DROP ROLE IF EXISTS "$role";
SQL
  else
    systemctl disable --now --quiet "redis-server@$instance"
    rm -rf "/var/lib/redis/$instance" "$(redis_conf)"
  fi
  systemctl disable --now --quiet "$app-addon-$name-backup.timer" 2> /dev/null || true
  rm -f "/etc/systemd/system/$app-addon-$name-backup.timer" "/etc/systemd/system/$app-addon-$name-backup.service" "$state" "$state_dir/$name.lock"
  systemctl daemon-reload
  printf 'destroyed=%s\n' "$name"
}

case $verb in
  ensure)
    env=${1:-} svc=${3:-}
    [[ $env =~ ^[a-z][a-z0-9_-]*$ ]] || die "bad environment name '$env'"
    if load "${2:-}" && [ "$service" != "$svc" ]; then die "add-on $name is a $service here, not a $svc (qdeploy addons destroy it first)"; fi
    case $svc in
      postgres) pg_ensure "$env" ;;
      redis) redis_ensure ;;
      *) die "unknown service '$svc'" ;;
    esac
    ;;
  backup) require "$1"; backup "${2:-7}" ;;
  backups) load "$1" || true; list_backups ;;
  restore) require "$1"; restore "${2:-7}" "${3:-}" ;;
  status) require "$1"; status "${2:-daily}" ;;
  console) require "$1"; console ;;
  destroy) require "$1"; destroy "${2:-7}" ;;
  *) die "unknown verb '$verb'" ;;
esac
