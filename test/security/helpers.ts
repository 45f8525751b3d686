import type { RunningDaemon } from '../daemon/helpers.js'

export interface ApiAnswer {
  status: number
  json: Record<string, unknown> & { error?: { code: string; message: string } }
  text: string
}

/** One HTTP request to a running daemon, with a bearer token and a JSON (or raw) body. */
export async function api(
  daemon: RunningDaemon,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiAnswer> {
  const res = await fetch(`${daemon.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = {}
  }
  return { status: res.status, json: json as ApiAnswer['json'], text }
}
