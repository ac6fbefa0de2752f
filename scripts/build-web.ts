// Bundles the dashboard (web/) into dist/web: index.html, assets/app.js and assets/app.css.
// `npm run build` runs it; tests that need the page call buildWeb() when dist/web is absent.
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))

export interface BuildWebOptions {
  /** Where to write; default dist/web of this checkout. */
  outdir?: string
  /** Minify (the default); tests may keep names readable. */
  minify?: boolean
}

/** Builds the page; resolves with the folder written. */
export async function buildWeb (opts: BuildWebOptions = {}): Promise<string> {
  const outdir = opts.outdir ?? join(ROOT, 'dist', 'web')
  const assets = join(outdir, 'assets')
  await mkdir(assets, { recursive: true })
  await build({
    entryPoints: [{ in: join(ROOT, 'web', 'main.tsx'), out: 'app' }, { in: join(ROOT, 'web', 'styles.css'), out: 'app' }],
    outdir: assets,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    tsconfig: join(ROOT, 'web', 'tsconfig.json'),
    // The CSP allows no eval and no inline code; esbuild emits neither.
    legalComments: 'none',
    logLevel: 'warning'
  })
  await copyFile(join(ROOT, 'web', 'index.html'), join(outdir, 'index.html'))
  await copyFile(join(ROOT, 'web', 'favicon.svg'), join(assets, 'favicon.svg'))
  return outdir
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await buildWeb()
  console.log(`dashboard built in ${out}`)
}
