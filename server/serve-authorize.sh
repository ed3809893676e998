# Lets the installed server log in to this host as its deploy user: run as
# `bash -c SCRIPT serve-authorize USER` (root) with the server's public key on stdin. Adds the
# key to USER's authorized_keys once, then prints this host's ed25519 host key (for the
# server's known_hosts).
set -euo pipefail
user=$1
IFS= read -r key
home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || { echo "no user $user on this host" >&2; exit 1; }
install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$home/.ssh"
f=$home/.ssh/authorized_keys
if grep -qxF -- "$key" "$f" 2>/dev/null; then
  echo "authorized=already"
else
  printf '%s\n' "$key" >> "$f"
  chown "$user:$(id -gn "$user")" "$f"
  chmod 0600 "$f"
  echo "authorized=added"
fi
echo "hostkey=$(cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub)"
