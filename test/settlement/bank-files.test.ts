import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS, useStoreEnv } from '../helpers/dialects.js'
import { validateOutbox, validatePain001 } from '../helpers/pain001.js'
import { runInProcess } from '../helpers/run-cli.js'
import { addPayments, fixedClock, ok } from './helpers.js'

// Must hold (issue 22, item 4): a name with a control character is refused where it is set (exit
// 3, naming the field) and nothing is written; every pain.001 validates against the ISO XSD;
// `Café & Ñgong <Ltd>` reads `Cafe . Ngong .Ltd.` in the XML and stays itself in the CSV;
// `<CreDtTm>` carries the tenant's offset; an IBAN is checked (mod 97) and written as `<IBAN>`.

interface Batch {
  id: string
  reference: string
  transfer: { files: string[] } | null
}

const CAFE = 'Café & Ñgong <Ltd>'
/** 150 characters with every XML special character and accents: cut to 140 after transliteration. */
const LONG = `Ærø "Quoted" & <Angled> 'Apostrophe' Société Générale de Banque — Kenya Holdings ${'Ç'.repeat(60)}`

const xmlOf = (b: Batch) =>
  readFileSync(b.transfer?.files.find((f) => f.endsWith('.xml')) ?? '', 'utf8')
const csvOf = (b: Batch) =>
  readFileSync(b.transfer?.files.find((f) => f.endsWith('.csv')) ?? '', 'utf8')

describe.each(DIALECTS)('bank files on $name', ({ name, enabled }) => {
  describe.runIf(enabled)('validate', () => {
    const s = useStoreEnv(name)
    const clock = fixedClock('2026-12-08T00:56:26.000Z')
    const run = (...args: string[]) => runInProcess(args, { env: s.env, clock })
    const scratch = mkdtempSync(join(tmpdir(), 'dsh-bank-files-'))
    afterAll(() => rmSync(scratch, { recursive: true, force: true }))

    beforeAll(async () => {
      for (const args of [
        ['init'],
        ['tenant', 'add', 'acme', '--name', 'Acme'],
        ['branch', 'add', 'westlands', '--tenant', 'acme', '--name', 'W', '--currency', 'KES'],
      ])
        await ok(s.env, args)
    })

    const refused = async (args: string[], message: string) => {
      const r = await run(...args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(3)
      expect(r.stderr).toContain(message)
      expect(r.stderr).not.toContain('    at ') // no stack trace
    }

    it('a control character is refused wherever a name or an account field is set (exit 3, naming the flag), and nothing is written', async () => {
      await refused(
        ['tenant', 'add', 'zed', '--name', 'Zed\x01'],
        '--name contains a control character (U+0001 at character 4)',
      )
      await refused(
        ['tenant', 'set', 'acme', '--name', 'Acme \x1b[31mred'],
        '--name contains a control character (U+001B at character 6)',
      )
      await refused(
        ['branch', 'add', 'karen', '--tenant', 'acme', '--name', 'Ka\x0bren', '--currency', 'KES'],
        '--name contains a control character (U+000B at character 3)',
      )
      await refused(
        ['branch', 'set', 'westlands', '--name', 'West\nlands'],
        '--name contains a control character (U+000A at character 5)',
      )
      const account = ['branch', 'settlement-account', 'westlands']
      const good = [
        '--account-name',
        'W Ltd',
        '--account-number',
        '0011223344',
        '--bank-name',
        'KCB',
      ]
      await refused(
        [...account, ...good, '--account-name', 'W\x01 Ltd'],
        '--account-name contains a control character (U+0001 at character 2)',
      )
      await refused(
        [...account, ...good, '--bank-name', 'KCB\u0085'],
        '--bank-name contains a control character (U+0085 at character 4)',
      )
      await refused(
        [...account, ...good, '--account-number', '0011\x1b223344'],
        '--account-number contains a control character (U+001B at character 5)',
      )
      await refused(
        [...account, ...good, '--bank-code', '0\t1'],
        '--bank-code contains a control character (U+0009 at character 2)',
      )
      await refused(
        [
          ...['tenant', 'collection-account', 'acme', '--currency', 'KES'],
          ...['--account-name', 'Acme\u202eCollections', '--account-number', '0100200300'],
          ...['--bank-name', 'KCB'],
        ],
        '--account-name contains a control character (U+202E at character 5)',
      )
      await refused(
        ['gateway', 'setup', 'square', '--branch', 'westlands', '--location-id', 'L\x0bX'],
        '--location-id: contains a control character (U+000B at character 2)',
      )
      const tenants = (await run('tenant', 'list', '--json')).json<
        { slug: string; name: string }[]
      >()
      expect(tenants.map((t) => [t.slug, t.name])).toEqual([['acme', 'Acme']])
      const branches = (await run('branch', 'list', '--json')).json<
        { code: string; name: string }[]
      >()
      expect(branches.map((b) => [b.code, b.name])).toEqual([['westlands', 'W']])
      const accounts = await run('branch', 'settlement-account', 'westlands', '--json')
      expect(accounts.json()).toEqual([])
      const collection = await run('tenant', 'collection-account', 'acme', '--json')
      expect(collection.json()).toEqual([])
    })

    it('an account number that looks like an IBAN must pass ISO 13616 (exit 3) and is kept in its electronic form', async () => {
      const base = ['branch', 'settlement-account', 'westlands', '--bank-name', 'Barclays']
      await refused(
        [...base, '--account-name', CAFE, '--account-number', 'GB82 WEST 1234 5698 7654 33'],
        '--account-number "GB82 WEST 1234 5698 7654 33" looks like an IBAN but its check digits are wrong (ISO 13616 mod 97)',
      )
      const r = await run(
        ...base,
        ...['--account-name', CAFE, '--account-number', 'gb82 west 1234 5698 7654 32'],
        ...['--holding-hours', '0', '--json'],
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.json<{ accountNumber: string; accountName: string }>()).toMatchObject({
        accountNumber: 'GB82WEST12345698765432',
        accountName: CAFE,
      })
      await ok(s.env, [
        ...['tenant', 'collection-account', 'acme', '--currency', 'KES'],
        ...['--account-name', LONG, '--account-number', '0100200300', '--bank-name', 'KCB'],
        ...['--bank-code', '01'],
      ])
    })

    let batch: Batch
    it('the pain.001 validates: SWIFT characters, the schema’s lengths, <IBAN>, the tenant’s offset; the CSV keeps the names', async () => {
      await addPayments(s.db, [
        {
          id: 'p_bf1',
          branch: 'westlands',
          gateway: 'mpesa',
          amount: 515_050n,
          currency: 'KES',
          completedAt: '2026-12-07T08:00:00.000Z',
          fee: { rateBp: 0, flat: 0n, convBp: 0 },
        },
      ])
      const r = await run('settle', '--branch', 'westlands', '--date', '2026-12-08', '--json')
      expect(r.code, r.stderr).toBe(0)
      batch = r.json<{ batches: Batch[] }>().batches[0] as Batch
      expect(validateOutbox(s.home)).toBe(1)
      const xml = xmlOf(batch)
      // 00:56:26 UTC, written with Nairobi's offset: a bank never reads a UTC time as local.
      expect(xml).toContain('<CreDtTm>2026-12-08T03:56:26+03:00</CreDtTm>')
      expect(xml).toContain('<Nm>Cafe . Ngong .Ltd.</Nm>')
      expect(xml).toContain('<IBAN>GB82WEST12345698765432</IBAN>')
      expect(xml).toMatch(/<DbtrAcct>\s*<Id>\s*<Othr>\s*<Id>0100200300<\/Id>/)
      const long =
        'AEro .Quoted. . .Angled. &apos;Apostrophe&apos; Societe Generale de Banque - Kenya Holdings '
      const initiator = /<InitgPty>\s*<Nm>([^<]*)<\/Nm>/.exec(xml)?.[1] ?? ''
      expect(initiator.replaceAll('&apos;', "'")).toHaveLength(140)
      expect(initiator).toBe(`${long}${'C'.repeat(140 - long.replaceAll('&apos;', "'").length)}`)
      // Only the SWIFT set (and XML's own escapes) between the tags.
      for (const text of xml.matchAll(/>([^<]+)</g))
        expect(text[1]?.replaceAll('&apos;', "'")).toMatch(/^[A-Za-z0-9/\-?:().,'+ \n]*$/)
      // The CSV keeps the names as they were given.
      const csv = csvOf(batch)
      expect(csv).toContain(CAFE)
      expect(csv).toContain('GB82WEST12345698765432')
      expect(csv).not.toContain('Cafe . Ngong')
    })

    it('another tenant zone gives its own offset (west of Greenwich too)', async () => {
      await ok(s.env, ['tenant', 'set', 'acme', '--timezone', 'America/Sao_Paulo'])
      await addPayments(s.db, [
        {
          id: 'p_bf2',
          branch: 'westlands',
          gateway: 'stripe',
          amount: 10_000n,
          currency: 'KES',
          completedAt: '2026-12-07T09:00:00.000Z',
          fee: { rateBp: 0, flat: 0n, convBp: 0 },
        },
      ])
      const r = await run('settle', '--branch', 'westlands', '--date', '2026-12-08', '--json')
      expect(r.code, r.stderr).toBe(0)
      const b = r.json<{ batches: Batch[] }>().batches[0] as Batch
      expect(xmlOf(b)).toContain('<CreDtTm>2026-12-07T21:56:26-03:00</CreDtTm>')
      expect(validateOutbox(s.home)).toBe(2)
    })

    it('control: the validator refuses a file the schema does not allow', () => {
      const xml = xmlOf(batch)
      const broken = [
        ['long-name', xml.replace('<Nm>Cafe . Ngong .Ltd.</Nm>', `<Nm>${'A'.repeat(141)}</Nm>`)],
        ['bad-iban', xml.replace('GB82WEST12345698765432', 'GB82 WEST 1234')],
        ['bad-time', xml.replace('2026-12-08T03:56:26+03:00', '2026-12-08 03:56')],
        ['control', xml.replace('Cafe . Ngong', 'Cafe \x01 Ngong')],
      ]
      for (const [label, text] of broken) {
        const p = join(scratch, `${label}.xml`)
        writeFileSync(p, text ?? '')
        expect(() => validatePain001([p]), label).toThrow(/does not validate|xmllint exit/)
      }
      const same = join(scratch, 'same.xml')
      copyFileSync(batch.transfer?.files.find((f) => f.endsWith('.xml')) ?? '', same)
      expect(() => validatePain001([same])).not.toThrow()
    })
  })
})
