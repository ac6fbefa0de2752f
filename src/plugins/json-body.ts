// Request bodies: JSON in UTF-8 only. Another charset is 415 (read as UTF-8 it would be
// garbled, not refused), bytes that are not UTF-8 are 400, and a `__proto__` key or a
// `constructor.prototype` is refused by name (it would pollute prototypes further on).
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { FaultlineError } from '../errors.js'

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** The charset a content-type names, lower case, or undefined. */
function charsetOf (contentType: string | undefined): string | undefined {
  const m = contentType === undefined ? null : CHARSET.exec(contentType)
  return m === null ? undefined : (m[1] ?? '').toLowerCase()
}

/** Where the first prototype-polluting key is ("body.a.__proto__"), or undefined. */
function pollutingKey (value: unknown, at: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = pollutingKey(value[i], `${at}[${i}]`)
      if (p !== undefined) return p
    }
    return undefined
  }
  for (const [k, v] of Object.entries(value)) {
    if (k === '__proto__') return `${at}.__proto__`
    if (k === 'constructor' && typeof v === 'object' && v !== null && Object.hasOwn(v, 'prototype')) return `${at}.constructor.prototype`
    const p = pollutingKey(v, `${at}.${k}`)
    if (p !== undefined) return p
  }
  return undefined
}

function parseJsonBody (req: FastifyRequest, raw: Buffer): unknown {
  const charset = charsetOf(req.headers['content-type'])
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new FaultlineError('UNSUPPORTED_MEDIA_TYPE', `the body must be JSON in UTF-8, not charset=${charset}`)
  }
  if (raw.length === 0) throw new FaultlineError('BAD_JSON', 'the body is empty: send a JSON value (or no content-type)')
  let text: string
  try { text = utf8.decode(raw) } catch {
    throw new FaultlineError('BAD_JSON', 'the body is not valid UTF-8')
  }
  let value: unknown
  try { value = JSON.parse(text) } catch (e) {
    throw new FaultlineError('BAD_JSON', `the body is not valid JSON: ${(e as Error).message}`)
  }
  // Only bodies that could hold such a key are walked (an escaped key has a backslash).
  if (text.includes('__proto__') || text.includes('prototype') || text.includes('\\u')) {
    const where = pollutingKey(value, 'body')
    if (where !== undefined) throw new FaultlineError('VALIDATION', `${where} is refused: no field of the API has that name, and it would change prototypes`, { path: where.slice('body.'.length) })
  }
  return value
}

export default fp(async (app) => {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    try { done(null, parseJsonBody(req, body as Buffer)) } catch (e) { done(e as Error, undefined) }
  })
}, { name: 'faultline-json-body', fastify: '5.x' })
