// Bundles the agent and CLI for the OS image: dist/slipway.mjs and the chunks it imports when a
// command needs them (the other dist/*.mjs), each with its source map, and the etcd protocol definitions
// beside them (dist/etcd3-proto/). No node_modules on the host: these files and the Node binary.

import { build } from 'esbuild';
import { chmod, cp, readFile, rm } from 'node:fs/promises';
import { ESM_REQUIRE_BANNER } from './agent-runtime.ts';
import type { Plugin } from 'esbuild';

const outdir = 'dist';
const outfile = `${outdir}/slipway.mjs`;

/** etcd3 reads its .proto files from beside its sources at run time; point it beside the bundle. */
const etcdProtoBesideBundle: Plugin = {
  name: 'etcd3-proto-beside-bundle',
  setup(builder) {
    builder.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const rewritten = source.replace('`${__dirname}/../proto/rpc.proto`', '`${__slipwayBundleDir}/etcd3-proto/rpc.proto`');
      if (rewritten === source) throw new Error(`etcd3's proto path moved in ${args.path}; update images/bundle.ts`);
      return { contents: rewritten, loader: 'js' };
    });
  },
};

/**
 * `import … from 'node:http'` has Node build an ES module facade of the built-in, which reads each of
 * its exports, and reading http.WebSocket loads undici: 55 ms on this machine, 0.5 s of each agent
 * start in a VM under TCG. A require() reads nothing, so ESM imports of node:http get this module.
 * An import of a name not listed here fails the build.
 */
const HTTP_NAMES = ['Agent', 'ServerResponse', 'createServer', 'validateHeaderName', 'validateHeaderValue'];
const httpByRequire: Plugin = {
  name: 'node-http-by-require',
  setup(builder) {
    builder.onResolve({ filter: /^(node:)?http$/ }, (args) => (args.kind === 'import-statement' ? { path: 'node:http', namespace: 'http-by-require' } : undefined));
    builder.onLoad({ filter: /.*/, namespace: 'http-by-require' }, () => ({
      contents: `const http = require('node:http');\nexport default http;\nexport const { ${HTTP_NAMES.join(', ')} } = http;\n`,
      loader: 'js',
    }));
  },
};

// Chunks of an earlier build would be shipped with this one.
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { slipway: 'agent/main.ts' },
  outdir,
  outExtension: { '.js': '.mjs' },
  // The dynamic imports (the agent, the update path, etcd3, got, openpgp) become chunks of their own,
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
  plugins: [etcdProtoBesideBundle, httpByRequire],
  // dbus-next loads these only for X11 session-bus autolaunch and for passing file descriptors
  // (usocket, a native module); slipway uses neither, and neither is installed.
  external: ['x11', 'usocket'],
  banner: { js: `${ESM_REQUIRE_BANNER} const __slipwayBundleDir = import.meta.dirname;` },
  logLevel: 'warning',
});
await cp('node_modules/etcd3/proto', 'dist/etcd3-proto', { recursive: true });
await chmod(outfile, 0o755);
console.log(`wrote ${outfile}, its chunks and ${outdir}/etcd3-proto/`);
