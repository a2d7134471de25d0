// The marker a failed first-boot apply leaves in the state directory: when, the error's code and
// message. `slipway status` shows it, so a host that lacks its users and workloads says why.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export const FIRST_BOOT_PENDING_FILE = 'cloud-config.pending';

export interface FirstBootPending {
  readonly at: string;
  readonly code: string;
  readonly message: string;
}

export function pendingMarkerPath(stateDir: string): string {
  return join(stateDir, FIRST_BOOT_PENDING_FILE);
}

export async function writePendingMarker(path: string, pending: FirstBootPending): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(pending)}\n`);
}

export async function removePendingMarker(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** The marker, or null when there is none; one that cannot be read as a marker still says that first boot is incomplete. */
export async function readPendingMarker(path: string): Promise<FirstBootPending | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { at: '', code: 'ERR_DATASOURCE', message: `cannot read ${path}: ${(error as Error).message}` };
  }
  try {
    const value = JSON.parse(text) as Partial<Record<keyof FirstBootPending, unknown>>;
    if (typeof value.at === 'string' && typeof value.code === 'string' && typeof value.message === 'string') return { at: value.at, code: value.code, message: value.message };
  } catch {
    // fall through: a torn marker
  }
  return { at: '', code: 'ERR_DATASOURCE', message: `${path} exists but is not a marker slipway wrote; first boot's cloud-config apply did not finish` };
}
