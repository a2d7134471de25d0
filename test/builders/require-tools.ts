// Tests that need an outside tool (sgdisk, grub-editenv, losetup) say so: on a developer machine
// without it they skip with the reason in their title; under CI nothing skips, they fail instead.

import { execFileSync } from 'node:child_process';

function available(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
    return true;
  } catch {
    return false;
  }
}

/** A skip reason such as "needs sgdisk (apt-get install gdisk)", or null to run. Never skips in CI. */
export function missingTools(tools: Record<string, string>): string | null {
  if (process.env.CI === 'true') return null;
  const missing = Object.entries(tools).filter(([tool]) => !available(tool));
  if (missing.length === 0) return null;
  return `needs ${missing.map(([tool, pkg]) => `${tool} (apt-get install ${pkg})`).join(', ')}`;
}

export const SGDISK = { sgdisk: 'gdisk' };
export const LOSETUP = { losetup: 'util-linux' };
export const GRUB_TOOLS = { 'grub-editenv': 'grub-common', 'grub-script-check': 'grub-common' };
