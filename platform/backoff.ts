// Exponential backoff with full jitter, shared by every retry loop: a random wait up to
// base * 2^attempt (capped), so a fleet that failed together does not retry together.

/** `attempt` counts from 0; `random` is in [0, 1). */
export function jitteredBackoff(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}
