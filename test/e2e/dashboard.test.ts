// The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against the real server on 127.0.0.1: a wrong token is refused with a message; sign in,
// create a TDX VM on tdx-boot, watch its first exit arrive, Convert it, see the map change
// exactly where the exit said (page and REST), kill the VM; a pasted program, a poisoned
// page, taking over from another controller. Each page passes axe-core with
// no serious or critical violation, under its own CSP with no violation reported.
// Screenshots at a laptop and a phone width go to .tap/dashboard/ (and, with
// FAULTLINE_UPDATE_SCREENSHOT=1, the laptop one to docs/dashboard.png).
import t from 'tap'
import type { Test } from 'tap'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import type { BrowserContext, Page } from 'playwright-core'
import { FaultlineClient } from '../../src/client/index.js'
import { buildWeb } from '../../scripts/build-web.js'
import { build, TOKENS } from '../helper.js'

// Code that runs in the page is passed as a string where it names browser globals: this
// program is type-checked without the DOM library.

const CHROMIUM = '/usr/bin/chromium'
const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))))
const OUT = join(ROOT, '.tap', 'dashboard')
const LAPTOP = { width: 1280, height: 900 }
const PHONE = { width: 390, height: 844 }
const GiB = 2 ** 30

// draw.ts's fills (patternAt): each state is two colours, base and pattern.
const PRIVATE_RGB = ['3f2a8c', '9c86e8']
const SHARED_RGB = ['c8eee2', '17604f']
const POISON_RGB = ['b3122a', 'ffd1d7']

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

interface AxeViolation { id: string, impact: string | null, help: string, nodes: Array<{ target: unknown }> }

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations (page: Page): Promise<AxeViolation[]> {
  // Evaluated over the DevTools protocol, so the page's CSP (no inline script) is not in the way.
  await page.evaluate(axeSource)
  const result = await page.evaluate("axe.run(document, { resultTypes: ['violations'] })") as { violations: AxeViolation[] }
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
}

async function checkA11y (t: Test, page: Page, what: string): Promise<void> {
  const bad = await axeViolations(page)
  t.same(bad.map(v => `${v.id}: ${v.help} (${JSON.stringify(v.nodes.map(n => n.target))})`), [], `axe: no serious or critical violation on ${what}`)
}

/** The fill drawn at x (0..1 across the map) in a lane (y, 0..1 down the map: 0.2 is the attributes lane). */
async function fillAt (page: Page, fraction: number, y = 0.2): Promise<'private' | 'shared' | 'poison' | string> {
  const rgb = await page.evaluate(`(() => {
    const canvas = document.querySelector('canvas.map-canvas')
    const x = Math.min(canvas.width - 1, Math.floor(canvas.width * ${fraction}))
    const d = canvas.getContext('2d').getImageData(x, Math.round(canvas.height * ${y}), 1, 1).data
    return [d[0], d[1], d[2]].map(v => v.toString(16).padStart(2, '0')).join('')
  })()`) as string
  return PRIVATE_RGB.includes(rgb) ? 'private' : SHARED_RGB.includes(rgb) ? 'shared' : POISON_RGB.includes(rgb) ? 'poison' : rgb
}

/** The rows of the map's extent table: [start, size, attributes]. */
async function extentRows (page: Page): Promise<string[][]> {
  return await page.$$eval('table.extents tbody tr', rows => rows.map(r => [
    r.getAttribute('data-gpa') ?? '', r.getAttribute('data-size') ?? '', r.getAttribute('data-attributes') ?? ''
  ]))
}

async function serve (t: Test): Promise<{ url: string, client: FaultlineClient }> {
  const app = await build(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const a = app.server.address()
  if (a === null || typeof a === 'string') throw new Error('not listening on TCP')
  const url = `http://127.0.0.1:${a.port}/`
  return { url, client: new FaultlineClient({ url, token: TOKENS.operatorA }) }
}

async function browser (t: Test): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'faultline-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: LAPTOP,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000
  })
  t.teardown(async () => { await context.close(); rmSync(profile, { recursive: true, force: true }) })
  return context
}

/** A new tab that records CSP violations and page errors, for the test to check at the end. */
async function openPage (context: BrowserContext, url: string): Promise<{ page: Page, problems: string[] }> {
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const problems: string[] = []
  page.on('console', m => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text()) })
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  await page.goto(url)
  return { page, problems }
}

if (!existsSync(CHROMIUM)) {
  const why = `${CHROMIUM} is missing (Debian: apt-get install chromium)`
  // CI installs it (.ci/run): there its absence is a failure, not a reason to skip.
  if (process.env.CI === 'true') t.fail(`${why}: the dashboard's browser test must run in CI`)
  else t.plan(0, `${why}; the dashboard's browser test needs it`)
} else {
  void t.before(async () => { await buildWeb() })

  void t.test('a wrong token is refused with a message, and nothing is kept', async t => {
    const { url } = await serve(t)
    const { page, problems } = await openPage(await browser(t), url)
    await checkA11y(t, page, 'the sign-in page')
    await page.getByLabel('Token', { exact: true }).fill('not-a-token-the-server-knows')
    await page.getByRole('button', { name: 'Sign in' }).click()
    const alert = page.getByRole('alert')
    await alert.waitFor()
    t.match(await alert.innerText(), /refused this token \(FAULTLINE_UNAUTHORIZED\)/)
    t.equal(await page.evaluate('sessionStorage.length + localStorage.length + document.cookie.length'), 0, 'no token kept anywhere')
    t.equal(await page.getByRole('heading', { name: 'Virtual machines' }).count(), 0, 'still signed out')
    t.same(problems, [], 'no CSP violation or page error')
  })

  void t.test('sign in, create tdx-boot, convert its first exit, see the map change there, kill it', async t => {
    const { url, client } = await serve(t)
    const context = await browser(t)
    const { page, problems } = await openPage(context, url)
    // From the keyboard: Enter in the token field signs in.
    await page.getByLabel('Token', { exact: true }).fill(TOKENS.operatorA)
    await page.getByLabel('Token', { exact: true }).press('Enter')
    await page.getByRole('heading', { name: 'Virtual machines' }).waitFor()
    t.equal(await page.evaluate('sessionStorage.getItem("faultline.token")'), TOKENS.operatorA, 'the token is in sessionStorage')
    t.equal(await page.evaluate('localStorage.length + document.cookie.length'), 0, 'and nowhere else')
    await page.locator('.conn[data-status="open"]').waitFor()

    // Create, not started, so that the first exit arrives while the page watches.
    await page.getByLabel('Name', { exact: true }).fill('dash-e2e')
    await page.getByLabel('Type', { exact: true }).selectOption('tdx')
    await page.getByLabel('Preset', { exact: true }).selectOption('tdx-boot')
    t.match(await page.locator('#preset-desc').innerText(), /TD boots private/, 'the preset is described')
    await page.getByLabel('start it at once').uncheck()
    await page.getByRole('button', { name: 'Create VM' }).click()
    await page.getByRole('heading', { name: 'dash-e2e' }).waitFor()
    const vm = (await client.listVms()).items.find(v => v.name === 'dash-e2e')
    if (vm === undefined) throw new Error('the VM was not created')
    t.match(vm, { type: 'tdx', preset: 'tdx-boot', state: 'created' })
    await page.locator('table.extents tbody tr').first().waitFor()
    t.same(await extentRows(page), [['0x0', '0x80000000', 'private']], 'a TD boots private')
    await checkA11y(t, page, 'the dashboard with a VM open')

    await page.getByRole('button', { name: 'Take the controller role' }).click()
    await page.locator('article.vm[data-role="controller"]').waitFor()
    await page.getByRole('group', { name: 'Lifecycle' }).getByRole('button', { name: 'Start' }).click()
    const pending = page.locator('ul.pending li').first()
    await pending.waitFor()
    const exit = await pending.getAttribute('data-exit')
    const gpa = await pending.getAttribute('data-gpa')
    const size = await pending.getAttribute('data-size')
    t.same([gpa, size, await pending.getAttribute('data-direction')], ['0x40000000', '0x200000', 'to shared'], 'the first MapGPA chunk, decoded')
    t.match(await page.locator(`table.exits tr[data-exit="${exit}"]`).innerText(), /KVM_EXIT_HYPERCALL MAP_GPA_RANGE/)

    await pending.getByRole('button', { name: 'Convert' }).focus()
    await page.keyboard.press('Enter')
    await page.locator(`table.extents tr[data-gpa="${gpa}"][data-size="${size}"][data-attributes="shared"]`).waitFor()
    const start = Number(gpa)
    const end = start + Number(size)
    const expected = [['0x0', gpa, 'private'], [gpa, size, 'shared'], ['0x' + end.toString(16), '0x' + (2 * GiB - end).toString(16), 'private']]
    t.same(await extentRows(page), expected, 'the page: exactly that range is shared now')
    t.same(await client.memoryAttributes(vm.id, 0, 2 * GiB), [
      { gpa: 0, size: start, attributes: 8 },
      { gpa: start, size: end - start, attributes: 0 },
      { gpa: end, size: 2 * GiB - end, attributes: 8 }
    ], 'REST: the same')
    await page.locator(`table.exits tr[data-exit="${exit}"][data-decision="convert by controller"]`).waitFor()

    // The canvas: the range alone is all shared; zoomed out twice, private either side.
    await page.getByRole('button', { name: `Show ${gpa} to 0x${end.toString(16)}` }).click()
    await page.locator(`canvas.map-canvas[data-view-start="${gpa}"]`).waitFor()
    t.same([await fillAt(page, 0.02), await fillAt(page, 0.5), await fillAt(page, 0.98)], ['shared', 'shared', 'shared'])
    await page.locator('canvas.map-canvas').press('-')
    await page.locator(`canvas.map-canvas[data-view-start="0x${(start - (end - start) / 2).toString(16)}"]`).waitFor()
    t.same([await fillAt(page, 0.1), await fillAt(page, 0.5), await fillAt(page, 0.9)], ['private', 'shared', 'private'], 'drawn where the exit said')

    // The next exit (the second chunk) waits below the map in the screenshots.
    mkdirSync(OUT, { recursive: true })
    await page.locator('ul.pending li').first().waitFor()
    await page.evaluate('window.scrollTo(0, 0)')
    await page.screenshot({ path: join(OUT, 'laptop.png') })
    await page.setViewportSize(PHONE)
    await page.getByRole('heading', { name: 'dash-e2e' }).scrollIntoViewIfNeeded()
    await checkA11y(t, page, 'the dashboard at a phone width')
    await page.screenshot({ path: join(OUT, 'phone.png') })
    await page.setViewportSize(LAPTOP)
    if (process.env.FAULTLINE_UPDATE_SCREENSHOT === '1') copyFileSync(join(OUT, 'laptop.png'), join(ROOT, 'docs', 'dashboard.png'))
    t.comment(`screenshots in ${OUT}`)

    await page.getByRole('button', { name: 'Whole guest' }).click()
    await page.locator('canvas.map-canvas[data-view-start="0x0"][data-view-end="0x80000000"]').waitFor()
    await page.getByRole('group', { name: 'Lifecycle' }).getByRole('button', { name: 'Kill' }).click()
    await page.locator('article.vm[data-state="killed"]').waitFor()
    await page.locator(`table.vms tr[data-vm="${vm.id}"][data-state="killed"]`).waitFor()
    t.equal((await client.getVm(vm.id)).state, 'killed', 'REST: killed')
    t.equal(await page.locator('ul.pending li').count(), 0, 'its pending exits were closed')

    await page.getByRole('button', { name: 'Delete…' }).click()
    await page.getByRole('button', { name: 'Confirm delete' }).click()
    await page.locator(`table.vms tr[data-vm="${vm.id}"]`).waitFor({ state: 'detached' })
    await t.rejects(client.getVm(vm.id), { statusCode: 404, code: 'FAULTLINE_VM_NOT_FOUND' }, 'REST: deleted')
    t.same(problems, [], 'no CSP violation or page error')
  })

  void t.test('a pasted program (refused, then run); a poisoned page; taking over from another controller', async t => {
    const { url, client } = await serve(t)
    const { page, problems } = await openPage(await browser(t), url)
    await page.getByLabel('Token', { exact: true }).fill(TOKENS.operatorA)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByLabel('Type', { exact: true }).selectOption('sw_protected')
    await page.getByLabel('a pasted program').check()
    const program = page.getByLabel('Program (JSON, docs/programs.md)')
    await program.fill('[{"op": "no-such-op"}]')
    await page.getByRole('button', { name: 'Create VM' }).click()
    t.match(await page.getByRole('alert').innerText(), /program.*op.*\(FAULTLINE_VALIDATION\)/, 'the server names the field and its code')
    await program.fill('[{"op": "out", "port": 128, "size": 1, "value": 7}]')
    await page.getByLabel('Memory (MiB)').fill('16')
    await page.getByRole('button', { name: 'Create VM' }).click()
    const pending = page.locator('ul.pending li').first()
    await pending.waitFor()
    t.equal(await pending.getAttribute('data-direction'), 'out')
    t.match(await pending.innerText(), /KVM_EXIT_IO.*port 0x80 data 0x7/s)
    t.equal(await pending.getByRole('button', { name: 'Resume' }).isDisabled(), true, 'observing: no decision from here')
    const vm = (await client.listVms()).items[0]
    if (vm === undefined) throw new Error('the VM was not created')
    t.match(vm, { type: 'sw_protected', program_length: 1, memslots: [{ size: 16 * 2 ** 20 }] })

    // A poisoned page sends no event: Refresh shows it, in its own lane and in words.
    t.equal(await fillAt(page, 0.6, 0.94), 'f3f3f1', 'no poison lane mark before')
    await client.poison(vm.id, 0x9000)
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.locator('p.slots', { hasText: 'poisoned: 0x9000' }).waitFor()
    await page.getByRole('textbox', { name: 'From', exact: true }).fill('0x8000')
    await page.getByRole('textbox', { name: 'To', exact: true }).fill('0x18000')
    await page.getByRole('textbox', { name: 'To', exact: true }).press('Enter')
    await page.locator('canvas.map-canvas[data-view-start="0x8000"]').waitFor()
    // 64 KiB across: the page at 0x9000 is the 1/16 .. 2/16 of the width.
    t.same([await fillAt(page, 0.03, 0.94), await fillAt(page, 0.09, 0.94), await fillAt(page, 0.5, 0.94)], ['f3f3f1', 'poison', 'f3f3f1'], 'the poisoned page, and only it, is marked')

    // Another client controls the VM: the page says so, takes over, and decides.
    const other = client.stream({ reconnect: false })
    t.teardown(() => other.close())
    await other.subscribe(vm.id, { role: 'controller' })
    await page.getByRole('button', { name: 'Take the controller role' }).click()
    await page.getByRole('button', { name: 'Take over' }).waitFor()
    t.match(await page.locator('p.message').innerText(), /Another client controls this VM/)
    const revoked = new Promise(resolve => other.once('revoked', resolve))
    await page.getByRole('button', { name: 'Take over' }).click()
    await page.locator('article.vm[data-role="controller"]').waitFor()
    t.match(await revoked, { type: 'revoked', vm: vm.id }, 'the other client was revoked')
    await pending.getByRole('button', { name: 'Resume' }).click()
    await page.locator('table.exits tr[data-exit="1"][data-decision="resume by controller"]').waitFor()
    t.match((await client.exits(vm.id)).items[0], { exit: 1, decision: { action: 'resume', by: 'controller' } }, 'REST: decided by the page')
    t.same(problems, [], 'no CSP violation or page error')
  })
}
