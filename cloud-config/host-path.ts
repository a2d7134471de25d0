// Host paths as cloud-config takes them: absolute and in one spelling (no "//", ".", "..", trailing
// "/"), so every check (read-only OS, symlinks on the way) and the write itself see the same path.

/** The read-only OS: cloud-config may not write there (the write would fail, or vanish on update). */
export const READ_ONLY_TREES = ['/usr', '/boot', '/proc', '/sys'] as const;

export type NormalizedPath = { readonly path: string; readonly problem?: undefined } | { readonly problem: string; readonly path?: undefined };

/** `value` with "//" collapsed and "." and ".." resolved by name, or why it cannot be a host path. */
export function normalizeHostPath(value: string): NormalizedPath {
  if (value.includes('\0')) return { problem: `path ${JSON.stringify(value)} contains a NUL byte` };
  if (!value.startsWith('/')) return { problem: `path "${value}" must be absolute` };
  const parts: string[] = [];
  for (const part of value.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      // Above / is / to the kernel; here it means the author meant a path somewhere else, so refuse it.
      if (parts.pop() === undefined) return { problem: `path "${value}" climbs above / with ".."` };
      continue;
    }
    parts.push(part);
  }
  return { path: `/${parts.join('/')}` };
}

/** Why cloud-config may not write `value` (checked on its normal form), or null. */
export function writablePathProblem(value: string): string | null {
  const normal = normalizeHostPath(value);
  if (normal.problem !== undefined) return normal.problem;
  const spelled = normal.path === value ? `path "${value}"` : `path "${value}" (${normal.path})`;
  if (normal.path === '/') return `${spelled} names no file`;
  if (READ_ONLY_TREES.some((tree) => normal.path === tree || normal.path.startsWith(`${tree}/`))) return `${spelled} is in the read-only OS; write under /etc, /var, /opt or /home`;
  return null;
}
