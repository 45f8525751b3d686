/** Time and identity come in from outside so schedules and recovery can be tested on a virtual clock. */
export interface Clock {
  now(): Date
}

export interface IdGen {
  /** A new unique id with a readable prefix, e.g. `br_01JD…`. */
  next(prefix: string): string
}

export const systemClock: Clock = { now: () => new Date() }
