// The GRUB environment block as grub-editenv writes it: 1024 bytes, a header line, NAME=value
// lines, '#' padding. Parsing keeps each value's byte offset so values can be rewritten in place.

import { GrubenvError } from './grubenv-error.ts';

export const GRUBENV_SIZE = 1024;
export const GRUBENV_HEADER = '# GRUB Environment Block\n';

export interface EnvVariable {
  readonly name: string;
  /** The value as stored, with GRUB's backslash escapes left in. */
  readonly raw: string;
  /** The value GRUB's load_env sees: escapes removed. */
  readonly value: string;
  /** Byte offset of the raw value inside the block. */
  readonly offset: number;
}

/** GRUB escapes only backslash and newline, each with a backslash (grub_envblk_set). */
export function escapeGrubenvValue(value: string): string {
  return value.replace(/[\\\n]/g, (c) => `\\${c}`);
}

/** A backslash keeps the character after it, whatever it is (grub_envblk_iterate). */
export function unescapeGrubenvValue(raw: string): string {
  return raw.replace(/\\([\s\S])/g, '$1');
}

/**
 * Reads the variables in file order, duplicates included (GRUB's load_env lets the last one win).
 * Refuses what GRUB's save_env could not rewrite: a wrong size, no header, a line without '=', or
 * anything but '#' padding after the last line.
 */
export function parseGrubenv(bytes: Uint8Array, path: string): EnvVariable[] {
  if (bytes.length !== GRUBENV_SIZE) {
    throw new GrubenvError(`${path} is ${bytes.length} bytes; a GRUB environment block is ${GRUBENV_SIZE}`);
  }
  // latin1 maps each byte to one character, so string indexes are byte offsets.
  const text = Buffer.from(bytes).toString('latin1');
  if (!text.startsWith(GRUBENV_HEADER)) throw new GrubenvError(`${path} does not start with "${GRUBENV_HEADER.trim()}"`);
  const variables: EnvVariable[] = [];
  let at = GRUBENV_HEADER.length;
  while (at < text.length) {
    const end = lineEnd(text, at);
    if (text[at] === '#') {
      // A comment line (Debian's grub-editenv adds a warning), or the '#' padding that runs to the end.
      if (end < 0) break;
      at = end + 1;
      continue;
    }
    if (end < 0) throw new GrubenvError(`${path}: unterminated line at byte ${at}`);
    const line = text.slice(at, end);
    const eq = line.indexOf('=');
    if (eq <= 0) throw new GrubenvError(`${path}: line at byte ${at} is not NAME=value`);
    const raw = line.slice(eq + 1);
    variables.push({ name: line.slice(0, eq), raw, value: unescapeGrubenvValue(raw), offset: at + eq + 1 });
    at = end + 1;
  }
  // GRUB finds its free space by walking back over '#' to a newline; anything else there breaks save_env.
  if (!/^#*$/.test(text.slice(at))) throw new GrubenvError(`${path}: text after the '#' padding at byte ${at}`);
  return variables;
}

/** The next unescaped newline, as GRUB's find_next_line: a backslash skips the character after it. */
function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '\n') return i;
  }
  return -1;
}

/** A block as grub-editenv would write these variables (raw values: escapes already applied). */
export function serializeGrubenv(variables: readonly { name: string; raw: string }[], path: string): Uint8Array {
  const body = GRUBENV_HEADER + variables.map((v) => `${v.name}=${v.raw}\n`).join('');
  if (body.length > GRUBENV_SIZE) throw new GrubenvError(`the variables for ${path} do not fit in ${GRUBENV_SIZE} bytes`);
  return Buffer.from(body.padEnd(GRUBENV_SIZE, '#'), 'latin1');
}
