/** Which GOOS/GOARCH (and GOARM) to build for, from a host's `uname -m`. Pure. */

import { OperationError } from "../errors.ts";

/** A Go build target. qdeploy deploys to Linux only. */
export interface GoTarget {
  goos: "linux";
  goarch: string;
  /** Only for goarch "arm": "6" or "7". */
  goarm?: string;
}

// `uname -m` spellings -> Go's names. armv8l is a 32-bit userland on a 64-bit ARM kernel,
// which runs ARMv7 code.
const MACHINES: Record<string, Omit<GoTarget, "goos">> = {
  x86_64: { goarch: "amd64" },
  amd64: { goarch: "amd64" },
  aarch64: { goarch: "arm64" },
  arm64: { goarch: "arm64" },
  armv8l: { goarch: "arm", goarm: "7" },
  armv7l: { goarch: "arm", goarm: "7" },
  armv7: { goarch: "arm", goarm: "7" },
  armv6l: { goarch: "arm", goarm: "6" },
  i686: { goarch: "386" },
  i386: { goarch: "386" },
  riscv64: { goarch: "riscv64" },
  ppc64le: { goarch: "ppc64le" },
  s390x: { goarch: "s390x" },
  loongarch64: { goarch: "loong64" },
};

/** The Go target for a Linux host whose `uname -m` printed `unameM`; throws for unknown CPUs. */
export function goTarget(unameM: string): GoTarget {
  const machine = unameM.trim().toLowerCase();
  // hasOwn: "constructor" or "__proto__" must not look like a machine.
  const t = Object.hasOwn(MACHINES, machine) ? MACHINES[machine] : undefined;
  if (!t) {
    throw new OperationError(
      `unsupported CPU architecture ${JSON.stringify(unameM)} (from \`uname -m\` on the host): ` +
        `qdeploy can build for ${Object.keys(MACHINES).join(", ")}`,
    );
  }
  return { goos: "linux", ...t };
}

/** "linux/amd64", "linux/arm/v7": the target as people (and Docker) write it. */
export function platformName(t: GoTarget): string {
  return `linux/${t.goarch}${t.goarm ? `/v${t.goarm}` : ""}`;
}
