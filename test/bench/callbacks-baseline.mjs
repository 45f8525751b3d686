// The bare baseline for the callback benchmark: node:http + better-sqlite3, one prepared INSERT
// per callback into a table with a unique key, with the store's pragmas (WAL, synchronous=NORMAL),
// answered after the insert commits. No routing, verification, inbox or processing.
// Usage: node callbacks-baseline.mjs <sqlite file>   → prints {"port":N} on stdout.
import { createServer } from 'node:http'
import Database from 'better-sqlite3'

const db = new Database(process.argv[2])
db.pragma('journal_mode = WAL')
db.pragma('synchronous = NORMAL')
db.exec(`create table if not exists inbox (
  id integer primary key, dedupe_key text not null unique, body text not null, received_at text not null)`)
const insert = db.prepare(
  'insert into inbox (dedupe_key, body, received_at) values (?, ?, ?) on conflict (dedupe_key) do nothing',
)

const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    let key
    const raw = Buffer.concat(chunks).toString('utf8')
    try {
      key = JSON.parse(raw).Body.stkCallback.CheckoutRequestID
    } catch {
      res.writeHead(400).end()
      return
    }
    insert.run(`mpesa:${key}`, raw, new Date().toISOString())
    const body = '{"ResultCode":0,"ResultDesc":"Accepted"}'
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
    res.end(body)
  })
})
server.keepAliveTimeout = 5_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
