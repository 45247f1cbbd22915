#!/usr/bin/env node
// `npx faultline ...`: runs the bundled CLI that `npm ci` (prepare) builds into dist/.
import { existsSync } from "node:fs";

const cli = new URL("../dist/faultline.mjs", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    "faultline: dist/faultline.mjs is missing; run `npm run build` in the faultline checkout\n",
  );
  process.exit(2);
}
await import(cli.href);
