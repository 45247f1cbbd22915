/** A parser benchmark: a generator of realistic input of a given size, and the parse call to time. */
export interface ParserBench {
  /** Key under `parsers.` in bench/results/latest.json, e.g. `mountinfo`. */
  readonly name: string;
  /** Text that looks like real input of this format, at least `targetBytes` long (UTF-8 bytes). */
  generate(targetBytes: number): string;
  /** Parses the whole text; the return value is kept alive so the work is not optimised away. */
  parse(text: string): unknown;
}
