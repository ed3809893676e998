import { expect, test } from "bun:test";
import { cacheDir, configDir } from "./dirs.ts";

test("Linux: ~/.cache/qdeploy and ~/.config/qdeploy; the XDG variables win when set", () => {
  expect(cacheDir({ HOME: "/home/u" }, "linux")).toBe("/home/u/.cache/qdeploy");
  expect(configDir({ HOME: "/home/u" }, "linux")).toBe("/home/u/.config/qdeploy");
  expect(cacheDir({ HOME: "/home/u", XDG_CACHE_HOME: "/x/cache" }, "linux")).toBe("/x/cache/qdeploy");
  expect(configDir({ HOME: "/home/u", XDG_CONFIG_HOME: "/x/config" }, "linux")).toBe("/x/config/qdeploy");
});

test("macOS: ~/Library/Caches and ~/Library/Application Support, unless the XDG variables are set", () => {
  expect(cacheDir({ HOME: "/Users/u" }, "darwin")).toBe("/Users/u/Library/Caches/qdeploy");
  expect(configDir({ HOME: "/Users/u" }, "darwin")).toBe("/Users/u/Library/Application Support/qdeploy");
  expect(configDir({ HOME: "/Users/u", XDG_CONFIG_HOME: "/Users/u/.config" }, "darwin")).toBe("/Users/u/.config/qdeploy");
});
