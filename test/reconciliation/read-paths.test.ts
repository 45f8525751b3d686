import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { run, type Seed, seedPayments, setUpBranches } from '../helpers/recon-env.js'

// A run reads its lines and payments as arrays straight from SQLite's connection inside its
// write transaction, and through Kysely elsewhere (a dry run; PostgreSQL). Both must give the
// same report: the dry run first (nothing written), then the run, ids aside.
const GOLDEN = fileURLToPath(new URL('../../fixtures/statements/golden/', import.meta.url))
const seeds = JSON.parse(readFileSync(`${GOLDEN}payments.json`, 'utf8')) as Seed[]

const withoutIds = (text: string) => text.replace(/\b(rr|rd)_[0-9A-HJKMNP-TV-Z]{26}\b/g, '$1_ID')

describe.each(DIALECTS)('a dry run and a run read the same ($name)', ({ name, enabled }) => {
  const s = useStoreEnv(name)
  it.runIf(enabled)(
    'same report, byte for byte apart from generated ids',
    async () => {
      await setUpBranches(s.env, ['westlands'])
      await seedPayments(s.env, 'westlands', seeds)
      await run(s.env, [
        'reconcile',
        'import',
        `${GOLDEN}mpesa.csv`,
        '--branch',
        'westlands',
        '--profile',
        'mpesa',
        '--json',
      ])
      const dry = await run(
        s.env,
        ['reconcile', 'run', '--branch', 'westlands', '--dry-run', '--json'],
        8,
      )
      const real = await run(s.env, ['reconcile', 'run', '--branch', 'westlands', '--json'], 8)
      expect(JSON.parse(real.stdout).summary.autoMatchRateBp).toBe(9710)
      expect(withoutIds(dry.stdout)).toBe(withoutIds(real.stdout))
      expect(dry.stdout).not.toBe(real.stdout)
    },
    120_000,
  )
})
