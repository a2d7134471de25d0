// Where a manifest's payload.url may point: a plain relative path, resolved against the URL the
// manifest came from, that stays on that mirror's origin under the channel's releases/ directory.

import { ManifestError } from './manifest-error.ts';

/** The directory under the channel that every payload sits in (the publisher writes releases/<version>/). */
export const RELEASES_DIR = 'releases/';

/**
 * Percent-encoded dot, slash and backslash: a server that decodes before it resolves would read
 * `releases/..%2f..%2fx` as a way out of releases/, although the URL parser keeps it inside.
 */
const ENCODED_DOT_OR_SLASH = /%(2e|2f|5c)/i;

/**
 * What is wrong with the spelling itself, whatever it is resolved against; null when nothing.
 * Only `releases/…` paths of visible ASCII are taken: the URL parser drops tabs and newlines,
 * trims spaces and control characters, reads a backslash as a slash and `%2e` as a dot, so any of
 * those can make a path that looks relative name another host or leave the channel.
 */
export function payloadUrlProblem(spelling: string): string | null {
  if (!/^[\x21-\x7e]+$/.test(spelling)) return 'must be visible ASCII without spaces or control characters';
  if (spelling.includes('\\')) return 'must not contain a backslash';
  if (/[?#]/.test(spelling)) return 'must not have a query or a fragment';
  if (!spelling.startsWith(RELEASES_DIR)) return `must be a relative path under ${RELEASES_DIR}`;
  for (const segment of spelling.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return 'must not have empty, "." or ".." path segments';
    if (ENCODED_DOT_OR_SLASH.test(segment)) return 'must not percent-encode a dot, slash or backslash';
  }
  return null;
}

/**
 * The payload's URL on the mirror at `manifestUrl`: refused (ERR_MANIFEST_INVALID, naming the
 * spelling and what it resolved to) unless it is on the manifest's origin, under its directory's
 * releases/, after the URL parser's own normalisation. Each mirror resolves against its own manifest.
 */
export function resolvePayloadUrl(spelling: string, manifestUrl: string): string {
  const refuse = (problem: string, resolved?: string): never => {
    throw new ManifestError(`manifest from ${manifestUrl}: payload.url ${JSON.stringify(spelling)}${resolved === undefined ? '' : ` (resolved to ${resolved})`} ${problem}`);
  };
  const problem = payloadUrlProblem(spelling);
  if (problem !== null) return refuse(problem);
  const base = new URL(manifestUrl);
  const releases = new URL(RELEASES_DIR, base);
  let resolved: URL;
  try {
    resolved = new URL(spelling, base);
  } catch {
    return refuse('is not a URL');
  }
  const text = resolved.toString();
  if (resolved.origin !== base.origin || resolved.username !== '' || resolved.password !== '') return refuse(`is not on ${base.origin}, where the manifest came from`, text);
  if (!resolved.pathname.startsWith(releases.pathname) || resolved.pathname === releases.pathname) return refuse(`is not under ${releases.toString()}`, text);
  if (resolved.search !== '' || resolved.hash !== '') return refuse('must not have a query or a fragment', text);
  if (resolved.pathname.slice(releases.pathname.length).split('/').some((s) => s === '' || ENCODED_DOT_OR_SLASH.test(s))) {
    return refuse('must not have empty segments or percent-encode a dot, slash or backslash', text);
  }
  return text;
}
