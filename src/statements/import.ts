import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { basename } from 'node:path'
import type { Readable } from 'node:stream'
import type { Insertable } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { DshError, notFound, validationError } from '../core/errors.js'
import { toDecimalString } from '../core/money/index.js'
import {
  type CanonicalRow,
  type ColumnIndex,
  canonicalRow,
  fingerprint,
  isHeaderRow,
  keyHash,
  periodFromPreamble,
  RowError,
  resolveColumns,
  rowKey,
} from '../core/statements/canonical.js'
import {
  builtInProfile,
  isProfilePath,
  parseProfile,
  type StatementProfile,
} from '../core/statements/profile.js'
import { inBulk } from '../store/bulk.js'
import type { StatementLinesTable } from '../store/schema.js'
import { requireBranch } from '../tenants/branches.js'
import { ByteGuardError } from './byte-guard.js'
import {
  checkStatementFile,
  claimRejectsFile,
  DEFAULT_MAX_BYTES,
  type RejectsFile,
} from './files.js'
import { CsvReadError, openCsv } from './read.js'
import { type Reject, rejectsCsv } from './rejects.js'
import {
  deleteStatement,
  findStatementBySha,
  insertLines,
  insertStatement,
  updateStatement,
} from './statements-store.js'

export interface ImportRequest {
  branch: string
  /** A built-in profile name (mpesa, bank) or a path to a JSON profile. */
  profile: string
  /** The file's path, or `-` for `input`. */
  file: string
  input?: Readable | undefined
  dryRun?: boolean | undefined
  /** Write rows that cannot be read to this CSV file and import the rest. */
  rejectsFile?: string | undefined
  /** Replace an existing rejects file (else it is refused). */
  force?: boolean | undefined
  /** A larger file is refused before it is read; stdin once this many bytes came (default 2 GiB). */
  maxBytes?: number | undefined
}

export interface BalanceBreak {
  line: number
  expectedMinor: bigint
  expected: string
  actualMinor: bigint
  actual: string
  currency: string
}

export interface ImportResult {
  statementId: string
  branch: string
  profile: string
  file: string
  period: { from: string; to: string }
  lines: number
  imported: number
  alreadyPresent: number
  rejected: number
  balanceBreaks: BalanceBreak[]
}

/** Reads a profile by name or from a JSON file (exit 3 when unknown or invalid). */
export function loadProfile(value: string): StatementProfile {
  if (!isProfilePath(value)) return builtInProfile(value)
  if (!existsSync(value))
    throw validationError(
      'unknown_profile',
      `no profile file ${value}`,
      'give a built-in name (mpesa, bank) or a JSON file',
    )
  let json: unknown
  try {
    json = JSON.parse(readFileSync(value, 'utf8'))
  } catch (e) {
    throw validationError('invalid_profile', `${value}: not JSON (${(e as Error).message})`)
  }
  return parseProfile(value, json)
}

class DryRun {
  constructor(readonly result: ImportResult) {}
}

const BATCH = 1000

/**
 * Imports one statement file in one transaction: every row is read, canonicalised and
 * fingerprinted; a row that cannot be read refuses the whole file (exit 3, file:line:column)
 * unless rejects go to a file. Lines already stored (same fingerprint) are counted, not added.
 */
export async function importStatement(ctx: Ctx, req: ImportRequest): Promise<ImportResult> {
  const profile = loadProfile(req.profile)
  const store = await ctx.store()
  const branch = await requireBranch(store.db, req.branch)
  const fileName = req.file === '-' ? 'stdin' : req.file
  if (req.file !== '-' && !existsSync(req.file))
    throw notFound('statement_not_found', `no file ${req.file}`)
  if (req.file === '-' && !req.input)
    throw validationError('statement_missing', 'no statement on standard input')
  const maxBytes = req.maxBytes ?? DEFAULT_MAX_BYTES
  if (req.file !== '-') checkStatementFile(req.file, maxBytes)
  // Claimed before any work: a name that exists, a link or the statement itself is refused now.
  const rejectsOut: RejectsFile | undefined = req.rejectsFile
    ? claimRejectsFile(req.rejectsFile, req.file, req.force === true)
    : undefined
  const shown = req.file === '-' ? 'stdin' : basename(req.file)
  const rejects: Reject[] = []
  const refuse = (line: number, column: number, message: string) =>
    new DshError('validation', 'bad_statement_row', `${fileName}:${line}:${column}: ${message}`, {
      hint: 'fix the file or the profile; nothing was imported (or pass --skip-bad-rows <rejects.csv>)',
    })
  const bad = (rec: { line: number; raw: string }, column: number, message: string) => {
    if (!req.rejectsFile) throw refuse(rec.line, column, message)
    rejects.push({ line: rec.line, column, message, raw: rec.raw })
  }
  const now = ctx.clock.now().toISOString()
  let result: ImportResult
  try {
    result = await store.write(
      inBulk(async (trx) => {
        const statementId = ctx.ids.next('st')
        await insertStatement(trx, {
          id: statementId,
          branch_id: branch.id,
          profile: profile.name,
          kind: profile.kind,
          account: profile.account,
          file: shown,
          sha256: `pending:${statementId}`,
          currency: profile.currency ?? branch.currency,
          period_from: now,
          period_to: now,
          lines: 0,
          imported: 0,
          created_at: now,
          created_by: ctx.actor,
        })
        const sha = createHash('sha256')
        const preamble: string[] = []
        let cols: ColumnIndex | undefined
        let width = 0
        let lines = 0
        let imported = 0
        let minAt: string | undefined
        let maxAt: string | undefined
        let currency: string | undefined
        const occurrences = new Map<string, number>()
        let pending: Insertable<StatementLinesTable>[] = []
        // Stored lines are looked up before inserting while the previous chunk had some (a
        // re-import, an overlap); a chunk of new lines is inserted straight away (a conflict
        // would still be skipped, and turns the look-up back on).
        let probe = true
        const flush = async () => {
          const n = await insertLines(trx, pending, probe)
          probe = n < pending.length
          imported += n
          pending = []
        }
        // Running balance, checked in file order both ways until the order is known.
        let prev: CanonicalRow | undefined
        let firstAt: string | undefined
        let newestFirst: boolean | undefined
        let forward: { line: number; expected: bigint; actual: bigint }[] = []
        let backward: { line: number; expected: bigint; actual: bigint }[] = []
        const named =
          profile.header && Object.values(profile.columns).some((v) => typeof v === 'string')
        if (!profile.header) {
          cols = resolveColumns(profile, null)
          width = Math.max(...Object.values(cols).map((i) => (i ?? 0) + 1))
        }
        const source = req.file === '-' ? (req.input as Readable) : req.file
        try {
          const csv = await openCsv(source, {
            separator: profile.separator,
            encoding: profile.encoding,
            onChunk: (c) => sha.update(c),
            bounds: {
              maxLineBytes: profile.maxLineBytes,
              maxBytes,
              utf8: profile.encoding === 'utf-8',
            },
            raw: profile.skipPatterns.length > 0 || req.rejectsFile !== undefined,
            // The header is the first line naming every mapped column; the lines before it are
            // the preamble. Without names, skipLines lines are skipped.
            start: (peek) => {
              if (!named) return profile.skipLines
              for (let i = profile.skipLines; i < peek.length; i++) {
                const cells = (peek[i] as string)
                  .split(profile.separator)
                  .map((c) => c.trim().replace(/^"|"$/g, '').replaceAll('""', '"'))
                if (isHeaderRow(profile, cells)) return i
              }
              return profile.skipLines
            },
          })
          preamble.push(...csv.preamble)
          for await (const batch of csv.records)
            for (const rec of batch) {
              if (profile.skipPatterns.some((p) => p.test(rec.raw))) continue
              if (!cols) {
                if (!named || isHeaderRow(profile, rec.cells)) {
                  try {
                    cols = resolveColumns(profile, rec.cells)
                  } catch (e) {
                    if (e instanceof RowError) throw refuse(rec.line, e.column, e.message)
                    throw e
                  }
                  width = rec.cells.length
                  continue
                }
                preamble.push(rec.raw)
                if (preamble.length > 50)
                  throw refuse(
                    rec.line,
                    1,
                    `no header row with the columns ${Object.values(profile.columns).join(', ')} in the first 50 lines`,
                  )
                continue
              }
              lines++
              if (profile.header ? rec.cells.length !== width : rec.cells.length < width) {
                bad(
                  rec,
                  Math.min(rec.cells.length, width) + 1,
                  `expected ${width} columns, got ${rec.cells.length}`,
                )
                continue
              }
              let row: CanonicalRow
              try {
                row = canonicalRow(
                  profile,
                  cols,
                  rec.cells,
                  rec.line,
                  profile.currency ?? branch.currency,
                )
              } catch (e) {
                if (e instanceof RowError) {
                  bad(rec, e.column, e.message)
                  continue
                }
                throw e
              }
              if (currency === undefined) currency = row.currency
              if (minAt === undefined || row.bookedAt < minAt) minAt = row.bookedAt
              if (maxAt === undefined || row.bookedAt > maxAt) maxAt = row.bookedAt
              if (row.balanceMinor !== null) {
                if (firstAt === undefined) firstAt = row.bookedAt
                else if (newestFirst === undefined && row.bookedAt !== firstAt) {
                  newestFirst = row.bookedAt < firstAt
                  if (newestFirst) forward = []
                  else backward = []
                }
                // A transaction that did not complete (M-Pesa `Failed`) leaves the balance as it was.
                const moved = (r: CanonicalRow) => (r.completed ? r.amountMinor : 0n)
                if (prev && prev.balanceMinor !== null) {
                  if (newestFirst !== true && prev.balanceMinor + moved(row) !== row.balanceMinor)
                    forward.push({
                      line: row.line,
                      expected: prev.balanceMinor + moved(row),
                      actual: row.balanceMinor,
                    })
                  if (newestFirst !== false && row.balanceMinor + moved(prev) !== prev.balanceMinor)
                    backward.push({
                      line: prev.line,
                      expected: row.balanceMinor + moved(prev),
                      actual: prev.balanceMinor,
                    })
                }
                prev = row
              }
              const h = keyHash(rowKey(branch.id, profile.account, row))
              const occ = occurrences.get(h) ?? 0
              occurrences.set(h, occ + 1)
              const fp = fingerprint(h, occ)
              pending.push({
                id: `sl_${fp}`,
                statement_id: statementId,
                branch_id: branch.id,
                kind: profile.kind,
                account: profile.account,
                fingerprint: fp,
                line_no: row.line,
                occurrence: occ,
                booked_at: row.bookedAt,
                value_date: row.valueDate,
                amount_minor: row.amountMinor,
                currency: row.currency,
                transaction_id: row.transactionId,
                reference: row.reference,
                description: row.description,
                counterparty: row.counterparty,
                balance_minor: row.balanceMinor,
                completed: row.completed ? 1 : 0,
              })
              if (pending.length >= BATCH) await flush()
            }
        } catch (e) {
          if (e instanceof CsvReadError) throw refuse(e.line, e.column, e.message)
          // A bound or bytes that are not text: no row can be skipped past it.
          if (e instanceof ByteGuardError)
            throw new DshError(
              'validation',
              'bad_statement_file',
              `${fileName}:${e.line}:${e.column}: ${e.message}`,
              { hint: 'fix the file or the profile; nothing was imported' },
            )
          throw e
        }
        await flush()
        if (!cols)
          throw refuse(
            preamble.length,
            1,
            `no header row with the columns ${Object.values(profile.columns).join(', ')}`,
          )
        let period: { from: string; to: string }
        try {
          const p = periodFromPreamble(profile, preamble)
          period = p
            ? { from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString() }
            : { from: minAt ?? now, to: maxAt ?? now }
        } catch (e) {
          throw refuse(1, 1, `statement period: ${(e as Error).message}`)
        }
        const breaks = (newestFirst ? backward : forward)
          .sort((a, b) => a.line - b.line)
          .map((b) => {
            const cur = currency ?? branch.currency
            return {
              line: b.line,
              expectedMinor: b.expected,
              expected: toDecimalString({ minor: b.expected, currency: cur }),
              actualMinor: b.actual,
              actual: toDecimalString({ minor: b.actual, currency: cur }),
              currency: cur,
            }
          })
        const digest = sha.digest('hex')
        let id = statementId
        const same =
          imported === 0
            ? await findStatementBySha(trx, branch.id, profile.kind, digest, statementId)
            : undefined
        if (same) {
          await deleteStatement(trx, statementId)
          id = same.id
        } else {
          await updateStatement(trx, statementId, {
            sha256: digest,
            currency: currency ?? branch.currency,
            period_from: period.from,
            period_to: period.to,
            lines,
            imported,
          })
        }
        const out: ImportResult = {
          statementId: id,
          branch: branch.code,
          profile: profile.name,
          file: fileName,
          period,
          lines,
          imported,
          alreadyPresent: lines - imported - rejects.length,
          rejected: rejects.length,
          balanceBreaks: breaks,
        }
        if (req.dryRun) throw new DryRun(out)
        await audit(ctx, trx, {
          action: 'statement.import',
          tenant: branch.tenant_slug,
          branch: branch.code,
          target: id,
          request: {
            file: fileName,
            profile: profile.name,
            lines,
            imported,
            alreadyPresent: out.alreadyPresent,
            rejected: rejects.length,
            sha256: digest,
          },
        })
        return out
      }),
    )
  } catch (e) {
    if (e instanceof DryRun) result = e.result
    else {
      rejectsOut?.discard()
      throw e
    }
  }
  const WARN = 20
  for (const b of result.balanceBreaks.slice(0, WARN))
    ctx.warn(
      `${fileName}:${b.line}: running balance breaks: expected ${b.expected} got ${b.actual} ${b.currency}`,
    )
  if (result.balanceBreaks.length > WARN)
    ctx.warn(`${fileName}: ${result.balanceBreaks.length - WARN} more running balance break(s)`)
  if (rejectsOut) {
    // Always written (a header alone when nothing was rejected): the file is this run's.
    rejectsOut.write(rejectsCsv(rejects))
    if (rejects.length > 0)
      ctx.warn(`${rejects.length} row(s) rejected; written to ${req.rejectsFile}`)
  }
  return result
}
