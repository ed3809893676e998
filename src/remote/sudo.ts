/**
 * A login other than root reaches root through `sudo -n`: every command the SSH Remote runs
 * (exec, write, upload, the deploy lock's shell) is prefixed here, in this one place.
 * `-n` never prompts: a host that wants a password fails at once, with what to do.
 */

/** What comes before the argv of every command when the login user is not root. */
export const SUDO = ["sudo", "-n", "--"] as const;

/** argv as it runs for loginUser: unchanged for root, else through `sudo -n --`. */
export function privilegedArgv(loginUser: string, argv: string[]): string[] {
  return loginUser === "root" ? argv : [...SUDO, ...argv];
}

/** What a user of env should do to let loginUser sudo without a password. */
export function sudoAdvice(loginUser: string, env = "ENV"): string {
  return (
    `run \`qdeploy setup ${env} --bootstrap\` once (it logs in as root and sets ${loginUser} up), ` +
    `or add the line "${sudoersLine(loginUser)}" to /etc/sudoers.d/qdeploy-${loginUser} with visudo -f`
  );
}

/** The sudoers drop-in's one line: loginUser may run anything as root, without a password. */
export function sudoersLine(loginUser: string): string {
  return `${loginUser} ALL=(root) NOPASSWD: ALL`;
}

/**
 * Why sudo itself refused a command (from its exit code and stderr), or null when the
 * command ran. sudo exits 1 with its own `sudo: ...` line; a host without sudo exits 127.
 */
export function sudoRefusal(loginUser: string, code: number | null, stderr: string, env?: string): string | null {
  if (code === 127 && /\bsudo: (?:command )?not found|sudo: No such file/i.test(stderr)) {
    return `sudo is not installed on this host, and user ${loginUser} is not root; ${sudoAdvice(loginUser, env)}`;
  }
  if (code !== 1) return null;
  const said = /^sudo: (.*(?:password is required|terminal is required|must have a tty|not in the sudoers file|is not allowed to execute|may not run sudo).*)$/m.exec(stderr);
  if (!said) return null;
  return `user ${loginUser} cannot run commands as root without a password (sudo -n: ${said[1]!.trim()}); ${sudoAdvice(loginUser, env)}`;
}
