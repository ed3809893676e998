/** TCP port numbers: one range for every port qdeploy reads (hosts, [serve] listen, [firewall] allow, ~/.ssh/config). */

/** The lowest and highest TCP port. */
export const PORT_MIN = 1;
export const PORT_MAX = 65535;

/** Whether `n` is a TCP port: an integer 1..65535. */
export function isPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= PORT_MIN && n <= PORT_MAX;
}
