/**
 * A password-style prompt: one line typed on a terminal, never echoed. `secrets set ENV KEY`
 * uses it so a value reaches neither the shell's history, the process list, nor the screen.
 */
import { OperationError } from "../errors.ts";

/** The state of a line being typed: its text, and whether Enter or Ctrl-C ended it. */
export interface HiddenLine {
  text: string;
  done: null | "enter" | "cancel";
}

/**
 * Applies keys as a terminal in raw mode delivers them: Enter (CR or LF) ends the line;
 * Ctrl-C, Ctrl-\ or Ctrl-D on an empty line (end of input) cancels, Ctrl-D after text does
 * nothing (the value is only ever ended by Enter); Backspace removes the last character,
 * Ctrl-U all of them; other control characters (arrow keys' escapes included) are dropped. Pure.
 */
export function typeKeys(line: HiddenLine, keys: string): HiddenLine {
  let { text, done } = line;
  for (const ch of keys) {
    if (done) break;
    if (ch === "\r" || ch === "\n") done = "enter";
    else if (ch === "\x03" || ch === "\x1c" || (ch === "\x04" && text === "")) done = "cancel";
    else if (ch === "\x15") text = "";
    else if (ch === "\x7f" || ch === "\b") text = [...text].slice(0, -1).join("");
    else if (ch >= " " || ch === "\t") text += ch;
  }
  return { text, done };
}

/** A terminal to prompt on: process.stdin and process.stderr fit. */
export interface PromptTerminal {
  input: NodeJS.ReadStream;
  output: NodeJS.WritableStream;
}

/** Turns echo off (raw mode), writes `prompt`, reads one line, restores the terminal. */
export async function readHiddenLine(prompt: string, tty: PromptTerminal): Promise<string> {
  const { input, output } = tty;
  // Echo off before the prompt shows: a key typed as soon as it appears must not be echoed.
  input.setRawMode(true);
  output.write(prompt);
  let line: HiddenLine = { text: "", done: null };
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer | string) => {
        line = typeKeys(line, chunk.toString());
        if (!line.done) return;
        input.off("data", onData);
        input.off("end", onEnd);
        resolve();
      };
      const onEnd = () => {
        input.off("data", onData);
        reject(new OperationError("the terminal closed before a value was typed: nothing was changed"));
      };
      input.on("data", onData);
      input.once("end", onEnd);
      input.resume();
    });
  } finally {
    input.setRawMode(false);
    input.pause();
    output.write("\n");
  }
  if (line.done === "cancel") throw new OperationError("cancelled: nothing was changed");
  return line.text;
}
