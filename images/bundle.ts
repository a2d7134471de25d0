// Bundles the agent and CLI into one ESM file (dist/slipway.mjs, its source map beside it) for the OS
// image: no node_modules on the host, just this file, the etcd protocol definitions beside it
// (dist/etcd3-proto/), and the Node binary.

import { build } from 'esbuild';
import { chmod, cp, readFile } from 'node:fs/promises';
import { ESM_REQUIRE_BANNER } from './agent-runtime.ts';
import type { Plugin } from 'esbuild';

const outfile = 'dist/slipway.mjs';

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

await build({
  entryPoints: ['agent/main.ts'],
  outfile,
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
  plugins: [etcdProtoBesideBundle],
  // dbus-next loads these only for X11 session-bus autolaunch and for passing file descriptors
  // (usocket, a native module); slipway uses neither, and neither is installed.
  external: ['x11', 'usocket'],
  banner: { js: `${ESM_REQUIRE_BANNER} const __slipwayBundleDir = import.meta.dirname;` },
  logLevel: 'warning',
});
await cp('node_modules/etcd3/proto', 'dist/etcd3-proto', { recursive: true });
await chmod(outfile, 0o755);
console.log(`wrote ${outfile} and dist/etcd3-proto/`);
