/** "did you mean ...?" for a mistyped command or flag. */

/** Edit distance between two words (insertions, deletions, substitutions, adjacent swaps). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known words closest to `word`, best first: within a third of its length (at least 1,
 * at most 3 edits), or that it is a prefix of ("pu" -> push).
 */
export function suggest(word: string, known: string[]): string[] {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  return known
    .map((k) => ({ k, d: k.startsWith(word) && word.length >= 2 ? 0.5 : editDistance(word, k) }))
    .filter((s) => s.d <= limit)
    .sort((x, y) => x.d - y.d || x.k.localeCompare(y.k))
    .map((s) => s.k);
}

/** " (did you mean push?)" or "" */
export function didYouMean(word: string, known: string[]): string {
  const s = suggest(word, known).slice(0, 3);
  return s.length ? `did you mean ${s.join(" or ")}?` : "";
}
