#!/bin/bash
# qdeploy's add-ons on this host: Postgres (Debian's postgresql, one database and role per app,
# environment and add-on) and Redis (Debian's redis-server, one instance of its own per add-on,
# with a password). Installed as /srv/qdeploy/APP/addon by push (src/ops/addons.ts) and run as
# root: by push to provision, by the backup timers, and by `qdeploy addons ...`.
#
#   addon ensure APP ENV NAME SERVICE [ADDRESS CLIENT...]
#                                         install and create what is missing; prints url=URL.
#                                         With ADDRESS (this host's private one) it listens there
#                                         too, with TLS, for the CLIENT addresses alone
#   addon backup APP NAME KEEP            one backup now, checked readable, then prune to KEEP
#   addon backups APP NAME                backup=FILE BYTES EPOCH, newest last
#   addon restore APP NAME KEEP FILE      a backup first, then FILE (a name in the backups folder)
#   addon status APP NAME AT              key=value lines (src/ops/addons.ts parseAddonStatus)
#   addon console APP NAME                psql or redis-cli as the app (credentials in the environment)
#   addon seed APP NAME FROM              Postgres: the newest backup of app FROM's add-on NAME on this
#                                         host, restored into APP's (a review app's first deploy)
#   addon destroy APP NAME KEEP           a final backup (none, and no backups kept, with KEEP 0), then the
#                                         database or instance and its credentials
#
# Passwords are made here, kept in /srv/qdeploy/APP/addons/NAME.env (root, 0600), and reach
# psql on stdin and redis-cli in its environment: never a command line.
#
# Reached from other hosts (ADDRESS given), an add-on is admitted from the environment's
# hosts' addresses only: by the firewall (/etc/qdeploy/firewall/APP.addon-NAME.from, read by
# server/firewall.sh), and for Postgres by hostssl lines in pg_hba.conf's qdeploy block; its
# traffic is TLS (Postgres: Debian's cluster certificate; Redis: a certificate of its own).
set -euo pipefail
umask 077
# runuser keeps the working directory: one every user may enter.
cd /

die() { printf 'addon: %s\n' "$*" >&2; exit 1; }

verb=${1:-}; app=${2:-}; shift 2 || die "usage: addon VERB APP NAME ..."
[[ $app =~ ^[a-z][a-z0-9-]*$ ]] || die "bad app name '$app'"
root=/srv/qdeploy/$app
state_dir=$root/addons

# The add-on's state file: service=, environment=, password=, port=, database=/role= or
# instance=, and address=/clients= when other hosts reach it.
load() {
  name=$1
  [[ $name =~ ^[a-z][a-z0-9]*$ ]] || die "bad add-on name '$name'"
  state=$state_dir/$name.env
  backups=/var/backups/qdeploy/$app/$name
  service="" environment="" password="" port="" database="" role="" instance="" address="" clients=""
  [ -f "$state" ] || return 1
  while IFS='=' read -r k v; do
    case $k in service|environment|password|port|database|role|instance|address|clients) printf -v "$k" '%s' "$v" ;; esac
  done < "$state"
}

# Written when it changed (a push that changes nothing writes nothing).
save() {
  local text
  text=$(
    printf 'service=%s\nenvironment=%s\npassword=%s\nport=%s\n' "$service" "$environment" "$password" "$port"
    if [ -n "$database" ]; then printf 'database=%s\nrole=%s\n' "$database" "$role"; fi
    if [ -n "$instance" ]; then printf 'instance=%s\n' "$instance"; fi
    if [ -n "$address" ]; then printf 'address=%s\nclients=%s\n' "$address" "$clients"; fi
  )
  [ -f "$state" ] && [ "$(< "$state")" = "$text" ] && return 0
  install -d -m 0700 -o root -g root "$state_dir"
  printf '%s\n' "$text" > "$state.tmp"
  chmod 0600 "$state.tmp"
  mv -f "$state.tmp" "$state"
}

new_password() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }

install_package() {
  echo "installing $1 (apt-get)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >&2
}

# ---- reached from other hosts -------------------------------------------------------------

ip_ok() { [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $1 =~ ^[0-9a-fA-F:]*:[0-9a-fA-F:]*$ ]]; }

# address= and clients= from ensure's arguments; the address must be this host's (Postgres and
# Redis cannot listen on another's).
set_network() {
  local c
  address=${1:-}
  shift || true
  clients="$*"
  [ -z "$address" ] && { clients=""; return 0; }
  ip_ok "$address" || die "bad address '$address'"
  for c in $clients; do ip_ok "$c" || die "bad client address '$c'"; done
  [ -n "$(ip -o addr show to "$address" 2> /dev/null)" ] || die "$address is not an address of this host ($(hostname)): give the add-on the private address its host has (ip -brief addr lists them)"
}

# The firewall admits PORT from the clients alone (server/firewall.sh reads the .from files),
# reloaded when that changed and this host has qdeploy's firewall.
admit() {
  local dir=/etc/qdeploy/firewall want="" have=""
  local file=$dir/$app.addon-$name.from
  [ -n "$address" ] && [ -n "${1:-}" ] && want="$1 $clients"
  [ -f "$file" ] && have=$(< "$file")
  [ "$have" = "$want" ] && return 0
  if [ -n "$want" ]; then
    install -d -m 0755 "$dir"
    printf '%s\n' "$want" > "$file"
    chmod 0644 "$file"
  else
    rm -f "$file"
  fi
  if [ -x "$dir/apply" ]; then "$dir/apply" >&2; fi
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
  pg_ready
}

# The cluster's folder of files (Debian's /etc/postgresql/VERSION/CLUSTER): the first one's,
# found by a glob (pg_lsclusters is a Perl program: half a second on a small emulated VM).
pg_conf_dir() {
  local f
  for f in /etc/postgresql/*/*/postgresql.conf; do
    [ -f "$f" ] && { printf '%s' "${f%/postgresql.conf}"; return 0; }
  done
  die "no Postgres cluster's files in /etc/postgresql"
}

# What the add-ons other hosts reach need of the cluster, from every add-on's state on this
# host (this one's from its variables: its state is saved after): listen_addresses in
# conf.d/qdeploy.conf (a change needs a restart) and, in pg_hba.conf's qdeploy block at its
# end (Debian's lines above it cover loopback and the socket only), one hostssl line per
# database, role and client (a change needs a reload). Sets pg_restart / pg_reload.
pg_network() {
  local dir listen="" hba="" f k v s_service s_db s_role s_address s_clients c want have
  dir=$(pg_conf_dir)
  for f in /srv/qdeploy/*/addons/*.env SELF; do
    if [ "$f" = SELF ]; then
      s_service=$service s_db=$database s_role=$role s_address=$address s_clients=$clients
    else
      [ "$f" = "$state" ] && continue
      s_service="" s_db="" s_role="" s_address="" s_clients=""
      while IFS='=' read -r k v; do
        case $k in service) s_service=$v ;; database) s_db=$v ;; role) s_role=$v ;; address) s_address=$v ;; clients) s_clients=$v ;; esac
      done < "$f"
    fi
    [ "$s_service" = postgres ] && [ -n "$s_address" ] || continue
    [[ ,$listen, == *",$s_address,"* ]] || listen+=",$s_address"
    for c in $s_clients; do
      hba+="hostssl \"$s_db\" \"$s_role\" $c/$([[ $c == *:* ]] && echo 128 || echo 32) scram-sha-256"$'\n'
    done
  done
  want="" have=""
  [ -n "$listen" ] && want="# qdeploy (server/addon.sh): add-ons other hosts reach"$'\n'"listen_addresses = 'localhost$listen'"
  [ -f "$dir/conf.d/qdeploy.conf" ] && have=$(< "$dir/conf.d/qdeploy.conf")
  if [ "$want" != "$have" ]; then
    if [ -n "$want" ]; then
      printf '%s\n' "$want" > "$dir/conf.d/qdeploy.conf"
      chown postgres:postgres "$dir/conf.d/qdeploy.conf"
    else
      rm -f "$dir/conf.d/qdeploy.conf"
    fi
    pg_restart=1
  fi
  want=$(sed '/^# qdeploy begin/,/^# qdeploy end/d' "$dir/pg_hba.conf")
  [ -n "$hba" ] && want+=$'\n'"# qdeploy begin: add-ons reached from other hosts (server/addon.sh)"$'\n'"$hba# qdeploy end"
  if [ "$want" != "$(< "$dir/pg_hba.conf")" ]; then
    cp -p "$dir/pg_hba.conf" "$dir/pg_hba.conf.tmp"
    printf '%s\n' "$want" > "$dir/pg_hba.conf.tmp"
    mv -f "$dir/pg_hba.conf.tmp" "$dir/pg_hba.conf"
    pg_reload=1
  fi
}

# Waits until the cluster accepts connections again (after a start or restart).
pg_ready() {
  local i
  for i in $(seq 1 120); do
    pg_isready -q 2> /dev/null && return 0
    sleep 0.5
  done
  die "postgres did not accept connections within 60 s (journalctl -u 'postgresql*')"
}

pg_ensure() {
  local env=$1 fresh=0 out had_address
  shift
  pg_up
  if ! load "$name"; then
    service=postgres password=$(new_password) fresh=1
    database=$(printf '%s_%s_%s' "$app" "$env" "$name" | tr '-' '_')
    role=$database
  fi
  environment=$env had_address=$address
  set_network "$@"
  pg_restart=0 pg_reload=0
  # An add-on only ever on loopback costs no file work.
  if [ -n "$address$had_address" ]; then
    pg_network
    # listen_addresses is read at start only: other apps' connections to this cluster drop once.
    if [ $pg_restart = 1 ]; then
      echo "restarting postgresql: it listens on $address now" >&2
      systemctl restart postgresql
      pg_ready
    fi
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
$([ $pg_reload = 1 ] && printf 'SELECT pg_reload_conf();')
SELECT current_setting('port') || ' ' || current_setting('ssl');
SQL
  )
  out=${out##*$'\n'}
  port=${out%% *}
  save
  admit "$port"
  # On loopback, as on Heroku, no sslmode: Debian's cluster has TLS on (its snakeoil key),
  # which lib/pq requires by default; a cluster with it off would fail them, so the URL says
  # so then. From other hosts TLS is required, on both sides (hostssl).
  local query="" host=127.0.0.1
  [ "${out##* }" = on ] || query="?sslmode=disable"
  if [ -n "$address" ]; then
    [ -z "$query" ] || die "the cluster has TLS off (ssl = off), and other hosts reach $name: turn it on (Debian's default) in $(pg_conf_dir)/postgresql.conf"
    query="?sslmode=require" host=$address
    [[ $host == *:* ]] && host="[$host]"
  fi
  printf 'url=postgres://%s:%s@%s:%s/%s%s\n' "$role" "$password" "$host" "$port" "$database" "$query"
}

# ---- Redis -------------------------------------------------------------------------------

redis_conf() { printf '/etc/redis/redis-%s.conf' "$instance"; }

# This host's own tools reach the instance on its socket, whether its port is TLS or not.
redis_socket() { printf '/run/redis-%s/redis-server.sock' "$instance"; }
rcli() { REDISCLI_AUTH=$password redis-cli -s "$(redis_socket)" --no-auth-warning "$@"; }

# The instance's own certificate (self-signed, as Heroku Redis's: clients encrypt and do not
# verify it), made once: the key is the redis user's alone.
redis_certificate() {
  local dir=/etc/redis/$instance.tls
  [ -f "$dir/cert.pem" ] && return 0
  install -d -m 0750 -o root -g redis "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "/CN=$instance" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem.tmp" 2> /dev/null || die "openssl could not make $instance's certificate"
  chown redis:redis "$dir/key.pem"
  chmod 0600 "$dir/key.pem"
  chmod 0644 "$dir/cert.pem.tmp"
  mv -f "$dir/cert.pem.tmp" "$dir/cert.pem"
}

redis_free_port() {
  local used p
  used=" $(cat /etc/redis/redis-qdeploy-*.conf 2> /dev/null | awk '$1 == "port" || $1 == "tls-port" {printf "%s ", $2}')$(ss -Hltn | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
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
  environment=$env
  set_network "$@"
  install -d -m 0750 -o redis -g redis "/var/lib/redis/$instance"
  local conf tls="/etc/redis/$instance.tls"
  conf=$(redis_conf)
  [ -z "$address" ] || redis_certificate
  {
    # Reached from other hosts: TLS alone on its port (no plain one), there and on loopback.
    if [ -n "$address" ]; then
      printf 'bind 127.0.0.1 -::1 %s\nprotected-mode yes\nport 0\ntls-port %s\n' "$address" "$port"
      printf 'tls-cert-file %s/cert.pem\ntls-key-file %s/key.pem\ntls-auth-clients no\n' "$tls" "$tls"
    else
      printf 'bind 127.0.0.1 -::1\nprotected-mode yes\nport %s\n' "$port"
    fi
    printf 'unixsocket %s\nunixsocketperm 700\n' "$(redis_socket)"
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
  else
    rm -f "$conf.tmp"
    systemctl is-active --quiet "redis-server@$instance" || systemctl enable --quiet --now "redis-server@$instance"
  fi
  save
  admit "$port"
  local i
  for i in $(seq 1 60); do
    [ "$(rcli ping 2> /dev/null)" = PONG ] && break
    [ "$i" = 60 ] && die "redis-server@$instance did not answer within 30 s (journalctl -u redis-server@$instance)"
    sleep 0.5
  done
  if [ -n "$address" ]; then
    local host=$address
    [[ $host == *:* ]] && host="[$host]"
    printf 'url=rediss://:%s@%s:%s\n' "$password" "$host" "$port"
  else
    printf 'url=redis://:%s@127.0.0.1:%s\n' "$password" "$port"
  fi
}

# ---- backups -----------------------------------------------------------------------------

require() { load "$1" || die "no add-on $1 on this host for $app (push provisions it)"; }

# One backup into the add-on's folder, checked readable before it counts and before the oldest go.
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
    rcli --rdb "$tmp" > /dev/null || { rm -f "$tmp"; die "redis-cli --rdb failed"; }
    redis-check-rdb "$tmp" > /dev/null || { rm -f "$tmp"; die "the snapshot of $instance does not read back (redis-check-rdb)"; }
  fi
  # The oldest beyond keep go before the new one comes in (it reads back already), so the
  # folder never holds more than keep: a listing at that moment shows what the schedule promises.
  # (One taken in the same second is replaced, not counted.)
  ls -1 "$backups" | grep -E '^[0-9]{8}T[0-9]{6}Z\.(dump|rdb)$' | grep -v -x -F "${file##*/}" | sort | head -n "-$((keep - 1))" | while read -r old; do rm -f "$backups/$old"; done || true
  mv -f "$tmp" "$file"
  printf 'backup=%s %s\n' "${file##*/}" "$(stat -c %s "$file")"
}

# Under the backups' lock, shared: a backup under way has pruned the oldest but not yet put the
# new one in, and a listing at that moment would show one fewer than the schedule keeps.
list_backups() {
  local f
  if [ -f "$state" ]; then exec 8>> "$state_dir/$name.lock"; flock -s -w 600 8 || true; fi
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

# A review app's database starts as a copy of its environment's: the newest dump of app $1's
# add-on of the same name here, restored into this (empty) one as its role.
seed() {
  local from=$1 f dump=""
  [[ $from =~ ^[a-z][a-z0-9-]*$ ]] || die "bad app name '$from'"
  [ "$service" = postgres ] || die "add-on $name is $service: only Postgres add-ons are seeded"
  # The glob sorts by name, which is the time: the newest is the last (as status counts them).
  for f in "/var/backups/qdeploy/$from/$name"/*.dump; do [[ ${f##*/} =~ ^[0-9]{8}T[0-9]{6}Z\.dump$ ]] && dump=$f; done
  [ -n "$dump" ] || die "$from has no backup of $name on this host to seed from: qdeploy addons backup ENV $name"
  # --clean: a first deploy that failed after its seed is seeded again.
  runuser -u postgres -- pg_restore --clean --if-exists --no-owner --no-acl --role="$role" --single-transaction -d "$database" < "$dump"
  printf 'seeded=%s\n' "${dump##*/}"
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
    say size "$(rcli info memory 2> /dev/null | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')"
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
    REDISCLI_AUTH=$password exec redis-cli -s "$(redis_socket)" --no-auth-warning
  fi
}

destroy() {
  if (( $1 > 0 )); then backup "$1"; else rm -rf "$backups"; fi
  if [ "$service" = postgres ]; then
    pg_sql <<SQL
DROP DATABASE IF EXISTS "$database" WITH (FORCE);
DROP ROLE IF EXISTS "$role";
SQL
    # Its hostssl lines go (and the address it listened on, when no other add-on has it).
    if [ -n "$address" ]; then
      service="" address=""
      pg_restart=0 pg_reload=0
      pg_network
      if [ $pg_restart = 1 ]; then systemctl restart postgresql; elif [ $pg_reload = 1 ]; then systemctl reload postgresql; fi
    fi
  else
    systemctl disable --now --quiet "redis-server@$instance"
    rm -rf "/var/lib/redis/$instance" "$(redis_conf)" "/etc/redis/$instance.tls"
  fi
  address=""
  admit ""
  systemctl disable --now --quiet "$app-addon-$name-backup.timer" 2> /dev/null || true
  rm -f "/etc/systemd/system/$app-addon-$name-backup.timer" "/etc/systemd/system/$app-addon-$name-backup.service" "$state" "$state_dir/$name.lock"
  systemctl daemon-reload
  printf 'destroyed=%s\n' "$name"
}

case $verb in
  ensure)
    env=${1:-} svc=${3:-}
    [[ $env =~ ^[a-z][a-z0-9_-]*$ ]] || die "bad environment name '$env'"
    if load "${2:-}"; then
      [ "$service" = "$svc" ] || die "add-on $name is a $service here, not a $svc (qdeploy addons destroy it first)"
      # One app's environments keep their add-ons apart (a state made before this was recorded is adopted).
      [ -z "$environment" ] || [ "$environment" = "$env" ] || die "add-on $name of $app on this host is environment $environment's: give $env's another name, or another host"
    fi
    shift 3
    case $svc in
      postgres) pg_ensure "$env" "$@" ;;
      redis) redis_ensure "$@" ;;
      *) die "unknown service '$svc'" ;;
    esac
    ;;
  backup) require "$1"; backup "${2:-7}" ;;
  backups) load "$1" || true; list_backups ;;
  restore) require "$1"; restore "${2:-7}" "${3:-}" ;;
  status) require "$1"; status "${2:-daily}" ;;
  console) require "$1"; console ;;
  destroy) require "$1"; destroy "${2:-7}" ;;
  seed) require "$1"; seed "${2:-}" ;;
  *) die "unknown verb '$verb'" ;;
esac
