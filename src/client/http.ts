// One JSON request over fetch, with the bearer token, and the contract's error body mapped to
// FaultlineApiError. Kept apart from the route methods so they stay one line each.
import { FaultlineApiError } from './errors.js'

export type Query = Record<string, string | number | boolean | undefined>

export interface HttpOptions {
  baseUrl: string
  token: string | undefined
  fetch: typeof globalThis.fetch
  /** Per-request limit in ms; 0 for none. */
  timeoutMs: number
}

export function buildUrl (baseUrl: string, path: string, query: Query = {}): string {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : baseUrl + '/')
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, String(value))
  }
  return url.toString()
}

/** Encodes one path segment (a VM id or name) so it cannot escape its place in the URL. */
export const seg = (value: string | number): string => encodeURIComponent(String(value))

/** A body that is not JSON (a trace is NDJSON), sent as it is. */
export interface RawBody { contentType: string, text: string }

export interface RequestOptions {
  query?: Query
  /** Sent as JSON. */
  body?: unknown
  /** Sent as it is, instead of `body`. */
  raw?: RawBody
  accept?: string
}

/** One request; the answer's text, or FaultlineApiError for a non-2xx status. */
export async function requestText (http: HttpOptions, method: string, path: string, opts: RequestOptions = {}): Promise<string> {
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' }
  if (http.token !== undefined) headers.authorization = `Bearer ${http.token}`
  let body: string | undefined
  if (opts.raw !== undefined) {
    headers['content-type'] = opts.raw.contentType
    body = opts.raw.text
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  const res = await http.fetch(buildUrl(http.baseUrl, path, opts.query), {
    method,
    headers,
    body,
    signal: http.timeoutMs > 0 ? AbortSignal.timeout(http.timeoutMs) : undefined
  })
  const text = await res.text()
  if (!res.ok) throw toApiError(res.status, res.statusText, text)
  return text
}

export async function requestJson<T> (http: HttpOptions, method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const text = await requestText(http, method, path, opts)
  if (text === '') return undefined as T
  return JSON.parse(text) as T
}

/** The contract's error body, or what can be made of a body that is not one (a proxy's). */
export function toApiError (status: number, statusText: string, text: string): FaultlineApiError {
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { parsed = undefined }
  if (typeof parsed === 'object' && parsed !== null) {
    const b = parsed as Record<string, unknown>
    const str = (v: unknown): string | undefined => typeof v === 'string' ? v : undefined
    return new FaultlineApiError(
      typeof b.statusCode === 'number' ? b.statusCode : status,
      str(b.code) ?? `HTTP_${status}`,
      str(b.message) ?? (statusText !== '' ? statusText : `HTTP ${status}`),
      { errno: str(b.errno), error: str(b.error), ...(typeof b.line === 'number' ? { line: b.line } : {}) }
    )
  }
  return new FaultlineApiError(status, `HTTP_${status}`, text !== '' ? text.slice(0, 200) : `HTTP ${status} ${statusText}`)
}
