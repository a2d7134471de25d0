// How the OS image runs the agent's bundle: the Node flags its systemd units and /usr/bin/slipway pass.
// A small young generation keeps a streaming apply's memory low and flat (measured by npm run
// bench:apply: peak RSS at 4 GiB fell from 166 to 113 MiB, at the same speed); the agent allocates
// short-lived buffers at a steady rate and never needs a large nursery. Lite mode runs V8 without its
// compilers to machine code (bytecode only, no WebAssembly) and allocates feedback lazily: what the
// agent does at any rate (zstd, hashing, HTTP parsing, file I/O) is native code, so an apply keeps its
// speed (bench:apply at 0.5 GiB: 241 MB/s with and without) with a peak RSS of 115 MiB instead of 156,
// and the idle agent holds 14 MiB less (bench:agent in a VM: 80 against 94 MiB; docs/agent.md). Nothing
// it runs needs WebAssembly (openpgp only for argon2 passphrases, long.js falls back to plain JS).

export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--lite-mode'];

/** Bundles are ESM, and some dependencies are CommonJS that call require() for Node built-ins. */
export const ESM_REQUIRE_BANNER = "import { createRequire as __slipwayCreateRequire } from 'node:module'; const require = __slipwayCreateRequire(import.meta.url);";
