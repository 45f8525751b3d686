import { authenticate, type Principal, type Role, tokenToucher } from '../access/tokens.js'
import type { Ctx } from '../context.js'
import { withActor } from '../context.js'
import { DshError, validationError } from '../core/errors.js'
import { isGatewayType } from '../core/gateways/types.js'
import { maskUrl } from '../core/url-mask.js'
import { branchGateways } from '../gateway-config/in-force.js'
import { setupGateway } from '../gateway-config/setup.js'
import { gatewayView } from '../gateway-config/view.js'
import { pay } from '../payments/pay.js'
import { findPayment } from '../payments/records.js'
import { paymentView } from '../payments/view.js'
import { listSettlementBatches } from '../settlement/batches.js'
import { type BranchWithTenant, findBranchByCode, findBranchById } from '../tenants/branches.js'
import type { DaemonContext } from './context.js'
import { header, parseJsonBody, type Req, readBody, sendJson } from './http.js'
import { HttpError } from './http-errors.js'
import type { Route } from './router.js'
import { followEvents } from './sse.js'

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** In a request body, what the CLI calls a usage problem (a missing field) is an invalid body. */
/** The fee fields a gateway set-up body may hold. */
const FEE_FIELDS = [
  'transactionFeeRate',
  'transactionFeeFlat',
  'conversionFeeRate',
  'settlementFee',
]

/** The fields of a payment request body (all strings). */
const PAY_FIELDS = [
  'branch',
  'amount',
  'currency',
  'phone',
  'orderId',
  'method',
  'customerType',
  'paymentMethod',
]

/** Refuses an object holding fields other than `known`, naming them (`what`: "fee fields"). */
function refuseUnknown(
  obj: Record<string, unknown>,
  known: readonly string[],
  code: string,
  what: string,
): void {
  const stray = Object.keys(obj).filter((k) => !known.includes(k))
  if (stray.length) throw validationError(code, `unknown ${what}: ${stray.join(', ')}`)
}

function asBodyError(err: unknown): unknown {
  if (err instanceof DshError && err.kind === 'usage')
    return new DshError('validation', err.code, err.message, { hint: err.hint })
  return err
}

/**
 * The REST API. Checks run in a fixed order: 401 no or bad token, 403 role (viewers only GET),
 * 404 a resource of another tenant or unknown, 422 invalid body, 409 idempotency conflict.
 */
export function apiRoutes(ctx: DaemonContext): Route[] {
  const touch = tokenToucher(ctx.store.db, () => ctx.app.clock.now())
  const warn = (m: string) => ctx.log.warn('api.warning', { detail: m })

  const bearer = (req: Req) => /^Bearer\s+(\S+)$/i.exec(header(req.raw, 'authorization') ?? '')?.[1]

  async function principal(req: Req, needed: Role, what: string): Promise<Principal> {
    const p = await authenticate(ctx.store.db, bearer(req))
    if (!p)
      throw new HttpError(401, 'unauthorized', 'a valid bearer token is required', {
        'www-authenticate': 'Bearer realm="dsh"',
      })
    touch(p)
    if (RANK[p.role] < RANK[needed])
      throw new HttpError(
        403,
        'forbidden',
        `token "${p.name}" has role ${p.role}; ${what} needs ${needed}`,
      )
    return p
  }

  /** A branch the token may see; another tenant's branch is as unknown as a missing one. */
  async function branch(p: Principal, code: string): Promise<BranchWithTenant> {
    const b = /^[a-z][a-z0-9-]{0,39}$/.test(code)
      ? await findBranchByCode(ctx.store.db, code)
      : undefined
    if (!b || (p.tenantId !== null && b.tenant_id !== p.tenantId))
      throw new HttpError(404, 'branch_not_found', `no branch "${code}"`)
    return b
  }

  /** The context acting as the token: audit rows carry its name. */
  const as = (p: Principal): Ctx => withActor(ctx.app, p.name, { warn })

  async function jsonBody(req: Req): Promise<Record<string, unknown>> {
    const type = (header(req.raw, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
    if (type !== 'application/json' && !/^application\/[a-z0-9.+-]*\+json$/.test(type))
      throw new HttpError(
        415,
        'unsupported_media_type',
        'the body must be JSON, sent with Content-Type: application/json',
      )
    const body = parseJsonBody(await readBody(req.raw), { rejectDuplicates: true })
    if (!isRecord(body)) throw validationError('invalid_body', 'the body must be a JSON object')
    return body
  }

  return [
    {
      method: 'GET',
      pattern: '/api/branches/:id/payment-gateways',
      async handler(req, res) {
        const p = await principal(req, 'viewer', 'reading gateways')
        const b = await branch(p, req.params['id'] ?? '')
        const app = as(p)
        const rows = await branchGateways(ctx.store.db, b)
        sendJson(
          res,
          200,
          rows.map((g) =>
            gatewayView(app, g.row, { tenant: b.tenant_slug, branch: b.code }, g.source),
          ),
        )
      },
    },
    {
      method: 'POST',
      pattern: '/api/branches/:id/payment-gateways/:type',
      async handler(req, res) {
        const p = await principal(req, 'admin', 'configuring a gateway')
        const b = await branch(p, req.params['id'] ?? '')
        const type = req.params['type'] ?? ''
        if (!isGatewayType(type))
          throw new HttpError(404, 'unknown_gateway_type', `no gateway type "${type}"`)
        const body = await jsonBody(req)
        // No prototype: a "__proto__" field stays a field (and is refused as unknown) instead of
        // vanishing into the object's prototype.
        const values = Object.create(null) as Record<string, string>
        for (const [k, v] of Object.entries(body)) {
          if (k === 'fees' || k === 'enabled') continue
          if (typeof v !== 'string')
            throw validationError('invalid_field', `field "${k}" must be a string`)
          values[k] = v
        }
        const fees = body['fees'] ?? {}
        if (!isRecord(fees) || Object.values(fees).some((v) => typeof v !== 'string'))
          throw validationError(
            'invalid_fees',
            'fees must be an object of decimal strings, e.g. {"transactionFeeRate":"1.5"}',
          )
        refuseUnknown(fees, FEE_FIELDS, 'invalid_fees', 'fee fields')
        const enabled = body['enabled']
        if (enabled !== undefined && typeof enabled !== 'boolean')
          throw validationError('invalid_field', 'enabled must be true or false')
        const f = fees as Record<string, string | undefined>
        const r = await setupGateway(as(p), {
          type,
          branch: b.code,
          values,
          fees: {
            transactionFeeRate: f['transactionFeeRate'],
            transactionFeeFlat: f['transactionFeeFlat'],
            conversionFeeRate: f['conversionFeeRate'],
            settlementFee: f['settlementFee'],
          },
          enabled: enabled as boolean | undefined,
          onBaseUrlChange: (from, to) => {
            if (p.tenantId !== null)
              throw new HttpError(
                403,
                'forbidden',
                `token "${p.name}" is scoped to a tenant; changing baseUrl${from === undefined ? '' : ` from ${maskUrl(from)}`} to ${maskUrl(to)} needs an unscoped admin token`,
              )
          },
        }).catch((e) => {
          throw asBodyError(e)
        })
        sendJson(res, r.created ? 201 : 200, r.view)
      },
    },
    {
      method: 'GET',
      pattern: '/api/branches/:id/settlements',
      async handler(req, res) {
        const p = await principal(req, 'viewer', 'reading settlements')
        const b = await branch(p, req.params['id'] ?? '')
        sendJson(res, 200, await listSettlementBatches(as(p), b))
      },
    },
    {
      method: 'POST',
      pattern: '/api/payments/process',
      async handler(req, res) {
        const p = await principal(req, 'operator', 'taking a payment')
        const body = await jsonBody(req)
        if (typeof body['branch'] !== 'string')
          throw validationError('invalid_field', 'branch (a branch code) is required')
        const b = await branch(p, body['branch'])
        const key = header(req.raw, 'idempotency-key')?.trim()
        if (!key)
          throw new HttpError(
            400,
            'idempotency_key_required',
            'POST /api/payments/process needs an Idempotency-Key header',
          )
        refuseUnknown(body, PAY_FIELDS, 'invalid_field', 'fields')
        if (typeof body['amount'] !== 'string')
          throw validationError(
            'amount_not_string',
            'amount must be a decimal string such as "1500.00", never a JSON number',
          )
        for (const k of PAY_FIELDS)
          if (body[k] !== undefined && typeof body[k] !== 'string')
            throw validationError('invalid_field', `${k} must be a string`)
        const s = (k: string) => body[k] as string | undefined
        const r = await pay(
          as(p),
          {
            branch: b.code,
            amount: s('amount'),
            currency: s('currency'),
            phone: s('phone'),
            orderId: s('orderId'),
            method: s('method'),
            customerType: s('customerType'),
            idempotencyKey: key,
            paymentMethod: s('paymentMethod'),
          },
          { wait: false },
        ).catch((e) => {
          throw asBodyError(e)
        })
        sendJson(res, r.replayed ? 200 : 201, {
          ...r.payment,
          replayed: r.replayed,
          skipped: r.skipped,
        })
      },
    },
    {
      method: 'GET',
      pattern: '/api/payments/:id/status',
      async handler(req, res) {
        const p = await principal(req, 'viewer', 'reading payments')
        const id = req.params['id'] ?? ''
        const row = id.length <= 64 ? await findPayment(ctx.store.db, id) : undefined
        if (!row || (p.tenantId !== null && row.tenant_id !== p.tenantId))
          throw new HttpError(404, 'payment_not_found', `no payment "${id}"`)
        const b = await findBranchById(ctx.store.db, row.branch_id)
        sendJson(res, 200, paymentView(row, b?.code ?? row.branch_id))
      },
    },
    {
      method: 'GET',
      pattern: '/api/events',
      async handler(req, res) {
        const p = await principal(req, 'viewer', 'following events')
        const code = req.query.get('branch')
        const b = code ? await branch(p, code) : undefined
        await followEvents(ctx.hub, req, res, p, b, async () => {
          // The same token, still live, still of this tenant (and the branch still its own).
          const now = await authenticate(ctx.store.db, bearer(req))
          if (!now || now.id !== p.id || now.tenantId !== p.tenantId) return false
          if (!b) return true
          const still = await findBranchById(ctx.store.db, b.id)
          return Boolean(still && (p.tenantId === null || still.tenant_id === p.tenantId))
        })
      },
    },
  ]
}
