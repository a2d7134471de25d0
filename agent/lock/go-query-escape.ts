// Go's url.QueryEscape, which locksmith applies to a group name to make its etcd key: a group must
// name the same key from slipway as from a locksmith host in the same fleet.

const UNRESERVED = /^[A-Za-z0-9\-_.~]$/;
const utf8 = new TextEncoder();

/**
 * As Go's net/url escapes a query component: byte by byte over the UTF-8 encoding, ASCII letters,
 * digits and `-_.~` kept, a space written `+`, every other byte `%XX` in upper-case hex (so `+`
 * itself becomes `%2B`, `/` `%2F`, `é` `%C3%A9`). encodeURIComponent differs: it keeps `!'()*`
 * and writes a space as `%20`. A lone UTF-16 surrogate, which a Go string cannot hold, is encoded
 * as U+FFFD.
 */
export function goQueryEscape(s: string): string {
  let out = '';
  for (const byte of utf8.encode(s)) {
    const c = String.fromCharCode(byte);
    if (byte < 0x80 && UNRESERVED.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
