// Creates a VM from a built-in preset (its description shown as it is chosen) or from a
// pasted guest program (docs/programs.md).
import { useEffect, useState } from 'preact/hooks'
import type { FaultlineClient } from '../src/client/client.js'
import type { CreateVmRequest, Instruction, Preset, VmInfo, VmType } from '../src/client/types.js'
import { describeError } from './api.js'

const TYPES: VmType[] = ['tdx', 'snp', 'sw_protected', 'default']
const EXAMPLE = '[\n  {"op": "map_gpa", "gpa": 1048576, "npages": 16, "private": false}\n]'

export interface CreateVmProps {
  client: FaultlineClient
  onCreated: (vm: VmInfo) => void
}

export function CreateVm ({ client, onCreated }: CreateVmProps) {
  const [presets, setPresets] = useState<Preset[]>([])
  const [type, setType] = useState<VmType>('tdx')
  const [source, setSource] = useState<'preset' | 'program'>('preset')
  const [preset, setPreset] = useState('')
  const [name, setName] = useState('')
  const [vcpus, setVcpus] = useState('1')
  const [program, setProgram] = useState(EXAMPLE)
  const [memory, setMemory] = useState('64')
  const [autostart, setAutostart] = useState(true)
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => { client.presets().then(setPresets, (e: unknown) => setError(describeError(e))) }, [client])
  const forType = presets.filter(p => p.types.includes(type))
  const chosen = forType.find(p => p.name === preset) ?? forType[0]

  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault()
    setError(null)
    const body: CreateVmRequest = { type, vcpus: Number(vcpus), autostart }
    if (name.trim() !== '') body.name = name.trim()
    if (source === 'preset') {
      if (chosen === undefined) { setError(`No preset runs on ${type}.`); return }
      body.preset = chosen.name
    } else {
      try {
        body.program = JSON.parse(program) as Instruction[]
      } catch (e) {
        setError(`The program is not JSON: ${describeError(e)}`)
        return
      }
      body.memory = { size_mib: Number(memory) }
    }
    setBusy(true)
    try {
      const vm = await client.createVm(body)
      setName('')
      onCreated(vm)
    } catch (e) {
      setError(describeError(e))
    } finally { setBusy(false) }
  }

  return (
    <form class="create" onSubmit={(ev) => { void submit(ev) }} aria-labelledby="create-h">
      <h2 id="create-h">Create a VM</h2>
      <div class="fields">
        <div><label for="vm-name">Name</label><input id="vm-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="optional" autocomplete="off" /></div>
        <div>
          <label for="vm-type">Type</label>
          <select id="vm-type" value={type} onChange={(e) => setType(e.currentTarget.value as VmType)}>
            {TYPES.map(t => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div><label for="vm-vcpus">vCPUs</label><input id="vm-vcpus" type="number" min={1} max={256} value={vcpus} onInput={(e) => setVcpus(e.currentTarget.value)} /></div>
      </div>
      <fieldset>
        <legend>Guest program</legend>
        <label class="inline"><input type="radio" name="source" checked={source === 'preset'} onChange={() => setSource('preset')} /> a preset</label>
        <label class="inline"><input type="radio" name="source" checked={source === 'program'} onChange={() => setSource('program')} /> a pasted program</label>
      </fieldset>
      {source === 'preset'
        ? <div class="preset">
          <label for="vm-preset">Preset</label>
          <select id="vm-preset" value={chosen?.name ?? ''} onChange={(e) => setPreset(e.currentTarget.value)} aria-describedby="preset-desc">
            {forType.map(p => <option key={p.name} value={p.name}>{p.name}</option>)}
          </select>
          <p id="preset-desc" class="preset-desc">
            {chosen === undefined ? 'No preset runs on this type.' : `${chosen.description} (${chosen.memory_mib} MiB; exits: ${chosen.exits})`}
          </p>
        </div>
        : <div class="program">
          <label for="vm-program">Program (JSON, docs/programs.md)</label>
          <textarea id="vm-program" rows={6} class="mono" value={program} onInput={(e) => setProgram(e.currentTarget.value)} spellcheck={false} />
          <label for="vm-memory">Memory (MiB)</label>
          <input id="vm-memory" type="number" min={1} value={memory} onInput={(e) => setMemory(e.currentTarget.value)} />
        </div>}
      <label class="inline"><input type="checkbox" checked={autostart} onChange={(e) => setAutostart(e.currentTarget.checked)} /> start it at once</label>
      {error !== null && <p role="alert" class="error">{error}</p>}
      <button type="submit" class="primary" disabled={busy}>Create VM</button>
    </form>
  )
}
