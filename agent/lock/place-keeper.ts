// Keeps a held place in the reboot lock alive in the background: etcd's lease on the holder is renewed
// at once and then every third of its length, for as long as the place is held (an inhibitor wait,
// arming, the reboot, the health gate after it). A renewal that fails is retried at the next turn;
// the place is reported lost only when etcd says the holder is no longer listed.

import { causeChain, errorCode } from '../../platform/coded-error.ts';
import type { HolderRecord } from './lock-backend.ts';

export interface PlaceKeeper {
  /** etcd said the semaphore no longer lists this holder; the keeper has stopped. */
  readonly lost: boolean;
  stop(): void;
}

export interface PlaceKeeperDeps {
  readonly keep: (record: HolderRecord) => Promise<'held' | 'not-held'>;
  readonly everyMs: number;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
}

/** Starts keeping `record`'s place now; `stop()` ends it (a renewal under way still finishes). */
export function keepPlace(deps: PlaceKeeperDeps, record: HolderRecord): PlaceKeeper {
  let stopped = false;
  let lost = false;
  let timer: NodeJS.Timeout | null = null;
  let renewed = false;
  const turn = async (): Promise<void> => {
    timer = null;
    try {
      const held = await deps.keep(record);
      if (stopped) return;
      if (held === 'not-held') {
        lost = true;
        stopped = true;
        deps.log({ id: record.id }, renewed ? 'lost the place in the reboot lock: etcd no longer lists this host' : 'this host holds no place in the reboot lock');
        return;
      }
      renewed = true;
    } catch (error) {
      if (stopped) return;
      deps.log({ code: errorCode(error), error: causeChain(error) }, 'could not renew the lease on the reboot lock; trying again');
    }
    timer = setTimeout(() => void turn(), deps.everyMs);
  };
  void turn();
  return {
    get lost() {
      return lost;
    },
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
