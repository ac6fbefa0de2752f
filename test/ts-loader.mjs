// The test files' TypeScript loader (.taprc): tsx, as the project's scripts run it.
//
// tsx puts the TypeScript sources into its source maps only when it sees NODE_V8_COVERAGE
// (c8's way of measuring); tap measures through the inspector instead, and its report then
// finds no sources and counts every line as covered. The variable is set only inside the
// module-hooks thread, where tsx's ESM loader runs, before tsx loads there: set in this
// process, Node would not see it (it reads it at start-up) but every child a test spawns
// would, and write coverage files of its own.
import { register } from 'node:module'

register('data:text/javascript,process.env.NODE_V8_COVERAGE%20%3F%3F%3D%20%22tsx-sources%22')
await import('tsx')
