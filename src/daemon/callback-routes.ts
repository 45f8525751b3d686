import type { ServerResponse } from 'node:http'
import { bodyKey, type CallbackGateway, inboxInsert, looseRef } from '../callbacks/inbox.js'
import type { ParsedCallback } from '../core/payments/gateway-port.js'
import { verifyBankSignature } from '../gateways/index.js'
import type { BranchWithTenant } from '../tenants/branches.js'
import type { DaemonContext, GatewayHandle } from './context.js'
import { header, parseJsonBody, type Req, readBody, sendJson } from './http.js'
import { HttpError } from './http-errors.js'
import { ipAllowed } from './options.js'
import type { Route } from './router.js'

const notFound = () => new HttpError(404, 'not_found', 'no such callback URL')
const badSignature = () =>
  new HttpError(401, 'bad_signature', 'the signature is missing, wrong or too old')

/** The replies the gateways expect (Daraja's documented acknowledgement for M-Pesa). */
const ACK: Record<CallbackGateway, unknown> = {
  mpesa: { ResultCode: 0, ResultDesc: 'Accepted' },
  'mpesa-kcb': { status: 'accepted' },
  stripe: { received: true },
  square: { received: true },
  bank: { received: true },
}

function keyOf(
  gateway: CallbackGateway,
  handle: GatewayHandle | null,
  raw: string,
  body: unknown,
): { key: string; ref: string | undefined } {
  if (handle) {
    let parsed: ParsedCallback | undefined
    try {
      parsed = handle.adapter.parseCallback(body)
    } catch {
      // an unknown shape: stored under its bytes' digest; processing sends it to review
    }
    if (parsed) return { key: parsed.dedupeKey, ref: parsed.gatewayRef }
  }
  if (gateway === 'bank') {
    const id = looseRef('bank', body)
    if (id) return { key: `bank:${id}`, ref: id }
  }
  return { key: bodyKey(gateway, raw), ref: looseRef(gateway, body) }
}

/**
 * Stores a verified callback (committed before the answer), then answers 200. A repeat of a
 * stored one is answered the same way and counted, never applied twice.
 */
async function store(
  ctx: DaemonContext,
  req: Req,
  res: ServerResponse,
  gateway: CallbackGateway,
  branch: BranchWithTenant,
  handle: GatewayHandle | null,
  raw: string,
  body: unknown,
): Promise<void> {
  const { key, ref } = keyOf(gateway, handle, raw, body)
  const row = inboxInsert(ctx.ids, ctx.app.clock.now().toISOString(), {
    gateway,
    branchId: branch.id,
    tenantId: branch.tenant_id,
    raw,
    body,
    headers: req.raw.headers,
    remoteAddr: req.remote,
    dedupeKey: key,
    gatewayRef: ref,
  })
  const r = await ctx.inbox.write(row).catch((err) => {
    if (err instanceof HttpError) throw err
    ctx.log.error('inbox.write_failed', { gateway, error: (err as Error).message })
    // Not stored, so not acknowledged: the gateway sends it again.
    throw new HttpError(
      503,
      'store_unavailable',
      'the callback could not be stored; send it again',
      {
        'retry-after': '5',
      },
    )
  })
  if (r.duplicate) {
    ctx.metrics.inc('dsh_callbacks_duplicates_total', { gateway })
    ctx.log.info('callback.duplicate', { gateway, branch: branch.code, key })
  } else {
    ctx.metrics.inc('dsh_callbacks_received_total', { gateway })
    ctx.worker.kick()
  }
  sendJson(res, 200, ACK[gateway])
}

const rejected = (ctx: DaemonContext, gateway: string, reason: string) =>
  ctx.metrics.inc('dsh_callbacks_rejected_total', { gateway, reason })

/**
 * Reads, verifies and parses a callback body, counting each refusal by its reason: too large
 * (413), a signature that does not verify (401; before parsing, so nothing unsigned is parsed),
 * not JSON (400).
 */
async function readCallback(
  ctx: DaemonContext,
  req: Req,
  gateway: string,
  verify?: (raw: string) => boolean,
): Promise<{ raw: string; body: unknown }> {
  const raw = await readBody(req.raw).catch((e) => {
    rejected(ctx, gateway, 'size')
    throw e
  })
  if (verify && !verify(raw)) {
    rejected(ctx, gateway, 'signature')
    throw badSignature()
  }
  try {
    return { raw, body: parseJsonBody(raw) }
  } catch (e) {
    rejected(ctx, gateway, 'json')
    throw e
  }
}

/** Daraja and KCB sign nothing: the secret token in the path is the proof (GATEWAYS.md §1.10). */
function tokenRoute(ctx: DaemonContext, gateway: 'mpesa' | 'mpesa-kcb'): Route['handler'] {
  return async (req, res) => {
    if (gateway === 'mpesa' && !ipAllowed(ctx.options.mpesaAllowIps, req.remote)) {
      rejected(ctx, gateway, 'source_ip')
      throw notFound()
    }
    const branch = await ctx.lookups.branchForToken(gateway, req.params['token'] ?? '')
    if (!branch) {
      rejected(ctx, gateway, 'token')
      throw notFound()
    }
    const { raw, body } = await readCallback(ctx, req, gateway)
    const handle = await ctx.lookups.gateway(branch, gateway)
    await store(ctx, req, res, gateway, branch, handle, raw, body)
  }
}

/** Stripe and Square sign their webhooks with the branch's secret: no valid signature, no entry. */
function signedRoute(ctx: DaemonContext, gateway: 'stripe' | 'square'): Route['handler'] {
  return async (req, res) => {
    const branch = await ctx.lookups.branchByCode(req.params['branch'] ?? '')
    const handle = branch ? await ctx.lookups.gateway(branch, gateway) : null
    if (!branch || !handle) {
      rejected(ctx, gateway, 'branch')
      throw notFound()
    }
    const base =
      (await ctx.lookups.publicUrl()) ?? `http://${header(req.raw, 'host') ?? 'localhost'}`
    const url = `${base.replace(/\/+$/, '')}${req.path}`
    const headers: Record<string, string | undefined> = {}
    for (const [k, v] of Object.entries(req.raw.headers))
      headers[k] = Array.isArray(v) ? v.join(', ') : v
    const { raw, body } = await readCallback(ctx, req, gateway, (text) =>
      handle.adapter.verifyCallback(text, headers, url, ctx.app.clock.now().getTime()),
    )
    await store(ctx, req, res, gateway, branch, handle, raw, body)
  }
}

/** Our bank API: a path token and `X-Bank-Signature` (HMAC + timestamp, 300 s). */
function bankRoute(ctx: DaemonContext): Route['handler'] {
  return async (req, res) => {
    const branch = await ctx.lookups.branchForToken('bank', req.params['token'] ?? '')
    const secrets = branch ? await ctx.bankSecret(ctx.store.db, branch) : []
    if (!branch || secrets.length === 0) {
      rejected(ctx, 'bank', 'token')
      throw notFound()
    }
    const signature = header(req.raw, 'x-bank-signature')
    const { raw, body } = await readCallback(ctx, req, 'bank', (text) => {
      const nowMs = ctx.app.clock.now().getTime()
      // one secret per http settlement account of the branch (one per currency)
      return secrets.some((secret) => verifyBankSignature(text, signature, secret, nowMs))
    })
    await store(ctx, req, res, 'bank', branch, null, raw, body)
  }
}

export function callbackRoutes(ctx: DaemonContext): Route[] {
  return [
    { method: 'POST', pattern: '/callbacks/mpesa/:token', handler: tokenRoute(ctx, 'mpesa') },
    {
      method: 'POST',
      pattern: '/callbacks/mpesa-kcb/:token',
      handler: tokenRoute(ctx, 'mpesa-kcb'),
    },
    { method: 'POST', pattern: '/callbacks/bank/:token', handler: bankRoute(ctx) },
    { method: 'POST', pattern: '/webhooks/stripe/:branch', handler: signedRoute(ctx, 'stripe') },
    { method: 'POST', pattern: '/webhooks/square/:branch', handler: signedRoute(ctx, 'square') },
  ]
}
