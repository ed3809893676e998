/** Quotes one word for a POSIX shell (the model is zx's `quote`). */
export function quote(word: string): string {
  if (word === "") return "''";
  if (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quotes an argv into one shell command line, once, at the SSH boundary. */
export function quoteArgv(argv: string[]): string {
  return argv.map(quote).join(" ");
}
