import { describe, expect, test } from "bun:test";
import { renderTemplate } from "./template.ts";

describe("renderTemplate", () => {
  test("fills every placeholder, as often as it appears", () => {
    expect(renderTemplate("{{a}}-{{b}}@{{a}}", { a: "x", b: "y" })).toBe("x-y@x");
  });

  test("does not re-scan values or treat $ patterns specially", () => {
    expect(renderTemplate("[{{a}}]", { a: "{{b}} $& $1" })).toBe("[{{b}} $& $1]");
  });

  test("throws on a placeholder without a value", () => {
    expect(() => renderTemplate("{{a}} {{b}}", { a: "x" }, "t")).toThrow("t: no value for placeholder {{b}}");
  });

  test("throws on a value without a placeholder", () => {
    expect(() => renderTemplate("{{a}}", { a: "x", c: "z" }, "t")).toThrow("t: no placeholder for {{c}}");
  });

  test("throws on a malformed placeholder", () => {
    expect(() => renderTemplate("{{a}} {{ b }}", { a: "x" }, "t")).toThrow('t: malformed placeholder near "{{ b }}"');
  });
});
