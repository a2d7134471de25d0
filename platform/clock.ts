// The Clock port: the update path asks it for the time and for waits, so tests can drive time.

export interface Clock {
  now(): Date;
  sleep(ms: number): Promise<void>;
}
