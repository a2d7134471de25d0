// An esbuild plugin for every bundle that must start as fast as the OS image's (images/bundle.ts, the
// benchmarks): ESM imports of node:http become a require() of it.

import type { Plugin } from 'esbuild';

/**
 * `import … from 'node:http'` has Node build an ES module facade of the built-in, which reads each of
 * its exports, and reading http.WebSocket loads undici: 55 ms on this machine, 0.5 s of each agent
 * start in a VM under TCG. A require() reads nothing, so ESM imports of node:http get this module.
 * An import of a name not listed here fails the build.
 */
const HTTP_NAMES = ['Agent', 'ServerResponse', 'createServer', 'request', 'validateHeaderName', 'validateHeaderValue'];
export const httpByRequire: Plugin = {
  name: 'node-http-by-require',
  setup(builder) {
    builder.onResolve({ filter: /^(node:)?http$/ }, (args) => (args.kind === 'import-statement' ? { path: 'node:http', namespace: 'http-by-require' } : undefined));
    builder.onLoad({ filter: /.*/, namespace: 'http-by-require' }, () => ({
      contents: `const http = require('node:http');\nexport default http;\nexport const { ${HTTP_NAMES.join(', ')} } = http;\n`,
      loader: 'js',
    }));
  },
};
