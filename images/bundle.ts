// Bundles the agent and CLI into one ESM file (dist/slipway.mjs) for the OS image: no node_modules
// on the host, just this file and the Node binary.

import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const outfile = 'dist/slipway.mjs';
await build({
  entryPoints: ['agent/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: false,
  sourcemap: 'inline',
  legalComments: 'eof',
  // Some dependencies are CommonJS and call require() for Node built-ins.
  banner: { js: "import { createRequire as __slipwayCreateRequire } from 'node:module'; const require = __slipwayCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
await chmod(outfile, 0o755);
console.log(`wrote ${outfile}`);
