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

/**
 * One word in a list go splits itself (-ldflags, CC: cmd/internal/quoted): spaces separate,
 * '...' and "..." quote, there are no escapes. null when no quoting can carry the word.
 */
export function quoteGoWord(word: string): string | null {
  if (!/[\s'"]/.test(word)) return word;
  if (!word.includes("'")) return `'${word}'`;
  if (!word.includes('"')) return `"${word}"`;
  return null;
}
