import { describe, expect, test } from "bun:test";
import { privilegedArgv, sudoRefusal } from "./sudo.ts";

describe("privilegedArgv", () => {
  test("root runs argv as it is", () => {
    expect(privilegedArgv("root", ["bash", "-s"])).toEqual(["bash", "-s"]);
  });
  test("anyone else goes through sudo -n, argv kept word for word", () => {
    expect(privilegedArgv("deploy", ["sh", "-c", "a b", "sh", "-n"])).toEqual(["sudo", "-n", "--", "sh", "-c", "a b", "sh", "-n"]);
  });
});

describe("sudoRefusal", () => {
  const advice =
    'run `qdeploy setup prod --bootstrap` once (it logs in as root and sets deploy up), or add the line "deploy ALL=(root) NOPASSWD: ALL" to /etc/sudoers.d/qdeploy-deploy with visudo -f';
  const rows: [string, number | null, string, string | null][] = [
    ["a password wanted", 1, "sudo: a password is required\n", `user deploy cannot run commands as root without a password (sudo -n: a password is required); ${advice}`],
    [
      "not allowed",
      1,
      "Sorry, user deploy is not allowed to execute '/bin/bash -s' as root on h.\nsudo: user deploy is not allowed to execute /bin/bash as root\n",
      `user deploy cannot run commands as root without a password (sudo -n: user deploy is not allowed to execute /bin/bash as root); ${advice}`,
    ],
    ["no sudo on the host", 127, "bash: line 1: sudo: command not found\n", `sudo is not installed on this host, and user deploy is not root; ${advice}`],
    ["dash says not found", 127, "sh: 1: sudo: not found\n", `sudo is not installed on this host, and user deploy is not root; ${advice}`],
    [
      "requiretty (RHEL's old default)",
      1,
      "sudo: sorry, you must have a tty to run sudo\n",
      `user deploy cannot run commands as root without a password (sudo -n: sorry, you must have a tty to run sudo); ${advice}`,
    ],
    ["the command's own failure", 1, "grep: x: No such file\n", null],
    ["a command printing sudo-like text with another code", 3, "sudo: a password is required\n", null],
    ["success", 0, "", null],
  ];
  for (const [name, code, stderr, want] of rows) {
    test(name, () => expect(sudoRefusal("deploy", code, stderr, "prod")).toBe(want));
  }
});
