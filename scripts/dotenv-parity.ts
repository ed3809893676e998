/**
 * Compares src/secrets/dotenv.ts with the real npm `dotenv` package's `parse`, which is not a
 * dependency of qdeploy: install it anywhere and pass its folders.
 *
 *   mkdir /tmp/d16 && npm i --prefix /tmp/d16 dotenv@16
 *   bun scripts/dotenv-parity.ts /tmp/d16/node_modules/dotenv [/tmp/d17/node_modules/dotenv ...]
 *
 * 1. Random values written by formatDotenv must read back identically in both parsers.
 * 2. Random texts (and line-shaped ones) that parseDotenv reads without a problem must read identically in dotenv.
 * Exits 1 on any difference, printing the first few.
 */
import { dotenvValueProblem, formatDotenv, parseDotenv } from "../src/secrets/dotenv.ts";

const parsers = process.argv.slice(2).map((dir) => (require(dir) as { parse: (s: string) => Record<string, string> }).parse);
if (!parsers.length) {
  console.error("usage: bun scripts/dotenv-parity.ts DOTENV_PACKAGE_DIR...");
  process.exit(2);
}
let seed = 42;
const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
const pick = (alphabet: string[], max: number) => Array.from({ length: rand(max) }, () => alphabet[rand(alphabet.length)]).join("");
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
let differences = 0;
const differ = (...what: unknown[]) => {
  if (++differences <= 5) console.log("DIFFERENT", ...what.map((w) => JSON.stringify(w)));
};

const values = ["a", "b", " ", "\t", "'", '"', "`", "\\", "#", "=", "\n", "\r", "n", "r", "$", "é", "x"];
let written = 0;
let refused = 0;
for (let i = 0; i < 20000; i++) {
  const vals: Record<string, string> = {};
  for (let k = 0; k < 1 + rand(5); k++) vals[`K${k}`] = pick(values, 9);
  if (Object.values(vals).some((v) => dotenvValueProblem(v) !== null)) {
    refused++;
    continue;
  }
  const text = formatDotenv(vals);
  const mine = parseDotenv(text);
  if (mine.problems.length || !same(mine.values, vals)) differ("qdeploy", vals, text);
  for (const parse of parsers) if (!same(parse(text), vals)) differ("dotenv", vals, text, parse(text));
  written++;
}

const texts = ["A", "B", "=", " ", "'", '"', "`", "\\", "#", "\n", "\n", "x", "export ", "n", "\r\n", ":"];
let agreed = 0;
let problems = 0;
// Line-shaped texts too: a key part, then a value of awkward characters.
const keys = ["A=", "B = ", "export C=", "  D=", "E=\t", "# c", "", "F= '", 'G="', "H=`"];
const lineShaped = () => Array.from({ length: 1 + rand(5) }, () => keys[rand(keys.length)] + pick(values, 8)).join("\n");
for (let i = 0; i < 100000; i++) {
  const text = i % 2 ? pick(texts, 30) : lineShaped();
  const mine = parseDotenv(text);
  if (mine.problems.length) {
    problems++;
    continue;
  }
  for (const parse of parsers) {
    if (same(parse(text), mine.values)) agreed++;
    else differ("text", text, parse(text), mine.values);
  }
}
console.log({ written, refused, agreed, problems, differences });
process.exit(differences ? 1 : 0);
