/** Turns a stream of chunks into whole lines for `onLine`; call `flush` at the end. */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: string) => void; flush: () => void } {
  let partial = "";
  return {
    push(chunk) {
      partial += chunk;
      let i: number;
      while ((i = partial.indexOf("\n")) >= 0) {
        onLine(partial.slice(0, i));
        partial = partial.slice(i + 1);
      }
    },
    flush() {
      if (partial) onLine(partial);
      partial = "";
    },
  };
}
