# qdeploy setup ENV --bootstrap: makes USER a login qdeploy can deploy with. Run once as
# root (`bash -c SCRIPT bootstrap USER`, the public keys on stdin, one a line):
# installs sudo if missing, creates USER if missing (no password, a home, bash), adds
# the keys USER's authorized_keys lacks, and puts /etc/sudoers.d/qdeploy-USER in place
# only after visudo accepts it. Idempotent: a second run changes nothing and says so.
set -euo pipefail
user=$1
say() { printf '%s\n' "$*"; }
die() { printf '%s\n' "$*" >&2; exit 1; }
# The name ends up in a path and in sudoers: only what useradd's default rule allows, no dot
# (sudo skips drop-in files whose name has one).
[[ $user =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "bad user name \"$user\": use lowercase letters, digits, _ and -"
[ "$EUID" -eq 0 ] || die "bootstrap must run as root"
keys=$(cat)
[ -n "$keys" ] || die "no public key given"

if ! command -v sudo >/dev/null; then
  command -v apt-get >/dev/null || die "sudo is not installed and there is no apt-get here: install sudo, then run this again"
  export DEBIAN_FRONTEND=noninteractive
  # From the package lists the host has; only when that fails (none yet, or a version the
  # mirror no longer has), fetched fresh: an update is most of the time on a small VM.
  apt-get -qq install -y sudo >/dev/null 2>&1 || { apt-get -qq update >/dev/null && apt-get -qq install -y sudo >/dev/null; }
  say "installed sudo"
fi

if id -u "$user" >/dev/null 2>&1; then
  say "user $user exists"
else
  # Password '*': no password works, but the account is not locked ('!'), which sshd
  # without PAM would refuse even for a key.
  useradd --create-home --shell /bin/bash --user-group --password '*' "$user"
  say "created user $user"
fi
home=$(getent passwd "$user" | cut -d: -f6)
group=$(id -gn "$user")
ssh_dir=$home/.ssh
ak=$ssh_dir/authorized_keys
# Root writes into the user's home: never through a link the user could point elsewhere.
[ ! -L "$ssh_dir" ] && [ ! -L "$ak" ] || die "$ssh_dir or $ak is a symbolic link; refusing to write through it"
install -d -m 0700 -o "$user" -g "$group" "$ssh_dir"
[ -e "$ak" ] || install -m 0600 -o "$user" -g "$group" /dev/null "$ak"
added=0
while IFS= read -r key; do
  [ -n "$key" ] || continue
  if ! grep -qxF -- "$key" "$ak"; then
    printf '%s\n' "$key" >> "$ak"
    added=$((added + 1))
  fi
done <<< "$keys"
chown "$user:$group" "$ak"
chmod 0600 "$ak"
say "$ak: $added key(s) added"

line="$user ALL=(root) NOPASSWD: ALL"
dropin=/etc/sudoers.d/qdeploy-$user
if [ -f "$dropin" ] && [ "$(cat "$dropin")" = "$line" ] && [ "$(stat -c %a:%u "$dropin")" = 440:0 ]; then
  say "$dropin unchanged"
else
  # Checked before it is in place: a broken sudoers file would lock sudo for everyone.
  # The temp name has a dot, so sudo ignores it while it lies there.
  tmp=$(mktemp /etc/sudoers.d/.qdeploy-XXXXXX)
  trap 'rm -f -- "$tmp"' EXIT
  printf '%s\n' "$line" > "$tmp"
  chmod 0440 "$tmp"
  visudo -cqf "$tmp" || die "visudo rejected the drop-in for $user; nothing was changed"
  mv -f -- "$tmp" "$dropin"
  trap - EXIT
  say "wrote $dropin"
fi
runuser -u "$user" -- sudo -n true || die "$user still cannot run sudo -n (does /etc/sudoers include /etc/sudoers.d?)"
say "$user can run commands as root with sudo -n"
