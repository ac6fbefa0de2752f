// A small strict XML reader for the JUnit tests: it refuses what an XML 1.0 parser refuses in
// the documents we write (unbalanced or crossed tags, an unquoted or repeated attribute, a
// raw '<' or '&' in text, an unknown entity, a control character, text outside the root) and
// gives back the element tree to query. No DTDs, CDATA, comments or namespaces: we write none.

export interface XmlElement { name: string, attrs: Record<string, string>, children: XmlElement[], text: string }

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*/
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
// eslint-disable-next-line no-control-regex
const BAD_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/

function decode (raw: string, where: number): string {
  if (BAD_CHAR.test(raw)) throw new Error(`a character XML cannot hold near ${where}`)
  if (raw.includes('<')) throw new Error(`a raw < near ${where}`)
  return raw.replace(/&([^;]*);|&/g, (m, name: string | undefined) => {
    if (name === undefined) throw new Error(`a raw & near ${where}`)
    const v = ENTITIES[name]
    if (v === undefined) throw new Error(`unknown entity &${name}; near ${where}`)
    return v
  })
}

export function parseXml (doc: string): XmlElement {
  let i = 0
  if (doc.startsWith('<?xml')) {
    const end = doc.indexOf('?>')
    if (end < 0) throw new Error('unterminated XML declaration')
    i = end + 2
  }
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  while (i < doc.length) {
    const lt = doc.indexOf('<', i)
    const text = doc.slice(i, lt < 0 ? doc.length : lt)
    const top = stack[stack.length - 1]
    if (top !== undefined) top.text += decode(text, i)
    else if (text.trim() !== '') throw new Error(`text outside the root element near ${i}`)
    if (lt < 0) break
    const gt = doc.indexOf('>', lt)
    if (gt < 0) throw new Error(`unterminated tag at ${lt}`)
    const tag = doc.slice(lt + 1, gt)
    i = gt + 1
    if (tag.startsWith('/')) {
      const open = stack.pop()
      if (open === undefined || open.name !== tag.slice(1)) throw new Error(`</${tag.slice(1)}> closes ${open?.name ?? 'nothing'}`)
      if (stack.length === 0) root = open
      continue
    }
    const selfClosing = tag.endsWith('/')
    let rest = selfClosing ? tag.slice(0, -1) : tag
    const name = NAME.exec(rest)?.[0]
    if (name === undefined) throw new Error(`bad tag name at ${lt}`)
    if (stack.length === 0 && root !== undefined) throw new Error('a second root element')
    rest = rest.slice(name.length)
    const el: XmlElement = { name, attrs: {}, children: [], text: '' }
    for (;;) {
      const m = /^\s+([A-Za-z_][A-Za-z0-9_.-]*)="([^"]*)"/.exec(rest)
      if (m === null) break
      const [all, key = '', value = ''] = m
      if (key in el.attrs) throw new Error(`attribute ${key} repeated on <${name}>`)
      el.attrs[key] = decode(value, lt)
      rest = rest.slice(all.length)
    }
    if (rest.trim() !== '') throw new Error(`malformed attributes on <${name}>: ${rest}`)
    stack[stack.length - 1]?.children.push(el)
    if (selfClosing) { if (stack.length === 0) root = el } else stack.push(el)
  }
  if (stack.length > 0) throw new Error(`<${stack[stack.length - 1]?.name ?? ''}> is never closed`)
  if (root === undefined) throw new Error('no root element')
  return root
}

/** Every element of that name, depth first. */
export function findAll (el: XmlElement, name: string): XmlElement[] {
  return [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => findAll(c, name))]
}
