import { hostname } from 'node:os'
import type { Kysely } from 'kysely'
import { audit } from '../audit/audit.js'
import type { Ctx } from '../context.js'
import { configError } from '../core/errors.js'
import { localDate } from '../core/schedule.js'
import {
  type TransferInstruction,
  transferCsv,
  transferPain001,
} from '../core/settlement/transfer-files.js'
import { createBankTransferClient } from '../gateways/bank/client.js'
import { createHttpClient, type HttpClient } from '../gateways/http.js'
import { createTokenCache } from '../gateways/token-cache.js'
import type { Database } from '../store/schema.js'
import { openBankApi } from './accounts.js'
import {
  type AccountWithBranch,
  accountsWithBranch,
  type BatchRow,
  findBatchForUpdate,
  releaseItems,
  updateBatch,
} from './batches-store.js'
import { findCollectionAccount } from './collection-accounts-store.js'
import { writeOutbox } from './outbox.js'
import { CASH_GATEWAY, referenceOf, TRANSFER } from './view.js'

export interface SendResult {
  sent: boolean
  /** Why it was not sent (it stays pending, or failed when the bank refused it for good). */
  failure?: string
  /** The bank files this send wrote into the outbox (file transfers). */
  files?: string[]
}

const clients = new WeakMap<Ctx, HttpClient>()
function httpFor(ctx: Ctx): HttpClient {
  let c = clients.get(ctx)
  if (!c) {
    const made = createHttpClient({ readTimeoutMs: 30_000 })
    ctx.onClose(() => made.close())
    clients.set(ctx, made)
    c = made
  }
  return c
}

async function accountOf(ctx: Ctx, b: BatchRow): Promise<AccountWithBranch> {
  const store = await ctx.store()
  const a = (await accountsWithBranch(store.db, { branchId: b.branch_id })).find(
    (x) => x.id === b.account_id,
  )
  if (!a) throw configError('settlement_account_missing', `batch ${b.id} has no settlement account`)
  return a
}

/** This process, as the sender of transfers: host:pid. */
export const SEND_OWNER = `${hostname()}:${process.pid}`
const LEASE_MS = 5 * 60_000
export const leaseUntil = (now: Date) => new Date(now.getTime() + LEASE_MS).toISOString()

/** The branch a batch belongs to, as its audit rows name it. */
export interface BatchOwner {
  tenant_slug: string
  branch_code: string
}

/** One audit row about a batch (`settlement.create|send|complete|fail|cancel|retry|deposit`). */
export const auditBatch = (
  ctx: Ctx,
  trx: Kysely<Database>,
  action: `settlement.${'create' | 'send' | 'complete' | 'fail' | 'cancel' | 'retry' | 'deposit'}`,
  a: BatchOwner,
  b: { id: string; reference: string },
  request: Record<string, unknown>,
) =>
  audit(ctx, trx, {
    action,
    tenant: a.tenant_slug,
    branch: a.branch_code,
    target: b.id,
    request: { reference: b.reference, ...request },
  })

/**
 * A new pending batch with nothing sent yet, claimed for sending by this process (a run sends
 * what it creates; a concurrent run leaves it alone).
 */
/** What a batch or cash-up holds of a transfer before anything went to the bank: nothing. */
export const NOTHING_SENT = {
  transfer_adapter: null,
  transfer_id: null,
  transfer_files: null,
  sent_at: null,
  bank_ref: null,
  bank_amount_minor: null,
  failure_reason: null,
} as const satisfies Partial<BatchRow>

export const pendingBatch = (
  fields: Omit<
    BatchRow,
    | 'id'
    | 'kind'
    | 'reference'
    | 'status'
    | 'transfer_adapter'
    | 'transfer_id'
    | 'transfer_files'
    | 'sent_at'
    | 'bank_ref'
    | 'bank_amount_minor'
    | 'failure_reason'
    | 'send_owner'
    | 'send_until'
    | 'created_at'
    | 'updated_at'
    | 'completed_at'
  >,
  id: string,
  at: string,
): BatchRow => ({
  ...fields,
  id,
  kind: TRANSFER,
  reference: referenceOf(id),
  status: 'pending',
  ...NOTHING_SENT,
  send_owner: SEND_OWNER,
  send_until: leaseUntil(new Date(at)),
  created_at: at,
  updated_at: at,
  completed_at: null,
})

/** Whether another process's claim on sending a batch still stands. */
export function heldByOther(b: BatchRow, now: Date): boolean {
  if (!b.send_owner || b.send_owner === SEND_OWNER) return false
  if (!b.send_until || b.send_until <= now.toISOString()) return false
  const i = b.send_owner.lastIndexOf(':')
  const host = b.send_owner.slice(0, i)
  const pid = Number(b.send_owner.slice(i + 1))
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // ESRCH: the sender is gone (killed): its batch is ours to send. EPERM: it lives.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/** Takes the sending of a pending batch, unless a live process holds it. */
async function claimSend(ctx: Ctx, id: string): Promise<BatchRow | undefined> {
  const store = await ctx.store()
  return store.write(async (trx) => {
    const b = await findBatchForUpdate(trx, id)
    const now = ctx.clock.now()
    // Cash is banked by the branch, never paid from the collection account: a pending cash
    // batch made before cash-ups existed is never sent (the next run cancels it).
    if (b?.status !== 'pending' || b.kind !== TRANSFER || b.gateway === CASH_GATEWAY)
      return undefined
    if (heldByOther(b, now)) return undefined
    const claim = { send_owner: SEND_OWNER, send_until: leaseUntil(now) }
    await updateBatch(trx, id, claim)
    return { ...b, ...claim }
  })
}

async function releaseSend(ctx: Ctx, id: string): Promise<void> {
  const store = await ctx.store()
  await updateBatch(store.db, id, { send_owner: null, send_until: null })
}

export const narrativeOf = (b: BatchRow, branchCode: string) =>
  `${b.reference} ${branchCode} ${b.gateway} settlement`

/**
 * Sends a pending batch's transfer through its account's adapter; afterwards it is
 * `processing`. An http transfer carries the batch id as Idempotency-Key, so sending again after
 * a crash never pays twice.
 */
export async function sendBatch(ctx: Ctx, batchId: string): Promise<SendResult> {
  const b = await claimSend(ctx, batchId)
  if (!b) return { sent: false }
  try {
    const r = await sendClaimed(ctx, b)
    if (!r.sent) await releaseSend(ctx, b.id)
    return r
  } catch (err) {
    await releaseSend(ctx, b.id).catch(() => {})
    throw err
  }
}

async function sendClaimed(ctx: Ctx, b: BatchRow): Promise<SendResult> {
  const store = await ctx.store()
  const a = await accountOf(ctx, b)
  const adapter = a.transfer
  if (adapter === 'file') {
    const collection = await findCollectionAccount(store.db, a.tenant_id, b.currency)
    if (!collection)
      throw configError(
        'no_collection_account',
        `tenant ${a.tenant_slug} has no collection account in ${b.currency}`,
        `set one with \`dsh tenant collection-account ${a.tenant_slug} --currency ${b.currency} --account-name … --account-number … --bank-name …\``,
      )
    const instruction: TransferInstruction = {
      reference: b.reference,
      valueDate: localDate(new Date(b.created_at), a.branch_timezone),
      createdAt: b.created_at,
      timeZone: a.tenant_timezone,
      amountMinor: BigInt(b.net_minor),
      currency: b.currency,
      debtor: {
        name: collection.account_name,
        accountNumber: collection.account_number,
        bankName: collection.bank_name,
        bankCode: collection.bank_code,
        swift: collection.swift,
      },
      creditor: {
        name: a.account_name,
        accountNumber: a.account_number,
        bankName: a.bank_name,
        bankCode: a.bank_code,
        swift: a.swift,
      },
      narrative: narrativeOf(b, a.branch_code),
    }
    const files = await writeOutbox(ctx.home, b.reference, {
      csv: transferCsv(instruction),
      xml: transferPain001(instruction),
    })
    return { sent: await markSent(ctx, b, a, { adapter, transferId: null, files }), files }
  }
  if (adapter === 'manual')
    return { sent: await markSent(ctx, b, a, { adapter, transferId: null, files: [] }) }

  const bank = openBankApi(ctx, a)
  if (!bank)
    throw configError(
      'bank_api_missing',
      `settlement account ${a.branch_code} ${a.currency} has no bank API`,
      `set it with \`dsh branch settlement-account ${a.branch_code} --currency ${a.currency} --transfer http --bank-api-url …\``,
    )
  const client = createBankTransferClient(
    {
      settings: { baseUrl: bank.baseUrl },
      secrets: { apiKey: bank.apiKey, webhookSecret: bank.webhookSecret },
    },
    { http: httpFor(ctx), tokens: createTokenCache(ctx.clock), clock: ctx.clock },
  )
  const r = await client.transfer({
    reference: b.reference,
    amountMinor: BigInt(b.net_minor),
    currency: b.currency,
    accountNumber: a.account_number,
    bankCode: a.bank_code ?? '',
    narrative: narrativeOf(b, a.branch_code),
    idempotencyKey: b.id,
  })
  const o = r.outcome
  if (o.status === 'pending' || o.status === 'succeeded')
    return {
      sent: await markSent(ctx, b, a, {
        adapter,
        transferId: o.refs.gatewayRef ?? null,
        files: [],
      }),
    }
  if (o.kind === 'declined') {
    await store.write(async (trx) => {
      const now = await findBatchForUpdate(trx, b.id)
      if (now?.status === 'pending')
        await failLocked(ctx, trx, now, a, `the bank refused the transfer: ${o.message}`)
    })
    return { sent: false, failure: `the bank refused the transfer: ${o.message}` }
  }
  return {
    sent: false,
    failure: `${o.message} (${o.code}); it stays pending and a rerun resends it`,
  }
}

async function markSent(
  ctx: Ctx,
  b: BatchRow,
  a: AccountWithBranch,
  t: { adapter: string; transferId: string | null; files: string[] },
): Promise<boolean> {
  const store = await ctx.store()
  return store.write(async (trx) => {
    const now = await findBatchForUpdate(trx, b.id)
    if (!now) return false
    // The bank's confirmation may have come (and completed or failed the batch) before this
    // process recorded the send: the transfer is still recorded, the status left as it is.
    const confirmedFirst = t.adapter === 'http' && now.status !== 'pending' && now.sent_at === null
    if (now.status !== 'pending' && !confirmedFirst) return false
    const at = ctx.clock.now().toISOString()
    await updateBatch(trx, b.id, {
      ...(confirmedFirst ? {} : { status: 'processing', failure_reason: null }),
      transfer_adapter: t.adapter,
      transfer_id: now.transfer_id ?? t.transferId,
      transfer_files: JSON.stringify(t.files),
      sent_at: at,
      updated_at: at,
    })
    await auditBatch(ctx, trx, 'settlement.send', a, b, {
      adapter: t.adapter,
      transferId: t.transferId,
      files: t.files,
      net: String(b.net_minor),
      currency: b.currency,
    })
    return true
  })
}

/** Fails a locked batch and releases its payments to the next run (audited). */
export async function failLocked(
  ctx: Ctx,
  trx: Kysely<Database>,
  b: BatchRow,
  a: BatchOwner,
  reason: string,
): Promise<void> {
  const at = ctx.clock.now().toISOString()
  await updateBatch(trx, b.id, { status: 'failed', failure_reason: reason, updated_at: at })
  await releaseItems(trx, b.id, at)
  await auditBatch(ctx, trx, 'settlement.fail', a, b, { reason })
}
