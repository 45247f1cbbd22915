/** Reads a command-output fixture from test/fixtures/{real,synthetic}/commands (see each README). */
import { readFileSync } from "node:fs";

export function commandFixture(kind: "real" | "synthetic", name: string): string {
  return readFileSync(new URL(`../../../fixtures/${kind}/commands/${name}`, import.meta.url), "utf8");
}
