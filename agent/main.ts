#!/usr/bin/env node
// Composition root: the only place that touches the process (arguments, environment, streams,
// signals). It hands them to the wiring, which builds the adapters the command line runs with.

import { hostname } from 'node:os';
import { runCli } from './cli/run-cli.ts';
import { createLogger } from './log.ts';
import { cliDeps } from './wiring/cli-deps.ts';
import { hostFiles } from './wiring/host-files.ts';
import { systemClock } from './wiring/system-clock.ts';
import type { ProcessHost } from './wiring/process-host.ts';

const logger = await createLogger({ level: process.env.SLIPWAY_LOG_LEVEL ?? 'info', tty: process.stderr.isTTY });
logger.debug({ argv: process.argv.slice(2) }, 'starting');

const host: ProcessHost = {
  version: '0.1.0',
  clock: systemClock,
  random: Math.random,
  proxy: process.env.https_proxy ?? process.env.HTTPS_PROXY ?? null,
  systemBusAddress: process.env.DBUS_SYSTEM_BUS_ADDRESS ?? null,
  hostname: () => hostname(),
  coreosEnvironment: Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('COREOS_'))),
  logger,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  isTty: process.stderr.isTTY,
  onSigterm: (stop) => process.once('SIGTERM', stop),
  exit: (code) => process.exit(code),
};

process.exitCode = await runCli(process.argv.slice(2), (options) => cliDeps(host, hostFiles(options)), host);
