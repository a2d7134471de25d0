// Vitest global setup: a directory that lives as long as the test run, where the VM files share their
// release key and the OS images they have in common (qemu/lab-images.ts). Making it costs nothing
// when no VM file runs.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    vmRunImages: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-vm-run-'));
  project.provide('vmRunImages', dir);
  return () => rm(dir, { recursive: true, force: true });
}
