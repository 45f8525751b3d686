import { describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'

interface P {
  id: string
  createdAt: string
}

// Payments either side of midnight in Nairobi (UTC+3): 28 Nov 00:00 EAT is 27 Nov 21:00 UTC.
const TIMES = [
  '2026-11-27T20:59:59.000Z', // 27 Nov 23:59:59 EAT: before
  '2026-11-27T21:00:00.000Z', // 28 Nov 00:00 EAT: the first of the day
  '2026-11-28T12:00:00.000Z', // 28 Nov 15:00 EAT
  '2026-11-28T20:59:59.999Z', // 28 Nov 23:59:59.999 EAT: the last of the day
  '2026-11-28T21:00:00.000Z', // 29 Nov 00:00 EAT: after
]
const NOW = new Date('2026-11-29T06:00:00.000Z') // 29 Nov 09:00 EAT

describe.each(DIALECTS)('local time and lists on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('payments list', () => {
    const s = useStoreEnv(name)
    let clockAt = NOW
    const run = (...args: string[]) =>
      runInProcess(args, { env: s.env, clock: { now: () => new Date(clockAt) } })

    it('sets up a branch with payments either side of Nairobi midnight', async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'Karen', '--currency', 'KES'],
        ['gateway', 'setup', 'cash', '--branch', 'karen'],
      ])
        expect((await run(...args)).code).toBe(0)
      for (const t of TIMES) {
        clockAt = new Date(t)
        // The currency defaults to the branch's.
        const r = await run(
          'pay',
          '--branch',
          'karen',
          '--amount',
          '100',
          '--method',
          'cash',
          '--json',
        )
        expect(r.stderr).toBe('')
        expect(r.json<{ currency: string }>().currency).toBe('KES')
      }
      clockAt = NOW
    })

    it('--since yesterday --until today returns exactly the Nairobi-day rows', async () => {
      const expected = [TIMES[3], TIMES[2], TIMES[1]]
      for (const range of [
        ['--since', 'yesterday', '--until', 'today'],
        ['--since', '2026-11-28', '--until', '2026-11-29'],
        ['--since', '2026-11-28T00:00:00+03:00', '--until', '2026-11-28T21:00:00Z'],
      ]) {
        const r = await run('payments', 'list', ...range, '--json')
        expect(r.stderr).toBe('')
        expect(r.json<P[]>().map((p) => p.createdAt)).toEqual(expected)
      }
      // Control: the same day read as UTC would be a different set of rows.
      const utc = await run(
        'payments',
        'list',
        '--since',
        '2026-11-28T00:00:00Z',
        '--until',
        '2026-11-29T00:00:00Z',
        '--json',
      )
      expect(utc.json<P[]>().map((p) => p.createdAt)).toEqual([TIMES[4], TIMES[3], TIMES[2]])
    })

    it('shows local times in human output and keeps UTC in JSON', async () => {
      const r = await run(
        'payments',
        'list',
        '--branch',
        'karen',
        '--since',
        '2026-11-28',
        '--until',
        'today',
      )
      expect(r.code).toBe(0)
      // The zone's name once in the header, local wall-clock times in the cells.
      expect(r.stdout).toContain('Created (EAT)')
      expect(r.stdout).toContain('2026-11-28 23:59  ')
      expect(r.stdout).toContain('2026-11-28 00:00  ')
      expect(r.stdout).not.toContain('T20:59')
      expect(r.stdout).toContain('Total succeeded: KES 300.00 (3 payments)')
    })

    it('impossible dates and empty values are exit 3, said with the flag', async () => {
      for (const [flag, v] of [
        ['--since', '2026-02-30'],
        ['--until', ''],
        ['--since', 'last tuesday'],
      ] as const) {
        const r = await run('payments', 'list', flag, v)
        expect(r.code).toBe(3)
        expect(r.stderr).toMatch(new RegExp(`^dsh: ${flag}: `))
      }
    })

    it('lists the newest by default, says when more match, and --all streams every row', async () => {
      const two = await run('payments', 'list', '--limit', '2', '--json')
      expect(two.json<P[]>().map((p) => p.createdAt)).toEqual([TIMES[4], TIMES[3]])
      expect(two.stderr).toBe('more match — use --limit N or --all\n')
      const five = await run('payments', 'list', '--limit', '5', '--json')
      expect(five.json<P[]>()).toHaveLength(5)
      expect(five.stderr).toBe('')
      const all = await run('payments', 'list', '--all', '--json')
      expect(all.json<P[]>().map((p) => p.createdAt)).toEqual([...TIMES].reverse())
      expect(all.stderr).toBe('')
      const none = await run('payments', 'list', '--since', '1h', '--all', '--json')
      expect(none.json<P[]>()).toEqual([])
      expect((await run('payments', 'list', '--all', '--limit', '3')).code).toBe(2)
    })

    it('a tenant has a time zone, set and shown', async () => {
      const bad = await run('tenant', 'set', 'acme', '--timezone', 'Mars/Olympus')
      expect(bad.code).toBe(3)
      const r = await run('tenant', 'set', 'acme', '--timezone', 'Africa/Kampala', '--json')
      expect(r.json<{ timezone: string }>().timezone).toBe('Africa/Kampala')
      const list = await run('tenant', 'list', '--json')
      expect(list.json<{ timezone: string }[]>()[0]?.timezone).toBe('Africa/Kampala')
      const added = await run('tenant', 'add', 'nile', '--name', 'Nile', '--json')
      expect(added.json<{ timezone: string }>().timezone).toBe('Africa/Nairobi')
    })
  })
})
