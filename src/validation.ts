// Request validation with TypeBox (schemas/ are the one source): bodies are checked as
// sent, with no coercion and no stripping; query strings and params are converted from
// text first. Messages name the field and the rule it broke.
import type { FastifySchemaValidationError } from 'fastify/types/schema.js'
import type { FastifySchemaCompiler } from 'fastify'
import type { TSchema } from 'typebox'
import { Compile } from 'typebox/compile'
import { Value } from 'typebox/value'

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
      const converted = Value.Convert(schema, value)
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
