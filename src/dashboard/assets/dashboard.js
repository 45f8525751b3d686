// The branch dashboard's only script: an ES module served by `dsh daemon`, no build step.
// Every value is put into the page as text (textContent, never innerHTML). Money and percentages
// are shown exactly as the API's decimal strings: no arithmetic on money here.

const $ = (id) => document.getElementById(id)
const SVG = 'http://www.w3.org/2000/svg'

const state = {
  branch: null,
  timezone: 'UTC',
  events: null,
  lastEventId: null,
  refresh: null,
  signedOut: false,
  loading: null,
  received: 0,
}

class SignedOut extends Error {}

/** A status as a symbol and a word: colour is never the only carrier. */
const STATUS_MARK = {
  succeeded: '✓',
  failed: '✗',
  cancelled: '⊘',
  pending: '…',
  awaiting_deposit: '…',
  deposited: '✓',
  created: '…',
  unknown: '?',
  needs_review: '!',
  critical: '▲',
  warning: '△',
  closed: '●',
  open: '○',
  half_open: '◐',
}

function text(el, value) {
  el.textContent = value === null || value === undefined ? '–' : String(value)
  return el
}

function cell(tag, value, opts = {}) {
  const el = document.createElement(tag)
  text(el, value)
  if (opts.num) el.className = 'num'
  if (opts.field) el.dataset.field = opts.field
  if (tag === 'th') el.scope = 'row'
  return el
}

function statusCell(status, field = 'status') {
  const td = document.createElement('td')
  td.dataset.field = field
  td.dataset.value = status
  td.className = `status status-${status}`
  const mark = document.createElement('span')
  mark.setAttribute('aria-hidden', 'true')
  mark.textContent = `${STATUS_MARK[status] ?? '•'} `
  const word = document.createElement('span')
  word.className = 'word'
  word.textContent = status.replace('_', ' ')
  td.append(mark, word)
  return td
}

function timeCell(iso, field) {
  const td = document.createElement('td')
  td.dataset.field = field
  if (!iso) return text(td, null)
  const t = document.createElement('time')
  t.dateTime = iso
  t.textContent = formatTime(iso)
  t.title = `${iso} (UTC)`
  td.append(t)
  return td
}

/** A time in the branch's time zone (not the browser's). */
function formatTime(iso) {
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone: state.timezone,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    }).format(new Date(iso))
  } catch {
    return iso
  }
}

function fill(tableId, rows, render, empty) {
  const body = $(tableId).tBodies[0]
  const trs = rows.map((r) => {
    const tr = document.createElement('tr')
    tr.append(...render(r))
    return tr
  })
  if (trs.length === 0) {
    const tr = document.createElement('tr')
    tr.className = 'empty'
    const td = cell('td', empty)
    td.colSpan = $(tableId).tHead.rows[0].cells.length
    tr.append(td)
    trs.push(tr)
  }
  body.replaceChildren(...trs)
}

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } })
  if (res.status === 401) throw new SignedOut()
  if (!res.ok) {
    let message = `${res.status}`
    try {
      message = (await res.json()).error?.message ?? message
    } catch {}
    throw new Error(message)
  }
  return res.json()
}

function notice(message) {
  const n = $('notice')
  n.hidden = !message
  n.textContent = message ?? ''
}

function live(message) {
  $('live').textContent = message
}

function signedOut() {
  if (state.signedOut) return
  state.signedOut = true
  state.events?.close()
  state.events = null
  clearTimeout(state.refresh)
  document.body.dataset.state = 'signed-out'
  live('Signed out')
  notice('Signed out: this page no longer updates. Sign in again to continue.')
  $('logout').hidden = true
  $('signin').hidden = false
}

function fail(err) {
  if (err instanceof SignedOut) signedOut()
  else notice(`Could not load the figures: ${err.message}`)
}

// ---- rendering -------------------------------------------------------------------------------

function renderTotals(id, rows, key) {
  fill(
    id,
    rows,
    (t) => [
      ...(key ? [cell('th', t[key], { field: key })] : []),
      key
        ? cell('td', t.currency, { field: 'currency' })
        : cell('th', t.currency, { field: 'currency' }),
      cell('td', t.count, { num: true, field: 'count' }),
      cell('td', t.amount, { num: true, field: 'amount' }),
      cell('td', t.average, { num: true, field: 'average' }),
    ],
    'None yet',
  )
}

function renderChart(hourly) {
  const rows = hourly ?? []
  const max = Math.max(1, ...rows.map((h) => h.count))
  const w = 480 / Math.max(1, rows.length)
  const bars = rows.map((h, i) => {
    const g = document.createElementNS(SVG, 'g')
    const height = (h.count / max) * 140
    const bar = document.createElementNS(SVG, 'rect')
    bar.setAttribute('x', String(i * w + 1))
    bar.setAttribute('width', String(Math.max(1, w - 2)))
    bar.setAttribute('y', String(150 - height))
    bar.setAttribute('height', String(height))
    bar.setAttribute('class', 'bar')
    const title = document.createElementNS(SVG, 'title')
    title.textContent = `${h.hour}: ${h.count} payments, ${h.succeededCount} succeeded`
    bar.append(title)
    g.append(bar)
    return g
  })
  $('bars').replaceChildren(...bars)
  // Hour labels in HTML under the chart, so they keep their shape when the chart stretches.
  $('axis').replaceChildren(
    ...rows
      .filter((_, i) => i % 3 === 0)
      .map((h) => {
        const li = document.createElement('li')
        li.textContent = h.hour.slice(0, 2)
        return li
      }),
  )
  fill(
    'hourly',
    rows,
    (h) => [
      cell('th', h.hour, { field: 'hour' }),
      cell('td', h.count, { num: true, field: 'count' }),
      cell('td', h.succeededCount, { num: true, field: 'succeededCount' }),
    ],
    'Hourly figures cover a single day',
  )
}

function renderReport(r) {
  state.timezone = r.timezone
  $('title').textContent =
    `${branchLabel(r.branch)}, ${r.from === r.to ? r.from : `${r.from} to ${r.to}`}`
  $('meta').textContent =
    `Tenant ${r.tenant} · times in ${r.timezone} · updated ${formatTime(new Date().toISOString())}`
  if (!$('date').value) $('date').value = r.to
  const dd = (field) => document.querySelector(`dd[data-field="${field}"]`)
  for (const f of ['count', 'succeededCount', 'failedCount', 'cancelledCount', 'openCount'])
    text(dd(f), r[f])
  text(dd('successRate'), r.successRate === null ? null : `${r.successRate}%`)
  dd('successRate').dataset.value = r.successRate ?? ''
  text(
    dd('averageProcessingSeconds'),
    r.averageProcessingSeconds === null ? null : `${r.averageProcessingSeconds} s`,
  )
  dd('averageProcessingSeconds').dataset.value = r.averageProcessingSeconds ?? ''
  text(
    dd('converted'),
    r.converted ? `${r.converted.currency} ${r.converted.amount}` : r.conversionNote,
  )
  dd('converted').dataset.value = r.converted ? r.converted.amount : ''
  renderTotals('totals', r.totals)
  renderTotals('by-method', r.byMethod, 'method')
  renderTotals('by-gateway', r.byGateway, 'gateway')
  renderChart(r.hourly)
  fill(
    'pending',
    r.settlement.pending,
    (p) => [
      cell('th', p.currency, { field: 'currency' }),
      cell('td', p.count, { num: true, field: 'count' }),
      cell('td', p.amount, { num: true, field: 'amount' }),
    ],
    'Nothing pending',
  )
  // Cash is banked by the branch, never transferred: what it still has to bank, and the cash-ups
  // (with the deposit slip's reference) waiting for their deposit.
  fill(
    'pending-deposit',
    r.settlement.pendingDeposit ?? [],
    (p) => [
      cell('th', p.currency, { field: 'currency' }),
      cell('td', p.count, { num: true, field: 'count' }),
      cell('td', p.amount, { num: true, field: 'amount' }),
    ],
    'No cash to bank',
  )
  fill(
    'cash-ups',
    r.settlement.awaitingDeposit ?? [],
    (c) => [
      cell('th', c.depositReference, { field: 'depositReference' }),
      cell('td', c.currency, { field: 'currency' }),
      cell('td', c.expected, { num: true, field: 'expected' }),
      timeCell(c.periodEnd, 'periodEnd'),
    ],
    'No cash-up awaiting its deposit',
  )
  fill(
    'next',
    r.settlement.next ?? [],
    (n) => [
      cell('th', n.currency, { field: 'currency' }),
      cell('td', `${n.schedule}${n.auto ? '' : ' (manual)'}`, { field: 'schedule' }),
      timeCell(n.nextRunAt, 'nextRunAt'),
    ],
    'No settlement account',
  )
  fill(
    'alerts',
    r.alerts,
    (a) => [
      statusCell(a.severity, 'severity'),
      cell('th', a.code, { field: 'code' }),
      cell('td', a.message, { field: 'message' }),
      cell('td', a.value, { field: 'value' }),
      cell('td', a.threshold, { field: 'threshold' }),
      timeCell(a.since, 'since'),
    ],
    'No open alerts',
  )
  fill(
    'recent',
    r.recent,
    (p) => {
      const tr = [
        timeCell(p.createdAt, 'createdAt'),
        cell('th', p.id, { field: 'id' }),
        cell('td', p.method, { field: 'method' }),
        cell('td', p.gateway, { field: 'gateway' }),
        statusCell(p.status),
        cell('td', p.currency, { field: 'currency' }),
        cell('td', p.amount, { num: true, field: 'amount' }),
      ]
      return tr
    },
    'No payments on this day',
  )
}

function renderStatus(s) {
  fill(
    'gateways',
    s.gateways,
    (g) => [
      cell('th', g.gateway, { field: 'gateway' }),
      cell('td', g.enabled ? 'yes' : 'no', { field: 'enabled' }),
      statusCell(g.breaker, 'breaker'),
      cell('td', g.consecutiveFaults, { num: true, field: 'consecutiveFaults' }),
      timeCell(g.retryAt, 'retryAt'),
    ],
    'No gateway with a breaker',
  )
  fill(
    'batches',
    s.settlements,
    (b) => [
      cell('th', b.reference, { field: 'reference' }),
      cell('td', b.gateway, { field: 'gateway' }),
      cell('td', b.currency, { field: 'currency' }),
      cell('td', b.net, { num: true, field: 'net' }),
      statusCell(b.status),
    ],
    'No settlement batch yet',
  )
}

const branches = new Map()
const branchLabel = (code) => {
  const b = branches.get(code)
  return b ? `${b.name} (${b.code})` : code
}

// ---- loading and live updates ----------------------------------------------------------------

async function load() {
  if (state.signedOut || !state.branch) return
  const code = encodeURIComponent(state.branch)
  const day = $('date').value
  const mine = Symbol('load')
  state.loading = mine
  try {
    const [report, status] = await Promise.all([
      getJson(`/api/branches/${code}/report${day ? `?date=${encodeURIComponent(day)}` : ''}`),
      getJson(`/dashboard/branches/${code}/status`),
    ])
    if (state.loading !== mine || state.signedOut) return
    renderReport(report)
    renderStatus(status)
    notice(null)
    document.body.dataset.loaded = String(Date.now())
  } catch (err) {
    fail(err)
  }
}

/** Events come in bursts (a payment and its callback): one refresh per 150 ms is enough. */
function scheduleLoad() {
  clearTimeout(state.refresh)
  state.refresh = setTimeout(load, 150)
}

function follow() {
  state.events?.close()
  if (state.signedOut || !state.branch) return
  const q = new URLSearchParams({ branch: state.branch })
  if (state.lastEventId) q.set('lastEventId', state.lastEventId)
  const es = new EventSource(`/dashboard/events?${q}`)
  state.events = es
  es.addEventListener('open', () => {
    live('Live')
    // Anything that happened while the stream was down is in the report now.
    scheduleLoad()
  })
  es.addEventListener('payment', (e) => {
    state.lastEventId = e.lastEventId
    state.received++
    document.body.dataset.lastEvent = e.lastEventId
    document.body.dataset.received = String(state.received)
    scheduleLoad()
  })
  // The daemon ends the stream when the session no longer allows it (revoked, logged out, expired).
  es.addEventListener('end', () => signedOut())
  es.addEventListener('error', () => {
    if (state.signedOut) return
    live('Reconnecting…')
    // The browser retries by itself (with Last-Event-ID) unless the stream was refused.
    if (es.readyState === EventSource.CLOSED) setTimeout(recheck, 2000)
  })
}

async function recheck() {
  if (state.signedOut || (state.events && state.events.readyState !== EventSource.CLOSED)) return
  try {
    await getJson('/dashboard/branches')
    follow()
  } catch (err) {
    if (err instanceof SignedOut) signedOut()
    else setTimeout(recheck, 2000)
  }
}

async function start() {
  let me
  try {
    me = await getJson('/dashboard/branches')
  } catch (err) {
    if (err instanceof SignedOut) {
      live('Not signed in')
      $('signin').hidden = false
      $('token').focus()
      return
    }
    notice(`Could not reach the daemon: ${err.message}`)
    return
  }
  state.signedOut = false
  delete document.body.dataset.state
  notice(null)
  $('signin').hidden = true
  $('board').hidden = false
  $('logout').hidden = false
  branches.clear()
  const select = $('branch')
  select.replaceChildren(
    ...me.branches.map((b) => {
      branches.set(b.code, b)
      const o = document.createElement('option')
      o.value = b.code
      o.textContent = `${b.name} (${b.code})`
      return o
    }),
  )
  if (me.branches.length === 0) {
    notice('This token sees no branch.')
    return
  }
  const wanted = new URLSearchParams(location.hash.slice(1)).get('branch')
  state.branch = branches.has(wanted) ? wanted : me.branches[0].code
  select.value = state.branch
  state.lastEventId = null
  follow()
  await load()
}

$('signin-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const error = $('signin-error')
  error.textContent = ''
  const res = await fetch('/dashboard/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: $('token').value.trim() }),
  })
  if (res.status === 204) {
    $('token').value = ''
    await start()
  } else if (res.status === 429) error.textContent = 'Too many failed attempts: wait a minute.'
  else error.textContent = 'That token was not accepted.'
})

$('logout').addEventListener('click', async () => {
  await fetch('/dashboard/logout', { method: 'POST' })
  signedOut()
})

$('branch').addEventListener('change', () => {
  state.branch = $('branch').value
  history.replaceState(null, '', `#branch=${encodeURIComponent(state.branch)}`)
  $('date').value = ''
  state.lastEventId = null
  follow()
  void load()
})

$('date').addEventListener('change', () => void load())

// Alerts and breakers change without a payment event: refresh them every 30 s as well.
setInterval(() => {
  if (!document.hidden) void load()
}, 30_000)

void start()
