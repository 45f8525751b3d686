import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, type RunningDaemon, startDaemon } from '../daemon/helpers.js'
import { dsh } from '../helpers/cli.js'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { runInProcess } from '../helpers/run-cli.js'
import { api } from './helpers.js'

/** Issue 10, item 3: exact amounts at every size, and a ceiling. */
const CEILING = '90071992547409.91'
const CEILING_MINOR = '9007199254740991'

describe.each(DIALECTS)('amounts at the ceiling on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('', () => {
    const s = useStoreEnv(name)
    let daemon: RunningDaemon
    let token: string
    const cli = (...args: string[]) => dsh(args, { env: s.env })
    const pay = (branch: string, amount: string, currency = 'KES') =>
      cli(
        'pay',
        '--branch',
        branch,
        '--method',
        'cash',
        '--amount',
        amount,
        '--currency',
        currency,
        '--json',
      )

    beforeAll(async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        [
          'branch',
          'add',
          'big',
          '--tenant',
          'acme',
          '--name',
          'Big',
          '--currency',
          'KES',
          '--max-amount',
          CEILING,
        ],
        ['branch', 'add', 'small', '--tenant', 'acme', '--name', 'Small', '--currency', 'KES'],
        ['gateway', 'setup', 'cash', '--tenant', 'acme'],
      ]) {
        const r = await runInProcess(args, { env: s.env })
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      }
      const t = await runInProcess(
        ['token', 'create', '--name', 'op', '--role', 'operator', '--json'],
        {
          env: s.env,
        },
      )
      token = t.json<{ token: string }>().token
      const port = await freePort()
      daemon = await startDaemon(s.env, [
        '--port',
        String(port),
        '--public-url',
        `http://127.0.0.1:${port}`,
      ])
    })

    afterAll(async () => {
      expect(await daemon?.stop()).toBe(0)
    })

    it('the CLI takes the largest amount exactly and refuses one minor unit more (exit 3)', async () => {
      const ok = await pay('big', CEILING)
      expect(ok.code, ok.stderr).toBe(0)
      // The JSON text itself, not a JSON.parse of it (which would hide a rounded digit).
      expect(ok.stdout).toContain(`"amountMinor": ${CEILING_MINOR},`)
      expect(ok.stdout).toContain(`"amount": "${CEILING}"`)
      const id = ok.json<{ id: string }>().id
      for (const amount of ['90071992547409.92', '90071992547409.93', '92233720368547758.08']) {
        const r = await pay('big', amount)
        expect(r.code, amount).toBe(3)
        expect(r.stderr).toContain(`is more than the largest accepted amount, ${CEILING} KES`)
      }
      expect((await pay('big', '1e30')).code).toBe(3)
      // The largest accepted amount is named in the currency's own decimals.
      const jpy = await pay('big', '9007199254740992', 'UGX')
      expect(jpy.code).toBe(3)
      expect(jpy.stderr).toContain('the largest accepted amount, 9007199254740991 UGX')
      // The store holds it exactly, as do the audit rows.
      const shown = await cli('payments', 'show', id, '--json')
      expect(shown.code, shown.stderr).toBe(0)
      expect(shown.stdout).toContain(`"amountMinor": ${CEILING_MINOR},`)
      const audit = await cli('audit', 'list', '--action', 'payment.*', '--json')
      expect(audit.stdout).toContain(`"amount": "${CEILING_MINOR}"`)
      expect(audit.stdout).not.toContain('9007199254740992')
    })

    it('a branch refuses more than its --max-amount (default 10,000,000), naming the largest', async () => {
      const over = await pay('small', '10000000.01')
      expect(over.code, over.stderr).toBe(3)
      expect(over.stderr).toContain(
        'KES 10,000,000.01 is more than branch small accepts in one payment; the largest accepted amount is KES 10,000,000.00',
      )
      expect((await pay('small', '10000000')).code).toBe(0)
      const shown = await cli('branch', 'show', 'small', '--json')
      expect(shown.stdout).toContain('"maxAmountMinor": 1000000000,')
      expect(shown.stdout).toContain('"maxAmount": "10000000.00"')
      const set = await cli('branch', 'set', 'small', '--max-amount', '500')
      expect(set.code, set.stderr).toBe(0)
      expect((await pay('small', '500.01')).code).toBe(3)
      expect((await cli('branch', 'set', 'small', '--max-amount', '0')).code).toBe(3)
    })

    it('the API answers 201 at the ceiling, 422 above it, exactly in every JSON', async () => {
      const post = (amount: string, key: string) =>
        api(
          daemon,
          'POST',
          '/api/payments/process',
          token,
          { branch: 'big', amount, currency: 'KES', method: 'cash' },
          {
            'idempotency-key': key,
          },
        )
      const ok = await post(CEILING, 'ceil-1')
      expect(ok.status, ok.text).toBe(201)
      expect(ok.text).toContain(`"amountMinor":${CEILING_MINOR},`)
      expect(ok.text).toContain(`"amount":"${CEILING}"`)
      const status = await api(
        daemon,
        'GET',
        `/api/payments/${String(ok.json['id'])}/status`,
        token,
      )
      expect(status.text).toContain(`"amountMinor":${CEILING_MINOR},`)
      const over = await post('90071992547409.92', 'ceil-2')
      expect(over.status).toBe(422)
      expect(over.json.error?.code).toBe('amount_too_large')
      expect(over.json.error?.message).toContain(`largest accepted amount, ${CEILING} KES`)
      const huge = await post('92233720368547758.08', 'ceil-3')
      expect(huge.status).toBe(422)
      const store = await runInProcess(['payments', 'list', '--branch', 'big', '--json'], {
        env: s.env,
      })
      const minors = [...store.stdout.matchAll(/"amountMinor": (\d+)/g)].map((m) => m[1])
      expect(minors).toEqual([CEILING_MINOR, CEILING_MINOR])
    })
  })
})
