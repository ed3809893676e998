import { describe, expect, test } from "bun:test";
import { parseHost } from "../config/resolve.ts";
import { resolveSshTarget } from "./ssh-config.ts";

const CONFIG = `
Host prod
  HostName 203.0.113.10
  User deploy
  Port 2200
  IdentityFile ~/.ssh/prod_ed25519
  IdentityFile ~/.ssh/%r-%h

Host inner
  HostName 10.0.0.7
  ProxyJump ops@bastion:2022

Host bastion
  HostName 198.51.100.1
  IdentityFile ~/.ssh/bastion

Host nojump
  ProxyJump none

Host multi
  ProxyJump a,b

Host *.example.com
  User %r-never-expanded
  Port 2222

Host *
  IdentityFile ~/.ssh/everywhere
`;

const resolve = (label: string, jump?: string, text: string | null = CONFIG, loginUser?: string) =>
  resolveSshTarget(parseHost(label), jump ? { jump } : {}, text, loginUser);

describe("resolveSshTarget", () => {
  test("an alias takes HostName, User, Port and every IdentityFile, in order, %-tokens expanded", () => {
    expect(resolve("prod")).toEqual({
      user: "deploy",
      host: "203.0.113.10",
      port: 2200,
      label: "prod",
      identityFiles: ["~/.ssh/prod_ed25519", "~/.ssh/deploy-203.0.113.10", "~/.ssh/everywhere"],
    });
  });

  test("deploy.toml's user and port win over ~/.ssh/config's", () => {
    expect(resolve("admin@prod:22")).toMatchObject({ user: "admin", host: "203.0.113.10", port: 22 });
  });

  test("setup --bootstrap's user wins over both; the jump host keeps the host's own user", () => {
    expect(resolve("admin@prod", undefined, CONFIG, "root")).toMatchObject({ user: "root", host: "203.0.113.10", port: 2200 });
    expect(resolve("admin@prod", "bastion", CONFIG, "root").jump).toMatchObject({ user: "admin", host: "198.51.100.1" });
  });

  test("no entry and no file: root, port 22, the name as written, no keys", () => {
    const want = { user: "root", host: "198.51.100.9", port: 22, label: "198.51.100.9", identityFiles: [] };
    expect(resolve("198.51.100.9", undefined, null)).toEqual(want);
    expect(resolve("198.51.100.9", undefined, "")).toEqual(want);
  });

  test("wildcard Host patterns apply; the first value obtained wins", () => {
    expect(resolve("db.example.com")).toMatchObject({ user: "%r-never-expanded", host: "db.example.com", port: 2222 });
  });

  test("ProxyJump is resolved through ~/.ssh/config too; its user defaults to the host's", () => {
    expect(resolve("inner").jump).toEqual({
      user: "ops",
      host: "198.51.100.1",
      port: 2022,
      label: "ops@bastion:2022",
      identityFiles: ["~/.ssh/bastion", "~/.ssh/everywhere"],
    });
    expect(resolve("deploy@inner", "bastion").jump).toMatchObject({ user: "deploy", host: "198.51.100.1", port: 22 });
  });

  test("ssh.jump wins over ProxyJump; ProxyJump none is no jump", () => {
    expect(resolve("inner", "ops@198.51.100.2").jump).toMatchObject({ user: "ops", host: "198.51.100.2", port: 22 });
    expect(resolve("nojump").jump).toBeUndefined();
  });

  test("several hops are refused, by name", () => {
    expect(() => resolve("multi")).toThrow("multi: ProxyJump a,b has several hops; qdeploy supports one jump host");
  });

  test("a Port that is not a port is an error naming the host", () => {
    expect(() => resolve("x", undefined, "Host x\n  Port http\n")).toThrow('x: ~/.ssh/config gives Port "http", not 1..65535');
  });

  test("directives are case-insensitive, as in OpenSSH", () => {
    expect(resolve("y", undefined, "host y\n  HOSTNAME 192.0.2.1\n  user Ops\n")).toMatchObject({ user: "Ops", host: "192.0.2.1" });
  });
});
