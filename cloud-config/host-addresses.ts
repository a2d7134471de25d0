// $public_ipv4, $private_ipv4, $public_ipv6 and $private_ipv6 in user-data, replaced before it is
// parsed, as coreos-cloudinit does: from the datasource's metadata, else the COREOS_* variable of
// the same name in the environment. `\$public_ipv4` stays as the literal text `$public_ipv4`.

import { isIP } from 'node:net';

export interface HostAddresses {
  readonly public_ipv4?: string;
  readonly private_ipv4?: string;
  readonly public_ipv6?: string;
  readonly private_ipv6?: string;
}

export const ADDRESS_NAMES = ['public_ipv4', 'private_ipv4', 'public_ipv6', 'private_ipv6'] as const;
export type AddressName = (typeof ADDRESS_NAMES)[number];

/** The environment variable coreos-cloudinit falls back to for each name ($public_ipv4: COREOS_PUBLIC_IPV4). */
export function addressesFromEnvironment(env: Readonly<Record<string, string | undefined>>): HostAddresses {
  const found: Partial<Record<AddressName, string>> = {};
  for (const name of ADDRESS_NAMES) {
    // Only an address: a value with a newline or YAML in it must not reach the document.
    const value = env[`COREOS_${name.toUpperCase()}`];
    if (value !== undefined && isIP(value) !== 0) found[name] = value;
  }
  return found;
}

export interface Substituted {
  readonly text: string;
  /** Names the text used that had no value; coreos-cloudinit puts an empty string there, and so does slipway. */
  readonly missing: readonly AddressName[];
}

const VARIABLE = /(\\?)\$(public_ipv4|private_ipv4|public_ipv6|private_ipv6)/g;

export function substituteAddresses(text: string, addresses: HostAddresses): Substituted {
  const missing = new Set<AddressName>();
  const result = text.replace(VARIABLE, (_match, escape: string, name: AddressName) => {
    if (escape !== '') return `$${name}`;
    const value = addresses[name];
    if (value === undefined) missing.add(name);
    return value ?? '';
  });
  return { text: result, missing: [...missing] };
}

/** Addresses from the documentation ranges (RFC 5737, RFC 3849), so `validate` checks a document as a host would read it. */
export const EXAMPLE_ADDRESSES: HostAddresses = { public_ipv4: '203.0.113.10', private_ipv4: '192.0.2.10', public_ipv6: '2001:db8::10', private_ipv6: '2001:db8:1::10' };
