// One error family for everything the service answers: request validation by TypeBox with
// messages that name the field, and every error, Fastify's own included, as the contract's
// body with a code from the error table.
import fp from 'fastify-plugin'
import { errorHandler, notFoundHandler } from '../error-handler.js'
import { schemaErrorFormatter, validatorCompiler } from '../validation.js'

export default fp(async (app) => {
  app.setValidatorCompiler(validatorCompiler)
  app.setSchemaErrorFormatter(schemaErrorFormatter)
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler(notFoundHandler)
}, { name: 'faultline-errors', fastify: '5.x' })
