#!/usr/bin/env node
// Composition root: reads the process's arguments and environment, wires adapters to ports, and
// hands control to the command line. Nothing else in the agent touches process globals.

import { runCli } from './cli/run-cli.ts';
import { createLogger } from './log.ts';
import { HOST_PATHS } from './slots/boot-disk.ts';
import { FileBlockDevice } from './slots/file-block-device.ts';
import { GptBootChooser } from './slots/gpt-boot-chooser.ts';
import { GrubenvBootChooser } from './slots/grubenv-boot-chooser.ts';

import { UsageError } from './cli/cli-error.ts';
import type { ChooserRequest } from './cli/slots-command.ts';
import type { BootChooser } from './slots/boot-chooser.ts';

const VERSION = '0.1.0';

function openChooser(request: ChooserRequest): BootChooser {
  const openDevice = ({ writable }: { writable: boolean }): Promise<FileBlockDevice> =>
    FileBlockDevice.open(request.disk, request.sectorSize === undefined ? { writable } : { writable, sectorSize: request.sectorSize });
  if (request.kind === 'gptprio') return new GptBootChooser(openDevice);
  if (request.grubenv === undefined) throw new UsageError('--chooser grubenv needs --grubenv PATH');
  return new GrubenvBootChooser(openDevice, request.grubenv);
}

const logger = createLogger({ level: process.env.SLIPWAY_LOG_LEVEL ?? 'info', tty: process.stderr.isTTY });
logger.debug({ argv: process.argv.slice(2) }, 'starting');
process.exitCode = await runCli(process.argv.slice(2), {
  version: VERSION,
  io: {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    // SLIPWAY_PROC_CMDLINE lets tests and image builds point at another command line.
    host: { ...HOST_PATHS, procCmdline: process.env.SLIPWAY_PROC_CMDLINE ?? HOST_PATHS.procCmdline },
  },
  openChooser,
});
