// Deferred adapters: built once the agent answers on D-Bus, so systemd counts it started sooner.

/**
 * `make()`, run once `after` settles and kept: a failure goes to the caller and the next call tries
 * again. The agent loads its lock client (etcd or FleetLock over got) and its update path (got,
 * openpgp, the keyring) this way, after it answers on D-Bus: systemd counts the agent started
 * (Type=dbus) only then, multi-user.target and so the health gate wait for it, and loading those
 * modules took 3.5 s of every boot of a VM under TCG.
 */
export function loadedAfter<T>(after: Promise<void>, make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | null = null;
  return () =>
    (made ??= after.then(make).catch((error: unknown) => {
      made = null;
      throw error;
    }));
}
