/**
 * Shell completion. The scripts are thin: each asks `qdeploy __complete -- WORDS...` (the words
 * typed so far, the last being the one under the cursor) for candidates, so bash, zsh and fish
 * complete the same commands, subcommands, flags, flag values and environment names, all read
 * off the command table and deploy.toml. No candidates means "complete a file name".
 */
import { readFile } from "node:fs/promises";
import TOML from "@iarna/toml";
import { UsageError } from "../errors.ts";
import { COMMANDS } from "./commands.ts";
import { allFlags, commandsUnder, findCommand } from "./parse.ts";
import { argSpecs, type CommandSpec, type FlagSpec, GLOBAL_FLAGS } from "./spec.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;

/** The candidates for the last word of `words` (the command line after `qdeploy`). */
export async function completeWords(words: string[], configFile = "deploy.toml", commands: CommandSpec[] = COMMANDS): Promise<string[]> {
  const cur = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  if (before.includes("--")) return [];
  const flags = allFlags(commands);
  const positionals: string[] = [];
  let config = configFile;
  let valueOf: FlagSpec | undefined;
  for (const w of before) {
    if (valueOf) {
      if (valueOf.name === "config") config = w;
      valueOf = undefined;
    } else if (w.startsWith("--") && w.includes("=")) {
      if (w.startsWith("--config=")) config = w.slice("--config=".length);
    } else if (w.startsWith("-") && w.length > 1) {
      const f = flags.find((x) => `--${x.name}` === w || `-${x.short}` === w);
      if (f && f.type !== "bool") valueOf = f;
    } else {
      positionals.push(w);
    }
  }
  const found = findCommand(positionals, commands);
  const starting = (xs: Iterable<string>) => [...new Set(xs)].filter((x) => x.startsWith(cur)).sort();

  if (valueOf) {
    // The command's own flag of that name: --role is a process for push, a token role for serve token add.
    valueOf = found?.command.flags.find((f) => f.name === valueOf!.name) ?? valueOf;
    if (valueOf.choices) return starting(valueOf.choices);
    if (valueOf.name === "install") return starting(await environments(config));
    if (valueOf.name === "role") return starting(await processes(config));
    return [];
  }
  if (cur.startsWith("-")) {
    const own = found ? found.command.flags : [];
    return starting([...own, ...GLOBAL_FLAGS].map((f) => `--${f.name}`));
  }
  const under = commandsUnder(positionals, commands);
  if (!found || (under.length && positionals.length === found.used)) {
    const next = under.map((c) => c.name.split(" ")[positionals.length]!);
    if (next.length || !found) return starting(next);
  }
  if (!found) return [];
  const { command, used } = found;
  const specs = argSpecs(command.usage);
  const at = positionals.length - used;
  const spec = specs[at] ?? (specs.at(-1)?.variadic ? specs.at(-1) : undefined);
  switch (spec?.name) {
    case "ENV":
    case "FROM":
    case "TO":
      return starting(await environments(config));
    case "PROCESS":
      return starting(await processes(config));
    case "SHELL":
      return starting(SHELLS);
    case "COMMAND": {
      const asked = positionals.slice(used);
      return starting(commandsUnder(asked, commands).map((c) => c.name.split(" ")[asked.length]!));
    }
    default:
      return [];
  }
}

async function readToml(file: string): Promise<Record<string, unknown>> {
  try {
    return TOML.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  } catch {
    return {}; // completion never fails: a broken deploy.toml just offers no names
  }
}

async function environments(file: string): Promise<string[]> {
  const envs = (await readToml(file)).environments;
  return envs && typeof envs === "object" ? Object.keys(envs) : [];
}

async function processes(file: string): Promise<string[]> {
  const procs = (await readToml(file)).processes;
  return procs && typeof procs === "object" ? Object.keys(procs) : ["web"];
}

/** The script for one shell: `source <(qdeploy completion bash)`. */
export function completionScript(shell: string): string {
  switch (shell) {
    case "bash":
      return `# qdeploy completion for bash: source <(qdeploy completion bash)
_qdeploy() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  local IFS=$'\\n'
  COMPREPLY=($(qdeploy __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
  if [[ \${#COMPREPLY[@]} -eq 0 ]]; then COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o filenames -F _qdeploy qdeploy
`;
    case "zsh":
      return `#compdef qdeploy
# qdeploy completion for zsh: source <(qdeploy completion zsh), or save it as _qdeploy in $fpath
_qdeploy() {
  local -a candidates
  candidates=("\${(@f)$(qdeploy __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=("\${(@)candidates:#}")
  if (( \${#candidates} )); then
    compadd -a candidates
  else
    _files
  fi
}
if [[ "\${funcstack[1]}" == "_qdeploy" ]]; then _qdeploy "$@"; else compdef _qdeploy qdeploy; fi
`;
    case "fish":
      return `# qdeploy completion for fish: qdeploy completion fish | source
function __qdeploy_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l candidates (qdeploy __complete -- $words[2..-1] 2>/dev/null)
    if test (count $candidates) -gt 0
        printf '%s\\n' $candidates
    else
        __fish_complete_path (commandline -ct)
    end
end
complete -c qdeploy -f -a '(__qdeploy_complete)'
`;
    default:
      throw new UsageError(`completion: no script for "${shell}": bash, zsh or fish`);
  }
}
