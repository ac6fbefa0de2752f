// Request validation with TypeBox (schemas/ are the one source): bodies are checked as
// sent, with no coercion and no stripping; query strings and params are converted from
// text first, strictly. Messages name the field and the rule it broke.
import type { FastifySchemaValidationError } from 'fastify/types/schema.js'
import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'

interface TextSchema { type?: unknown, properties?: Record<string, TextSchema> }

/**
 * Params and query strings as the schema's types, converting only text that means exactly
 * one value: integers are /^-?\d+$/ ("3.7", "", "false" stay text and fail validation, never
 * become 3 or 0), booleans are "true" or "false". Anything else is left for the check to refuse.
 */
function convertText (schema: TextSchema, value: unknown): unknown {
  if (schema.properties !== undefined && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const out: Record<string, unknown> = { ...value }
    for (const [k, v] of Object.entries(out)) {
      const p = schema.properties[k]
      if (p !== undefined) out[k] = convertText(p, v)
    }
    return out
  }
  if (typeof value !== 'string') return value
  if (schema.type === 'integer') return /^-?\d+$/.test(value) ? Number(value) : value
  if (schema.type === 'boolean') return value === 'true' ? true : value === 'false' ? false : value
  return value
}

/**
 * TypeBox's checker. Bodies are checked as sent. Params and query strings are text: a value
 * that already passes (a string VM id) is used as is, else it is converted first ("5" → 5)
 * and checked again; converting only when needed keeps hot GET routes cheap.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema)
  return (value: unknown) => {
    if (check.Check(value)) return { value }
    if (httpPart !== 'body') {
      const converted = convertText(schema as TextSchema, value)
      if (check.Check(converted)) return { value: converted }
      return { error: check.Errors(converted) as unknown as FastifySchemaValidationError[] }
    }
    return { error: check.Errors(value) as unknown as FastifySchemaValidationError[] }
  }
}

interface TypeBoxError { keyword: string, instancePath: string, message?: string, params?: Record<string, unknown> }

export function schemaErrorFormatter (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const out: string[] = []
  for (const raw of errors as unknown as TypeBoxError[]) {
    // "schema is false" repeats what the additionalProperties error says with the name.
    if (raw.keyword === 'boolean') continue
    const where = (dataVar + raw.instancePath).replace(/\//g, '.')
    let msg: string
    if (raw.keyword === 'additionalProperties') {
      const names = (raw.params?.additionalProperties as string[] | undefined) ?? []
      msg = `${where} has unknown field${names.length === 1 ? '' : 's'} ${names.map(n => JSON.stringify(n)).join(', ')}`
    } else {
      msg = `${where} ${raw.message ?? 'is invalid'}`
    }
    if (!out.includes(msg)) out.push(msg)
    if (out.length === 4) break
  }
  return new Error(out.length > 0 ? out.join('; ') : `${dataVar} is invalid`)
}
