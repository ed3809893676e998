import { expect, test } from "bun:test";
import { editLines, listLines, recipientsLines, setLines, unsetLines } from "./secrets.ts";

const file = "secrets/prod.env.age";
const none = { env: "prod", added: [], changed: [], removed: [], file };

test("set and import: the names set, the environment and the file", () => {
  expect(setLines({ env: "prod", set: ["TLS_KEY", "A"], file })).toEqual(["set TLS_KEY, A in prod (secrets/prod.env.age)"]);
});

test("unset: the names removed; none removed, no line", () => {
  expect(unsetLines({ env: "prod", unset: ["A"], absent: ["C"], file })).toEqual(["unset A in prod (secrets/prod.env.age)"]);
  expect(unsetLines({ env: "prod", unset: [], absent: ["C"], file })).toEqual([]);
});

test("list: one name a line", () => {
  expect(listLines({ env: "prod", store: "age", names: ["ALPHA", "MID", "ZED"] })).toEqual(["ALPHA", "MID", "ZED"]);
});

test("edit: what was added, changed, removed; or that nothing was", () => {
  expect(editLines({ ...none, added: ["NEW"] })).toEqual(["added NEW in prod (secrets/prod.env.age)"]);
  expect(editLines({ ...none, added: ["MY_KEY", "B"] })).toEqual(["added MY_KEY, B in prod (secrets/prod.env.age)"]);
  expect(editLines({ ...none, changed: ["A"], removed: ["B"] })).toEqual(["changed A; removed B in prod (secrets/prod.env.age)"]);
  expect(editLines(none)).toEqual(["no changes to prod's secrets"]);
});

test("recipients list: the keys, yours marked; under each file's name when there are several", () => {
  const key = (k: string, you = false) => ({ key: k, comment: null, you });
  const one = { file: "secrets/recipients.txt", exists: true, recipients: [key("age1alice"), key("age1bob", true)] };
  expect(recipientsLines({ files: [one] })).toEqual(["age1alice", "age1bob (you)"]);
  const other = { file: "ops/keys.txt", exists: false, recipients: [] };
  expect(recipientsLines({ files: [one, other] })).toEqual(["secrets/recipients.txt:", "age1alice", "age1bob (you)", "ops/keys.txt:"]);
});
