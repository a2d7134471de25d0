// How the OS image runs the agent's bundle: the Node flags its systemd unit passes. A small young
// generation keeps a streaming apply's memory low and flat (measured by npm run bench:apply: peak
// RSS at 4 GiB fell from 166 to 113 MiB, at the same speed); the agent allocates short-lived buffers
// at a steady rate and never needs a large nursery.

export const AGENT_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/** Bundles are ESM, and some dependencies are CommonJS that call require() for Node built-ins. */
export const ESM_REQUIRE_BANNER = "import { createRequire as __slipwayCreateRequire } from 'node:module'; const require = __slipwayCreateRequire(import.meta.url);";
