// The HealthStore on two small JSON files in the state directory, each written to a temporary file,
// flushed, renamed over the old one and the directory flushed: health-baseline.json (what was broken
// on the last confirmed boot, with its version) and health-gate.json (the last trial gate's verdict).

import { mkdir, readFile } from 'node:fs/promises';
import { writeFileDurably } from '../../platform/durable-file.ts';
import { join } from 'node:path';
import { HealthError } from '../health/health-errors.ts';
import type { Baseline, GateVerdict } from '../health/gate-verdict.ts';
import type { HealthStore } from '../health/boot-health.ts';

export const BASELINE_FILE = 'health-baseline.json';
export const LAST_GATE_FILE = 'health-gate.json';

async function writeDurably(dir: string, name: string, value: unknown): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileDurably(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  } catch (cause) {
    throw new HealthError('ERR_HEALTH_STATE_WRITE', `failed to write ${join(dir, name)}`, { cause });
  }
}


const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function asBaseline(v: unknown): Baseline | null {
  const b = v as Partial<Record<keyof Baseline, unknown>> | null;
  return b !== null && typeof b === 'object' && typeof b.version === 'string' && typeof b.at === 'string' && strings(b.units) && strings(b.probes) ? { version: b.version, at: b.at, units: b.units, probes: b.probes } : null;
}

function asVerdict(v: unknown): GateVerdict | null {
  const g = v as Partial<Record<keyof GateVerdict, unknown>> | null;
  return g !== null && typeof g === 'object' && typeof g.version === 'string' && (g.kind === 'gate' || g.kind === 'baseline') && Array.isArray(g.units) && Array.isArray(g.probes) ? (g as GateVerdict) : null;
}

export class FileHealthStore implements HealthStore {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** A file that is missing is no value; one that is torn or of another shape is no value and a warning (the baseline is measured again at the next confirmed boot). */
  async load(): Promise<{ baseline: Baseline | null; lastGate: GateVerdict | null; warning: string | null }> {
    const warnings: string[] = [];
    const read = async <T>(name: string, shape: (v: unknown) => T | null): Promise<T | null> => {
      const path = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(`cannot read ${path}: ${(error as Error).message}`);
        return null;
      }
      try {
        const value = shape(JSON.parse(text));
        if (value === null) warnings.push(`${path} is not what slipway writes there; ignored`);
        return value;
      } catch (error) {
        warnings.push(`${path} is not JSON (${(error as Error).message}); ignored`);
        return null;
      }
    };
    const baseline = await read(BASELINE_FILE, asBaseline);
    const lastGate = await read(LAST_GATE_FILE, asVerdict);
    return { baseline, lastGate, warning: warnings.length === 0 ? null : warnings.join('; ') };
  }

  saveBaseline(baseline: Baseline): Promise<void> {
    return writeDurably(this.dir, BASELINE_FILE, baseline);
  }

  saveLastGate(verdict: GateVerdict): Promise<void> {
    return writeDurably(this.dir, LAST_GATE_FILE, verdict);
  }
}
