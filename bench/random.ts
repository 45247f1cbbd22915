/** Deterministic randomness for the generated bench inputs, so every run parses the same bytes. */

/** mulberry32: a uniform value in [0, 1) per call. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` lowercase hex digits drawn from `rand`. */
export function hexOf(rand: () => number, n: number): string {
  let s = "";
  while (s.length < n)
    s += Math.floor(rand() * 0x100000000)
      .toString(16)
      .padStart(8, "0");
  return s.slice(0, n);
}
