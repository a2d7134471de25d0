// Bundles the agent and CLI for the OS image: dist/slipway.mjs and the chunks it imports when a
// command needs them (the other dist/*.mjs), each with its source map. No node_modules on the host:
// these files and the Node binary.

import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';
import { ESM_REQUIRE_BANNER } from './agent-runtime.ts';
import { httpByRequire } from './node-http-by-require.ts';

const outdir = 'dist';
const outfile = `${outdir}/slipway.mjs`;

// Chunks of an earlier build would be shipped with this one.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { slipway: 'agent/main.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  // The dynamic imports (the agent, the update path, the etcd lock, got, openpgp) become chunks of their own,
  // so a command compiles only what it runs: V8 compiling the one 3.9 MB file took 0.85 s of every
  // start in a VM under TCG. Chunks sit beside slipway.mjs, so the banner's directory is the same.
  splitting: true,
  chunkNames: '[name]-[hash]',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: false,
  // Beside the bundle, not inline: an 8 MB base64 comment made every start (the agent, cloud-config,
  // each CLI call) parse 13 MB; measured on this machine `slipway --help` took 0.8 s and 132 MB
  // against 0.44 s and 103 MB. `node --enable-source-maps` still finds slipway.mjs.map.
  sourcemap: 'linked',
  legalComments: 'eof',
  plugins: [httpByRequire],
  // dbus-next loads these only for X11 session-bus autolaunch and for passing file descriptors
  // (usocket, a native module); slipway uses neither, and neither is installed.
  external: ['x11', 'usocket'],
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'warning',
});
await chmod(outfile, 0o755);
console.log(`wrote ${outfile} and its chunks`);
