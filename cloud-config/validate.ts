// Validates user-data the way coreos-cloudinit reads it (YAML 1.1, dashes in keys as underscores)
// and reports every problem at once with its line; nothing is applied from a document with errors.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { CLOUD_CONFIG } from './schema.ts';
import { Report } from './report.ts';
import { didYouMean } from '../platform/did-you-mean.ts';
import type { Node } from 'yaml';
import type { CloudConfig, Field } from './schema.ts';

export const MAX_USER_DATA_BYTES = 1024 * 1024;
export const MAX_YAML_ALIASES = 64;

export interface Validation {
  readonly kind: 'cloud-config' | 'script' | 'empty';
  readonly report: Report;
  /** The document as the schema reads it (keys normalized, unknown keys dropped, YAML 1.1 surprises undone), when it has no errors. */
  readonly config: CloudConfig | null;
}

const YAML11_BOOLEAN_WORDS = /^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;

export function normalizeKey(key: string): string {
  return key.replaceAll('-', '_');
}

export function validateCloudConfig(text: string): Validation {
  const report = new Report();
  if (Buffer.byteLength(text) > MAX_USER_DATA_BYTES) {
    report.add(1, 'error', `user-data is ${Buffer.byteLength(text)} bytes; the limit is ${MAX_USER_DATA_BYTES}`);
    return { kind: 'cloud-config', report, config: null };
  }
  if (text.trim() === '') return { kind: 'empty', report, config: null };
  const firstLine = text.split('\n', 1)[0] ?? '';
  if (firstLine.startsWith('#!')) return { kind: 'script', report, config: null };
  if (firstLine.trimEnd() !== '#cloud-config') {
    report.add(1, 'error', 'the first line must be "#cloud-config" (or "#!" for a script)');
    return { kind: 'cloud-config', report, config: null };
  }

  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 1 : lines.linePos(offset).line);
  for (const error of doc.errors) report.add(lineOf(error.pos[0]), 'error', error.message.split('\n')[0] ?? error.message);
  if (report.hasErrors) return { kind: 'cloud-config', report, config: null };
  let config: unknown;
  try {
    config = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    report.add(1, 'error', `${(error as Error).message} (at most ${MAX_YAML_ALIASES} aliases)`);
    return { kind: 'cloud-config', report, config: null };
  }
  if (doc.contents === null || config === null) return { kind: 'cloud-config', report, config: {} };
  const resolve = (node: unknown): Node | null => (isAlias(node) ? (node.resolve(doc) as Node | undefined) ?? null : (node as Node | null));
  const value = walk(doc.contents, CLOUD_CONFIG, '', { report, lineOf, resolve });
  return { kind: 'cloud-config', report, config: report.hasErrors ? null : (value as CloudConfig) };
}

interface Walk {
  readonly report: Report;
  readonly lineOf: (offset: number | undefined) => number;
  readonly resolve: (node: unknown) => Node | null;
}

/** Checks `node` against `field`, reporting problems, and returns the value as the schema reads it. */
function walk(raw: unknown, field: Field, path: string, w: Walk): unknown {
  const { report, lineOf } = w;
  const node = w.resolve(raw);
  const line = lineOf(node?.range?.[0]);
  const where = path === '' ? 'the document' : path;
  switch (field.kind) {
    case 'deprecated':
      report.add(line, 'warning', field.message);
      return undefined;
    case 'object': {
      if (!isMap(node)) return report.add(line, 'error', `${where} must be a mapping of keys to values`);
      const value: Record<string, unknown> = {};
      for (const pair of node.items) {
        const rawKey = isScalar(pair.key) ? String(pair.key.value) : '';
        const key = normalizeKey(rawKey);
        const keyLine = lineOf(isScalar(pair.key) ? pair.key.range?.[0] : undefined);
        const child = field.fields[key];
        if (!child) {
          const hint = didYouMean(key, Object.keys(field.fields));
          report.add(keyLine, 'warning', `unknown key "${rawKey}"${path ? ` in ${path}` : ''}${hint ? `; did you mean "${hint}"?` : ''}`);
          continue;
        }
        if (child.kind === 'deprecated') {
          report.add(keyLine, 'warning', child.message);
          continue;
        }
        value[key] = walk(pair.value, child, path ? `${path}.${key}` : key, w);
      }
      for (const required of field.required ?? []) if (!(required in value)) report.add(line, 'error', `${where} needs "${required}"`);
      const problem = field.check?.(value);
      if (problem) report.add(line, 'error', `${where}: ${problem}`);
      return value;
    }
    case 'list':
      if (!isSeq(node)) return report.add(line, 'error', `${where} must be a list`);
      return node.items.map((item, index) => walk(item, field.of, `${path}[${index}]`, w));
    case 'bool':
      if (!isScalar(node) || typeof node.value !== 'boolean') return report.add(line, 'error', `${where} must be true or false`);
      return node.value;
    case 'mode':
      return checkMode(node, where, line, report);
    case 'content': {
      // !!binary (YAML 1.1) gives bytes; anything else must be text. Contents are never echoed.
      if (isScalar(node) && node.value instanceof Uint8Array) return node.value;
      return walk(raw, { kind: 'string', secret: true }, path, w);
    }
    case 'string': {
      const scalar: unknown = isScalar(node) ? node.value : null;
      if (!isScalar(node) || !(typeof scalar === 'string' || typeof scalar === 'number' || typeof scalar === 'boolean')) {
        return report.add(line, 'error', `${where} must be a string`);
      }
      let value = String(scalar);
      const source = node.source ?? value;
      if (typeof node.value === 'boolean' && node.type === 'PLAIN' && YAML11_BOOLEAN_WORDS.test(source)) {
        // YAML 1.1 reads an unquoted off/on/yes/no as a boolean; the user meant the word.
        report.add(line, 'warning', `${where}: unquoted ${source} is a boolean in YAML 1.1; read as "${source}" (quote it to be sure)`);
        value = source;
      } else if (typeof node.value === 'number' && node.type === 'PLAIN') {
        value = source;
      }
      const problem = field.check?.(value);
      if (problem) report.add(line, 'error', `${where}: ${field.secret ? problem.replace(value, '<hidden>') : problem}`);
      return problem || field.normalize === undefined ? value : field.normalize(value);
    }
  }
}

/**
 * A file mode as coreos-cloudinit reads it: the digits as written, in octal, quoted or not. YAML 1.1
 * reads an unquoted 644 as the decimal number 644 and 0644 as 420; both mean 0644 to coreos-cloudinit,
 * whose permissions field is a string parsed base 8, so the source text is what counts.
 */
function checkMode(node: Node | null, where: string, line: number, report: Report): number | undefined {
  const digits = isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number') ? (typeof node.value === 'string' ? node.value : (node.source ?? String(node.value))) : null;
  if (digits !== null && /^0?[0-7]{3,4}$/.test(digits)) return Number.parseInt(digits, 8);
  report.add(line, 'error', digits === null ? `${where} must be an octal mode like "0644"` : `${where}: "${digits}" is not an octal mode like "0644"`);
  return undefined;
}
