/**
 * Heroku's Procfile: `name: command` lines, `#` comments and blank lines. Used when
 * deploy.toml has no [processes] table.
 */
import type { ConfigProblem } from "../errors.ts";
import { PROCESS_PATTERN } from "./schema.ts";

/** The processes a Procfile declares, the line of each, and what is wrong with it (each with its line). */
export function parseProcfile(
  text: string,
  file = "Procfile",
): { processes: Record<string, string>; lines: Record<string, number>; problems: ConfigProblem[] } {
  const processes: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  const firstLine: Record<string, number> = {};
  const namePattern = new RegExp(PROCESS_PATTERN);
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const colon = trimmed.indexOf(":");
    if (colon < 0) {
      problems.push({ file, line, path: "", message: `expected "name: command", got "${trimmed}"` });
      return;
    }
    const name = trimmed.slice(0, colon).trim();
    const command = trimmed.slice(colon + 1).trim();
    if (!namePattern.test(name)) {
      problems.push({
        file, line, path: name,
        message: `bad process name; use lowercase letters, digits, - and _, starting with a letter`,
      });
      return;
    }
    if (command === "") {
      problems.push({ file, line, path: name, message: "empty command" });
      return;
    }
    if (firstLine[name] !== undefined) {
      problems.push({ file, line, path: name, message: `defined twice (first on line ${firstLine[name]})` });
      return;
    }
    firstLine[name] = line;
    processes[name] = command;
  });
  return { processes, lines: firstLine, problems };
}
