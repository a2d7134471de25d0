// The GRUB environment block as grub-editenv writes it: 1024 bytes, a header line, NAME=value
// lines, '#' padding. Parsing keeps each value's byte offset so values can be rewritten in place.

import { SlotError } from './slot-errors.ts';

export const GRUBENV_SIZE = 1024;
export const GRUBENV_HEADER = '# GRUB Environment Block\n';

export interface EnvVariable {
  readonly name: string;
  /** The value as stored, with GRUB's backslash escapes left in. */
  readonly raw: string;
  /** Byte offset of the value inside the block. */
  readonly offset: number;
}

export function parseGrubenv(bytes: Uint8Array, path: string): EnvVariable[] {
  if (bytes.length !== GRUBENV_SIZE) {
    throw new SlotError('ERR_GRUBENV_INVALID', `${path} is ${bytes.length} bytes; a GRUB environment block is ${GRUBENV_SIZE}`);
  }
  const text = Buffer.from(bytes).toString('latin1');
  if (!text.startsWith(GRUBENV_HEADER)) throw new SlotError('ERR_GRUBENV_INVALID', `${path} does not start with "${GRUBENV_HEADER.trim()}"`);
  const variables: EnvVariable[] = [];
  let at = GRUBENV_HEADER.length;
  while (at < text.length) {
    if (text[at] === '#') {
      // A comment line (newer grub-editenv adds a warning), or the '#' padding that runs to the end.
      const newline = text.indexOf('\n', at);
      if (newline < 0) break;
      at = newline + 1;
      continue;
    }
    const end = lineEnd(text, at);
    if (end < 0) throw new SlotError('ERR_GRUBENV_INVALID', `${path}: unterminated line at byte ${at}`);
    const line = text.slice(at, end);
    const eq = line.indexOf('=');
    if (eq <= 0) throw new SlotError('ERR_GRUBENV_INVALID', `${path}: line at byte ${at} is not NAME=value`);
    variables.push({ name: line.slice(0, eq), raw: line.slice(eq + 1), offset: at + eq + 1 });
    at = end + 1;
  }
  if (!/^#*$/.test(text.slice(at))) throw new SlotError('ERR_GRUBENV_INVALID', `${path}: text after the '#' padding at byte ${at}`);
  return variables;
}

/** The next unescaped newline: a backslash escapes the character after it, newlines included. */
function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '\n') return i;
  }
  return -1;
}

export function serializeGrubenv(variables: readonly { name: string; raw: string }[], path: string): Uint8Array {
  const body = GRUBENV_HEADER + variables.map((v) => `${v.name}=${v.raw}\n`).join('');
  if (body.length > GRUBENV_SIZE) throw new SlotError('ERR_GRUBENV_INVALID', `the variables for ${path} do not fit in ${GRUBENV_SIZE} bytes`);
  return Buffer.from(body.padEnd(GRUBENV_SIZE, '#'), 'latin1');
}
