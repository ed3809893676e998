#!/bin/bash
# qdeploy's inbound firewall: installed as /etc/qdeploy/firewall/apply by setup, run by setup
# and by qdeploy-firewall.service at boot. It (re)loads one nftables table of its own,
# `inet qdeploy`, that drops inbound traffic except loopback, replies, ICMP, DHCP replies,
# the TCP ports every app on this host asked for (/etc/qdeploy/firewall/APP.ports, the
# union), the ports sshd listens on (Port and ListenAddress), and each add-on's port from
# the addresses its .from file lists (server/addon.sh: `PORT ADDRESS...`, an add-on the
# environment's other hosts reach), so an app bound to 0.0.0.0:$PORT is reachable only
# through Caddy. Other tables (the host's own rules) are
# left as they are. The table is replaced in one nft transaction: there is no moment
# without a policy.
set -euo pipefail
dir=${BASH_SOURCE[0]%/*}

ports=()
for f in "$dir"/*.ports; do
  [ -f "$f" ] || continue
  read -r -a more < "$f" || true
  ports+=("${more[@]}")
done
# sshd's effective config; `port 22` when sshd cannot say. At boot this runs before
# ssh.service has made /run/sshd, without which `sshd -T` refuses ("Missing privilege
# separation directory") and only 22 would be admitted: the directory is made for the
# call and removed after, so ssh.service finds /run as it would have.
sshd_config() {
  local made=""
  if [ ! -d /run/sshd ] && mkdir -m 0755 /run/sshd 2>/dev/null; then made=1; fi
  sshd -T 2>/dev/null || printf 'port 22\n'
  [ -z "$made" ] || rmdir /run/sshd 2>/dev/null || true
}
# Never lock out SSH: every port sshd listens on (sshd -T reads every Include), and the port
# of the session running this, if any. sshd -T prints `port N` for each Port and
# `listenaddress ADDR:PORT` for each socket (`[ADDR]:PORT` for IPv6, then ` rdomain NAME`
# when one is set); a ListenAddress with its own port (`ListenAddress 0.0.0.0:2222`) adds
# only a listenaddress line, so both kinds are read: the union (the loop below drops repeats
# and refuses what is not a port number).
while read -r key value _; do
  case $key in
    port) ports+=("$value") ;;
    listenaddress) ports+=("${value##*:}") ;;
  esac
done < <(sshd_config)
[ -n "${SSH_CONNECTION:-}" ] && ports+=("${SSH_CONNECTION##* }")

# Add-ons: a port admitted from its clients alone, IPv4 and IPv6 apart.
from_rules=""
for f in "$dir"/*.from; do
  [ -f "$f" ] || continue
  while read -r p addrs; do
    [ -n "$p" ] || continue
    [[ $p =~ ^[0-9]+$ ]] && (( p >= 1 && p <= 65535 )) || { printf 'firewall: bad port %q in %s\n' "$p" "$f" >&2; exit 1; }
    v4="" v6=""
    for a in $addrs; do
      if [[ $a =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; then v4+="${v4:+, }$a"
      elif [[ $a =~ ^[0-9a-fA-F:]*:[0-9a-fA-F:]*$ ]]; then v6+="${v6:+, }$a"
      else printf 'firewall: bad address %q in %s\n' "$a" "$f" >&2; exit 1
      fi
    done
    [ -n "$v4" ] && from_rules+="    ip saddr { $v4 } tcp dport $p accept comment \"${f##*/}\""$'\n'
    [ -n "$v6" ] && from_rules+="    ip6 saddr { $v6 } tcp dport $p accept comment \"${f##*/}\""$'\n'
  done < "$f"
done

tcp="" udp_rule=""
declare -A seen=()
for p in "${ports[@]}"; do
  [[ $p =~ ^[0-9]+$ ]] && (( p >= 1 && p <= 65535 )) || { printf 'firewall: bad port %q\n' "$p" >&2; exit 1; }
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  tcp+="${tcp:+, }$p"
  # HTTP/3 is QUIC on UDP 443.
  [ "$p" = 443 ] && udp_rule="udp dport 443 accept comment \"HTTP/3\""
done

nft -f - <<EOF
table inet qdeploy
delete table inet qdeploy
table inet qdeploy {
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    ct state invalid drop
    meta l4proto { 1, 58 } accept comment "ICMP, ICMPv6 (numbers: a bare server may lack /etc/protocols)"
    udp dport { 68, 546 } accept comment "DHCP replies"
    tcp dport { $tcp } accept
    $udp_rule
$from_rules  }
}
EOF
printf 'firewall: inbound TCP %s%s%s; everything else dropped\n' "$tcp" "${udp_rule:+, UDP 443}" "${from_rules:+; add-ons from their hosts only}"
