// What the kernel command line says about the partition the running OS came from: the /usr and root
// parameters of systemd (mount.usr=, root=, usrhash=/roothash=, systemd.verity_*_data=) and of
// CoreOS/Flatcar's initramfs (usr=, verity.usr=), each read as a partition reference. Pure.

/** A partition named by its GPT unique GUID or its GPT name. */
export type PartitionRef = { readonly partuuid: string } | { readonly partlabel: string };

/** One thing the command line says: `source` is the parameter as written, for messages. */
export interface PartitionFact {
  readonly ref: PartitionRef;
  readonly source: string;
}

/**
 * Parameters whose value may name the partition holding /usr or the root file system. The verity
 * data parameters name the partition under a /dev/mapper device given to mount.usr=/root=.
 */
export const PARTITION_PARAMETERS = ['mount.usr', 'usr', 'systemd.verity_usr_data', 'verity.usr', 'root', 'systemd.verity_root_data'] as const;
/** systemd derives the data partition's PARTUUID from the first 128 bits of these hashes. */
export const HASH_PARAMETERS = ['usrhash', 'roothash'] as const;

/** Splits a command line into key=value pairs, honouring double quotes as the kernel does; the last of a key wins. */
export function parseCmdline(cmdline: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const match of cmdline.matchAll(/(?:[^\s"]+|"[^"]*")+/g)) {
    const word = match[0].replaceAll('"', '');
    const eq = word.indexOf('=');
    if (eq > 0) parameters.set(word.slice(0, eq), word.slice(eq + 1));
    else parameters.set(word, '');
  }
  return parameters;
}

/** PARTUUID=…, PARTLABEL=…, /dev/disk/by-partuuid/… or /dev/disk/by-partlabel/…; anything else names no partition. */
export function partitionRefFrom(value: string): PartitionRef | null {
  const byUuid = /^(?:PARTUUID=|\/dev\/disk\/by-partuuid\/)([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/.exec(value);
  if (byUuid?.[1]) return { partuuid: byUuid[1].toLowerCase() };
  const byLabel = /^(?:PARTLABEL=|\/dev\/disk\/by-partlabel\/)(.+)$/.exec(value);
  if (byLabel?.[1]) return { partlabel: byLabel[1] };
  return null;
}

/** The data partition systemd-veritysetup-generator looks for: the hash's first 128 bits as a UUID. */
export function partuuidFromHash(hash: string): string | null {
  if (!/^[0-9a-fA-F]{64,}$/.test(hash)) return null;
  const h = hash.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Every partition the command line names for /usr or root, and the parameters it looked at that
 * named none (a /dev/mapper device, /dev/sda3), so a refusal can say what was there.
 */
export function cmdlineFacts(cmdline: string): { facts: PartitionFact[]; unusable: string[] } {
  const parameters = parseCmdline(cmdline);
  const facts: PartitionFact[] = [];
  const unusable: string[] = [];
  for (const key of PARTITION_PARAMETERS) {
    const value = parameters.get(key);
    if (value === undefined) continue;
    const ref = partitionRefFrom(value);
    if (ref) facts.push({ ref, source: `${key}=${value}` });
    else unusable.push(`${key}=${value}`);
  }
  for (const key of HASH_PARAMETERS) {
    const value = parameters.get(key);
    if (value === undefined) continue;
    const partuuid = partuuidFromHash(value);
    if (partuuid) facts.push({ ref: { partuuid }, source: `${key}=${value.slice(0, 12)}…` });
    else unusable.push(`${key}=${value}`);
  }
  return { facts, unusable };
}

export function describeRef(ref: PartitionRef): string {
  return 'partuuid' in ref ? `PARTUUID=${ref.partuuid}` : `PARTLABEL=${ref.partlabel}`;
}
