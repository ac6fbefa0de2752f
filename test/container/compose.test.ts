// compose.yaml and the Prometheus config beside it, read as data (no Docker engine here):
// the server from this Dockerfile on a named volume at its data directory, the token from
// the environment only, and a Prometheus that scrapes faultline:8080/metrics with it.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const read = (path: string): unknown => parse(readFileSync(join(ROOT, path), 'utf8'))

interface Service {
  build?: string, image?: string, environment?: Record<string, string>, ports?: string[], volumes?: string[],
  secrets?: string[], depends_on?: Record<string, { condition: string }>
}
interface Compose { services: Record<string, Service>, volumes?: Record<string, unknown>, secrets?: Record<string, { environment?: string, file?: string }> }
interface ScrapeConfig {
  job_name: string, metrics_path?: string, authorization?: { type?: string, credentials_file?: string, credentials?: string },
  static_configs: { targets: string[] }[]
}

const compose = read('compose.yaml') as Compose
const server = compose.services.faultline
const prometheus = compose.services.prometheus
const dataDir = /FAULTLINE_DATA_DIR=(\S+)/.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1]

void t.test('faultline: built from the Dockerfile, data on a named volume, token from the environment', async t => {
  t.ok(server, 'a faultline service')
  t.equal(server?.build, '.')
  const volume = server?.volumes?.find(v => v.endsWith(`:${dataDir ?? ''}`))
  t.ok(volume, `a volume mounted at the image's data directory ${dataDir}`)
  const name = volume?.split(':')[0] ?? ''
  t.ok(name in (compose.volumes ?? {}), `${name} is a named volume, kept across upgrades`)
  t.match(server?.environment?.FAULTLINE_TOKEN, /^\$\{FAULTLINE_TOKEN(:\?[^}]*)?\}$/, 'the token is interpolated from the environment, never written here')
  t.ok(server?.ports?.some(p => p.endsWith(':8080')), 'port 8080 published')
})

void t.test('prometheus: beside it, scraping faultline:8080/metrics with the same token as a bearer file', async t => {
  t.ok(prometheus, 'a prometheus service')
  const mount = prometheus?.volumes?.find(v => v.split(':')[1] === '/etc/prometheus/prometheus.yml')
  const local = mount?.split(':')[0] ?? ''
  t.ok(existsSync(join(ROOT, local)), `its config ${local} is in the repo`)
  t.equal(prometheus?.depends_on?.faultline?.condition, 'service_healthy', 'started once the HEALTHCHECK passes')

  const config = read(local) as { scrape_configs: ScrapeConfig[] }
  const job = config.scrape_configs.find(j => j.static_configs.some(s => s.targets.includes('faultline:8080')))
  t.ok(job, 'a job scrapes faultline:8080')
  t.equal(job?.metrics_path ?? '/metrics', '/metrics')
  t.equal(job?.authorization?.type ?? 'Bearer', 'Bearer')
  t.equal(job?.authorization?.credentials, undefined, 'no token written in the config')
  const file = job?.authorization?.credentials_file ?? ''
  const secret = /^\/run\/secrets\/(.+)$/.exec(file)?.[1] ?? ''
  t.ok(prometheus?.secrets?.includes(secret), `the credentials file ${file} is a secret mounted into prometheus`)
  t.same(compose.secrets?.[secret], { environment: 'FAULTLINE_TOKEN' }, 'made from the same FAULTLINE_TOKEN')
})
