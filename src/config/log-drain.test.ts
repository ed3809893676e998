import { expect, test } from "bun:test";
import { parseDrain } from "./log-drain.ts";

test("a drain is syslog over TLS with a host and a port; anything else says what to write", () => {
  expect(parseDrain("syslog+tls://logs.papertrailapp.com:12345")).toEqual({ host: "logs.papertrailapp.com", port: 12345, url: "syslog+tls://logs.papertrailapp.com:12345" });
  expect(parseDrain("syslog+tls://[2001:db8::1]:6514")).toMatchObject({ host: "2001:db8::1", port: 6514 });
  const problem = (url: string) => (parseDrain(url) as { problem: string }).problem;
  expect(problem("https://in.logs.example.com/drain")).toStartWith("https:// drains are not supported: Debian's rsyslog");
  expect(problem("syslog://logs.example.com:514")).toBe("syslog:// is not a drain qdeploy knows; write syslog+tls://HOST:PORT (syslog over TLS, RFC 5425)");
  expect(problem("syslog+tls://logs.example.com")).toStartWith("syslog+tls://logs.example.com has no port");
  expect(problem("syslog+tls://logs.example.com:70000")).toBe("port 70000 is not a TCP port (1-65535)");
  expect(problem("logs.example.com:6514")).toStartWith('"logs.example.com:6514" is not a drain URL');
});
