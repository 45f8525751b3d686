import { describe, expect, it } from 'vitest'
import {
  type AuditContent,
  type AuditHead,
  canonicalJson,
  fromStoredRow,
  GENESIS,
  hashAuditRow,
  nextRecord,
  type StoredAuditRow,
  toStoredRow,
  verifyChain,
} from '../../src/core/audit/chain.js'

const KEY = Buffer.from('audit-key-for-tests-0123456789ab')
const OTHER_KEY = Buffer.from('not-the-audit-key-0123456789abcd')

const content = (i: number): AuditContent => ({
  at: `2025-03-01T10:${String(i).padStart(2, '0')}:00.000Z`,
  actor: i % 2 ? 'alice' : 'daemon',
  action: 'payment.create',
  tenant: 'tn_1',
  branch: i % 3 ? 'westlands' : null,
  target: `pay_${i}`,
  request: { amount: { minor: BigInt(i * 100), currency: 'KES' }, note: undefined, i },
  outcome: 'ok',
})

/** A chain of `n` rows as the store holds them, plus its head. */
function chain(n: number, key: Uint8Array = KEY) {
  const rows: StoredAuditRow[] = []
  let head: AuditHead | null = null
  for (let i = 1; i <= n; i++) {
    const record = nextRecord(key, head, content(i))
    rows.push(toStoredRow(record))
    head = { seq: record.seq, hash: record.hash }
  }
  return { rows, head }
}

describe('canonicalJson', () => {
  it('does not depend on key order, at any depth', () => {
    const a = { b: 1, a: { y: [1, { q: 1, p: 2 }], x: null } }
    const b = { a: { x: null, y: [1, { p: 2, q: 1 }] }, b: 1 }
    expect(canonicalJson(a)).toBe(canonicalJson(b))
    expect(canonicalJson(a)).toBe('{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1}')
  })

  it('writes bigint as a decimal string and drops undefined', () => {
    expect(canonicalJson({ n: 12345678901234567890n, u: undefined, arr: [undefined] })).toBe(
      '{"arr":[null],"n":"12345678901234567890"}',
    )
    expect(canonicalJson(undefined)).toBe('null')
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"')
  })

  it('refuses circular values', () => {
    const loop: Record<string, unknown> = {}
    loop['self'] = loop
    expect(() => canonicalJson(loop)).toThrow(/circular/)
  })
})

describe('nextRecord / hashAuditRow', () => {
  it('starts at seq 1 from GENESIS and links each row to the previous hash', () => {
    const first = nextRecord(KEY, null, content(1))
    expect(first.seq).toBe(1)
    expect(first.prevHash).toBe(GENESIS)
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/)
    const second = nextRecord(KEY, first, content(2))
    expect(second.seq).toBe(2)
    expect(second.prevHash).toBe(first.hash)
  })

  it('hashes the content only, whatever else the object carries', () => {
    const r = nextRecord(KEY, null, content(1))
    expect(hashAuditRow(KEY, 1, GENESIS, r)).toBe(r.hash)
    expect(hashAuditRow(OTHER_KEY, 1, GENESIS, r)).not.toBe(r.hash)
  })

  it('stores the request in the form it reads back', () => {
    const r = nextRecord(KEY, null, content(3))
    expect(r.request).toEqual({ amount: { minor: '300', currency: 'KES' }, i: 3 })
    expect(fromStoredRow(toStoredRow(r))).toEqual(r)
  })
})

describe('verifyChain', () => {
  it('verifies an intact chain of 20 rows', () => {
    const { rows, head } = chain(20)
    expect(verifyChain(KEY, rows, head)).toEqual({ ok: true, count: 20, headSeq: 20 })
  })

  it('verifies an empty log, with no head or a head at seq 0', () => {
    expect(verifyChain(KEY, [], null)).toEqual({ ok: true, count: 0, headSeq: 0 })
    expect(verifyChain(KEY, [], { seq: 0, hash: GENESIS })).toEqual({
      ok: true,
      count: 0,
      headSeq: 0,
    })
  })

  it('accepts PostgreSQL-style string seqs and extra columns', () => {
    const { rows, head } = chain(5)
    const pgRows = rows.map((r, i) => ({ ...r, seq: String(r.seq), id: `au_${i}` }))
    expect(verifyChain(KEY, pgRows, head)).toMatchObject({ ok: true, count: 5 })
  })

  it('fails every row under the wrong audit key', () => {
    const { rows, head } = chain(3)
    expect(verifyChain(OTHER_KEY, rows, head)).toMatchObject({ ok: false, firstBrokenSeq: 1 })
  })

  it.each<[string, (r: StoredAuditRow) => void]>([
    ['actor', (r) => (r.actor = 'mallory')],
    ['outcome', (r) => (r.outcome = 'refunded')],
    ['tenant', (r) => (r.tenant = null)],
    ['request', (r) => (r.request = r.request.replace('"700"', '"70000"'))],
    ['at', (r) => (r.at = '2025-03-02T10:07:00.000Z')],
  ])('finds row 7 edited (%s)', (_field, edit) => {
    const { rows, head } = chain(20)
    edit(rows[6]!)
    expect(verifyChain(KEY, rows, head)).toEqual({
      ok: false,
      count: 6,
      firstBrokenSeq: 7,
      reason: 'row 7 was changed after it was written',
    })
  })

  it('finds row 7 edited with its hash recomputed under another key', () => {
    const { rows, head } = chain(20)
    const row = rows[6]!
    row.actor = 'mallory'
    row.hash = hashAuditRow(OTHER_KEY, 7, row.prev_hash, fromStoredRow(row)!)
    expect(verifyChain(KEY, rows, head)).toMatchObject({ ok: false, firstBrokenSeq: 7 })
  })

  it('finds a deleted row in the middle', () => {
    const { rows, head } = chain(20)
    rows.splice(11, 1)
    expect(verifyChain(KEY, rows, head)).toEqual({
      ok: false,
      count: 11,
      firstBrokenSeq: 12,
      reason: 'row 12 is missing',
    })
  })

  it('finds a deleted row hidden by renumbering the rows after it', () => {
    const { rows } = chain(20)
    rows.splice(11, 1)
    for (const r of rows.slice(11)) r.seq = Number(r.seq) - 1
    const result = verifyChain(KEY, rows, { seq: 19, hash: rows[18]!.hash })
    expect(result).toMatchObject({ ok: false, firstBrokenSeq: 12 })
  })

  it('finds the newest 3 rows deleted while the head still says 20', () => {
    const { rows, head } = chain(20)
    rows.splice(17)
    expect(verifyChain(KEY, rows, head)).toEqual({
      ok: false,
      count: 17,
      firstBrokenSeq: 18,
      reason: 'the newest 3 rows were deleted',
    })
  })

  it('finds every row deleted', () => {
    const { head } = chain(4)
    expect(verifyChain(KEY, [], head)).toMatchObject({ ok: false, firstBrokenSeq: 1 })
  })

  it('finds a head that does not match the newest row', () => {
    const { rows, head } = chain(5)
    expect(verifyChain(KEY, rows, { seq: 5, hash: GENESIS })).toMatchObject({
      ok: false,
      firstBrokenSeq: 5,
      reason: 'the newest row does not match the chain head',
    })
    expect(verifyChain(KEY, rows, { seq: 3, hash: head!.hash })).toMatchObject({
      ok: false,
      firstBrokenSeq: 4,
    })
    expect(verifyChain(KEY, rows, null)).toMatchObject({
      ok: false,
      reason: 'the chain head is missing',
    })
  })

  it('finds a forged row inserted with a duplicate seq, before or after the real one', () => {
    const { rows, head } = chain(10)
    const forged = { ...rows[7]!, actor: 'mallory', hash: 'f'.repeat(64) }
    for (const at of [7, 8]) {
      const tampered = [...rows]
      tampered.splice(at, 0, forged)
      expect(verifyChain(KEY, tampered, head)).toEqual({
        ok: false,
        count: 7,
        firstBrokenSeq: 8,
        reason: 'row 8 appears twice: a row was inserted',
      })
    }
  })

  it('finds a forged row appended with the head moved to it', () => {
    const { rows, head } = chain(10)
    const forgedRecord = nextRecord(OTHER_KEY, head, content(11))
    const forged = toStoredRow(forgedRecord)
    const result = verifyChain(KEY, [...rows, forged], { seq: 11, hash: forged.hash })
    expect(result).toEqual({
      ok: false,
      count: 10,
      firstBrokenSeq: 11,
      reason: 'row 11 was changed after it was written',
    })
  })

  it('finds a forged row inserted in the middle with later rows renumbered', () => {
    const { rows } = chain(10)
    const forged = toStoredRow(nextRecord(OTHER_KEY, { seq: 5, hash: rows[4]!.hash }, content(99)))
    const tampered = [
      ...rows.slice(0, 5),
      forged,
      ...rows.slice(5).map((r) => ({ ...r, seq: Number(r.seq) + 1 })),
    ]
    const last = tampered.at(-1)!
    expect(verifyChain(KEY, tampered, { seq: 11, hash: last.hash })).toMatchObject({
      ok: false,
      firstBrokenSeq: 6,
    })
  })

  it.each<[string, (r: Record<string, unknown>) => void]>([
    ['request is not JSON', (r) => (r['request'] = '{not json')],
    ['seq is a word', (r) => (r['seq'] = 'seven')],
    ['actor is a number', (r) => (r['actor'] = 42)],
    ['hash is missing', (r) => delete r['hash']],
    ['tenant is undefined', (r) => delete r['tenant']],
  ])('reports an unreadable row 7 (%s) instead of throwing', (_what, spoil) => {
    const { rows, head } = chain(20)
    const raw: Record<string, unknown>[] = rows.map((r) => ({ ...r }))
    spoil(raw[6]!)
    expect(verifyChain(KEY, raw, head)).toEqual({
      ok: false,
      count: 6,
      firstBrokenSeq: 7,
      reason: 'row 7 cannot be read',
    })
  })

  it('reports rows that are not objects at all', () => {
    const { rows, head } = chain(3)
    for (const junk of [null, 42, 'row', [], undefined]) {
      expect(verifyChain(KEY, [rows[0], junk, rows[2]], head)).toMatchObject({
        ok: false,
        firstBrokenSeq: 2,
        reason: 'row 2 cannot be read',
      })
    }
  })
})
