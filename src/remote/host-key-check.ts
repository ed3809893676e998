/**
 * Whether connectSsh (./ssh.ts) trusts the host key a server presents, judged against
 * known_hosts (./known-hosts.ts) and ssh.host_key, and which key types it asks for first.
 */
import { appendKnownHost, blobKeyType, checkHostKey, fingerprint, knownHostName, lookupHostKey, type KnownHostEntry } from "./known-hosts.ts";
import type { SshEndpoint } from "./ssh-config.ts";

/** The known_hosts file, ssh.host_key, and where an accept-new addition is reported. */
export interface HostKeyPolicy {
  knownHosts: string;
  hostKey: "strict" | "accept-new";
  log: (line: string) => void;
}

/**
 * Why the key a server presents is refused (revoked, changed, or unknown under "strict"),
 * or undefined when it is trusted. Under "accept-new" an unknown key is appended to
 * known_hosts here, and that is logged.
 */
export function hostKeyRefusal(
  key: Buffer,
  entries: KnownHostEntry[],
  addr: SshEndpoint,
  policy: HostKeyPolicy,
  label: string,
  prefix: string,
): string | undefined {
  const hkName = knownHostName(addr.host, addr.port);
  const fp = fingerprint(key);
  const status = checkHostKey(entries, addr.host, addr.port, key);
  if (status === "ok") return undefined;
  if (status === "revoked") {
    return `host key for ${hkName} (${fp}) is marked @revoked in ${policy.knownHosts}; refusing to connect`;
  }
  if (status === "mismatch") {
    const expected = lookupHostKey(entries, addr.host, addr.port)
      .matches.map((e) => `${fingerprint(e.key)} (${e.keyType}, ${policy.knownHosts}:${e.line})`)
      .join(", ");
    return (
      `host key for ${hkName} has CHANGED: the server presented ${fp} (${blobKeyType(key)}) but ${policy.knownHosts} expects ${expected}; ` +
      `if the server was rebuilt, remove the old entry (ssh-keygen -R '${hkName}' -f ${policy.knownHosts}), otherwise someone may be intercepting the connection`
    );
  }
  if (policy.hostKey === "accept-new") {
    try {
      appendKnownHost(policy.knownHosts, addr.host, addr.port, blobKeyType(key), key);
    } catch (e) {
      return `cannot add the host key for ${hkName} to ${policy.knownHosts}: ${(e as Error).message}`;
    }
    policy.log(`${label}: ${prefix}added host key ${fp} for ${hkName} to ${policy.knownHosts} (accept-new)`);
    return undefined;
  }
  const keyscan = `ssh-keyscan${addr.port === 22 ? "" : ` -p ${addr.port}`} ${addr.host} >> ${policy.knownHosts}`;
  return (
    `host key for ${hkName} is not in ${policy.knownHosts} (${fp}); add it with \`${keyscan}\` after checking the fingerprint, ` +
    `or set ssh.host_key = "accept-new"`
  );
}

/** Host-key-type algorithms to offer first, so a server with several keys presents the one we know. */
export function hostKeyAlgorithms(knownTypes: string[]): string[] | undefined {
  const all = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
  ];
  if (!knownTypes.length) return undefined;
  const first = all.filter((a) => knownTypes.includes(a.startsWith("rsa-sha2") ? "ssh-rsa" : a));
  return [...first, ...all.filter((a) => !first.includes(a))];
}
