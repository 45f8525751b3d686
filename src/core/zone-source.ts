/**
 * A cheaper way to a zone's UTC offset in minutes at `epochMs` than an Intl formatter, or
 * undefined to let Intl answer. The CLI sets one for short commands (src/cli/quick-zones.ts);
 * src/core/time.ts asks it only for zones and years that src/core/zone-names.ts lists.
 */
export type ZoneOffsetSource = (zone: string, epochMs: number) => number | undefined

let current: ZoneOffsetSource | undefined

export const zoneOffsetSource = (): ZoneOffsetSource | undefined => current

export function setZoneOffsetSource(source: ZoneOffsetSource | undefined): void {
  current = source
}
