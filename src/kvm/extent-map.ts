// An ordered map gfn -> small integer, stored as merged extents. KVM keeps one xarray entry
// per page (docs/spec/kvm-abi.md section 3); here cost grows with the extents touched, never with pages.
//
// Representation: a boundary map. Each stored key is a gfn where the value changes and holds
// the value from there to the next key; gfns before the first key have the default. It is
// kept canonical (adjacent keys hold different values, the first differs from the default),
// so every stored key starts a maximal extent. The keys live in a B+tree whose nodes are
// fixed-size slots in pooled typed-array chunks: a random lookup among a million extents is
// bound by cache misses, and slots avoid the per-node object hops; chunks (not one array
// doubled) avoid copying and re-faulting tens of MiB when the map grows.

export interface ExtentRun { start: number, end: number, value: number } // [start, end) in gfns
export interface ExtentMapSnapshot { default: number, starts: number[], values: number[] } // plain JSON

/**
 * A leaf slot holds L (key, value) pairs, a branch slot B (key, child id) pairs, interleaved
 * so the value a search lands on shares the key's cache line.
 */
const L = 32
const B = 32
const L_MIN = L >> 1
const B_MIN = B >> 1
const LS = 2 * L
const BS = 2 * B
/** Bulk loads fill nodes to three quarters, leaving room for inserts. */
const L_FILL = (L * 3) >> 2
const B_FILL = (B * 3) >> 2
/** Slots per chunk (a power of two); the first chunk starts small and grows to this. */
const L_SHIFT = 10
const B_SHIFT = 8
const L_MASK = (1 << L_SHIFT) - 1
const B_MASK = (1 << B_SHIFT) - 1
const FIRST_CHUNK_SLOTS = 4
/** Unused key slots hold +Infinity, so a search never needs the node's count. */
const NONE = Infinity

const isInt32 = (v: unknown): v is number => typeof v === 'number' && (v | 0) === v
const isGfn = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0
const leafAt = (id: number): number => (id & L_MASK) * LS
const branchAt = (id: number): number => (id & B_MASK) * BS

/** Index of the first of `count` keys (pairs at `base`) that is > x (= how many are <= x). */
function firstGreater (a: Float64Array, base: number, count: number, x: number): number {
  let lo = 0
  let hi = count
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[base + 2 * mid]! <= x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * firstGreater by a forward scan, for lookups: its loads do not depend on each other, so the
 * CPU fetches a node's cache lines in parallel, where each binary-search probe waits for the
 * last. Random lookups in a large map are bound by those misses.
 */
function scanGreater (a: Float64Array, base: number, count: number, x: number): number {
  let i = 0
  while (i < count && a[base + 2 * i]! <= x) i++ // unused keys are NONE: the scan stops there
  return i
}

/** Index of the first of `count` keys (pairs at `base`) that is >= x. */
function firstAtLeast (a: Float64Array, base: number, count: number, x: number): number {
  let lo = 0
  let hi = count
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[base + 2 * mid]! < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Fixed-size slots of `width` (key, payload) pairs in chunks, with a count each. */
class Pool {
  chunks: Float64Array[] = []
  counts = new Int32Array(FIRST_CHUNK_SLOTS)
  private top = 0
  private readonly free: number[] = []
  constructor (private readonly width: number, private readonly shift: number) {}

  get live (): number { return this.top - this.free.length }
  get capacity (): number { return this.counts.length }

  alloc (): number {
    let id = this.free.pop()
    if (id === undefined) {
      id = this.top++
      if (id === this.counts.length) this.growCounts()
      const c = id >>> this.shift
      const slots = 1 << this.shift
      const need = ((id & (slots - 1)) + 1) * 2 * this.width
      const chunk = this.chunks[c]
      if (chunk === undefined) this.chunks.push(new Float64Array(c === 0 ? FIRST_CHUNK_SLOTS * 2 * this.width : slots * 2 * this.width))
      else if (chunk.length < need) {
        const grown = new Float64Array(Math.min(slots, chunk.length / this.width) * 2 * this.width)
        grown.set(chunk)
        this.chunks[c] = grown
      }
    }
    const base = (id & ((1 << this.shift) - 1)) * 2 * this.width
    this.chunks[id >>> this.shift]!.fill(NONE, base, base + 2 * this.width)
    this.counts[id] = 0
    return id
  }

  release (id: number): void { this.free.push(id) }

  private growCounts (): void {
    const counts = new Int32Array(this.counts.length * 2)
    counts.set(this.counts)
    this.counts = counts
  }
}

export class ExtentMap {
  private readonly def: number
  // Leaves and branches; a branch's keys[i] is exactly the smallest key under child i. All
  // leaves sit at depth `height`, so depth says whether a node id names a leaf or a branch.
  private leaves = new Pool(L, L_SHIFT)
  private branches = new Pool(B, B_SHIFT)
  private root = 0
  private height = 0
  private size = 0
  // One-extent lookup cache: the guest's fault path calls get per access, mostly on the
  // extent it hit last. [cacheStart, cacheEnd) has cacheValue; empty when start > end.
  private cacheStart = 1
  private cacheEnd = 0
  private cacheValue = 0
  // Where locate landed: leaf id, index of the extent's key in it (-1: before the first),
  // and the first key after the leaf (Infinity: none). set edits that leaf in place.
  private hitLeaf = 0
  private hitIdx = -1
  private hitUpper = Infinity

  constructor (defaultValue = 0) {
    if (!isInt32(defaultValue)) throw new RangeError(`ExtentMap: default value must be a 32-bit integer, got ${String(defaultValue)}`)
    this.def = defaultValue
    this.root = this.leaves.alloc()
  }

  private invalidate (): void {
    this.cacheStart = 1
    this.cacheEnd = 0
  }

  private leafArr (id: number): Float64Array { return this.leaves.chunks[id >>> L_SHIFT]! }
  private branchArr (id: number): Float64Array { return this.branches.chunks[id >>> B_SHIFT]! }

  private firstKey (id: number, depth: number): number {
    return depth === this.height ? this.leafArr(id)[leafAt(id)]! : this.branchArr(id)[branchAt(id)]!
  }

  private pool (depth: number): Pool { return depth === this.height ? this.leaves : this.branches }

  // ---- lookup -------------------------------------------------------------------------

  /** Fills the cache with the extent holding gfn (end may be Infinity). */
  private locate (gfn: number): void {
    let id = this.root
    let upper = Infinity
    const bc = this.branches.chunks
    for (let d = this.height; d > 0; d--) {
      const a = bc[id >>> B_SHIFT]!
      const base = branchAt(id)
      let i = scanGreater(a, base, B, gfn) - 1
      if (i < 0) i = 0
      if (i + 1 < B && a[base + 2 * i + 2]! !== NONE) upper = a[base + 2 * i + 2]!
      id = a[base + 2 * i + 1]!
    }
    const a = this.leaves.chunks[id >>> L_SHIFT]!
    const base = leafAt(id)
    const i = scanGreater(a, base, L, gfn) - 1
    this.hitLeaf = id
    this.hitIdx = i
    this.hitUpper = upper
    if (i < 0) {
      // Only the leftmost leaf routes a gfn below its first key: gfn precedes every key.
      this.cacheStart = 0
      this.cacheValue = this.def
      this.cacheEnd = a[base]! === NONE ? upper : a[base]!
    } else {
      this.cacheStart = a[base + 2 * i]!
      this.cacheValue = a[base + 2 * i + 1]!
      this.cacheEnd = i + 1 < L && a[base + 2 * i + 2]! !== NONE ? a[base + 2 * i + 2]! : upper
    }
  }

  get (gfn: number): number {
    if (gfn >= this.cacheStart && gfn < this.cacheEnd) return this.cacheValue
    this.locate(gfn)
    return this.cacheValue
  }

  // ---- edit ---------------------------------------------------------------------------

  /** Sets [start, end) to value; merges with equal neighbours; returns true iff anything changed. */
  set (start: number, end: number, value: number): boolean {
    if (!isGfn(start) || !isGfn(end) || start > end) throw new RangeError(`ExtentMap.set: bad range [${String(start)}, ${String(end)})`)
    if (!isInt32(value)) throw new RangeError(`ExtentMap.set: value must be a 32-bit integer, got ${String(value)}`)
    if (start === end) return false
    this.locate(start)
    const s0 = this.cacheStart
    const e0 = this.cacheEnd
    const v0 = this.cacheValue
    if (v0 === value && e0 >= end) return false // already so: KVM treats it as a no-op
    if (this.setInLeaf(start, end, value)) return true
    let before = this.def
    if (s0 < start) before = v0
    else if (start > 0) { this.locate(start - 1); before = this.cacheValue }
    let after = v0
    if (end >= e0) { this.locate(end); after = this.cacheValue }
    this.invalidate()
    // Keys inside [start, end] go; then start and end become boundaries only where the value
    // really changes, which keeps the map canonical (merged with equal neighbours).
    if (s0 === start || e0 <= end) {
      this.size -= this.deleteRange(this.root, 0, start, end)
      this.shrinkRoot()
    }
    if (before !== value) this.insert(start, value)
    if (after !== value) this.insert(end, after)
    this.compactIfSparse()
    return true
  }

  /**
   * The common case of set, right after locate(start): every key the edit touches lies in
   * the leaf locate reached, the leaf's first key stays, and the leaf neither overflows nor
   * drops under half. Then the edit is one in-place splice, no second descent. Same result
   * as the general path.
   */
  private setInLeaf (start: number, end: number, value: number): boolean {
    const leaf = this.hitLeaf
    const a = this.leafArr(leaf)
    const base = leafAt(leaf)
    const n = this.leaves.counts[leaf]!
    const i = this.hitIdx
    const from = i >= 0 && a[base + 2 * i] === start ? i : i + 1 // first key >= start
    const isRoot = this.height === 0
    if (from === 0 && !isRoot) return false // would change the leaf's first key, which parents hold
    const to = firstGreater(a, base, n, end) // first key > end
    if (to === n && this.hitUpper <= end) return false // the range reaches the next leaf
    const before = from > 0 ? a[base + 2 * from - 1]! : this.def
    const after = to > 0 ? a[base + 2 * to - 1]! : this.def
    const ins = (before !== value ? 1 : 0) + (after !== value ? 1 : 0)
    const m = n - (to - from) + ins
    if (m > L || (m < L_MIN && !isRoot)) return false
    a.copyWithin(base + 2 * (from + ins), base + 2 * to, base + 2 * n)
    let k = base + 2 * from
    if (before !== value) { a[k] = start; a[k + 1] = value; k += 2 }
    if (after !== value) { a[k] = end; a[k + 1] = after }
    if (m < n) a.fill(NONE, base + 2 * m, base + 2 * n)
    this.leaves.counts[leaf] = m
    this.size += m - n
    this.invalidate()
    return true
  }

  private insert (key: number, val: number): void {
    const split = this.insertInto(this.root, 0, key, val)
    if (split >= 0) {
      const b = this.branches.alloc()
      const a = this.branchArr(b)
      const base = branchAt(b)
      a[base] = this.firstKey(this.root, 0)
      a[base + 1] = this.root
      a[base + 2] = this.firstKey(split, 0)
      a[base + 3] = split
      this.branches.counts[b] = 2
      this.root = b
      this.height++
    }
    this.size++
  }

  /** Inserts an absent key under node id; returns the new right sibling's id if it split, else -1. */
  private insertInto (id: number, depth: number, key: number, val: number): number {
    const isLeaf = depth === this.height
    const pool = isLeaf ? this.leaves : this.branches
    const W = isLeaf ? L : B
    let at: number
    let payload: number
    if (isLeaf) {
      at = firstGreater(this.leafArr(id), leafAt(id), pool.counts[id]!, key)
      payload = val
    } else {
      const a = this.branchArr(id)
      const base = branchAt(id)
      const i = Math.max(0, firstGreater(a, base, pool.counts[id]!, key) - 1)
      const kid = a[base + 2 * i + 1]!
      const split = this.insertInto(kid, depth + 1, key, val)
      // Re-fetch: the first chunk is reallocated as it grows, so `a` may be stale.
      this.branchArr(id)[base + 2 * i] = this.firstKey(kid, depth + 1)
      if (split < 0) return -1
      at = i + 1
      key = this.firstKey(split, depth + 1)
      payload = split
    }
    let target = id
    let right = -1
    if (pool.counts[id] === W) {
      right = pool.alloc()
      this.moveHead(id, right, isLeaf, W >> 1) // upper half to the new right sibling
      if (at > W >> 1) { target = right; at -= W >> 1 }
    }
    const a = isLeaf ? this.leafArr(target) : this.branchArr(target)
    const base = isLeaf ? leafAt(target) : branchAt(target)
    const n = pool.counts[target]!
    a.copyWithin(base + 2 * at + 2, base + 2 * at, base + 2 * n)
    a[base + 2 * at] = key
    a[base + 2 * at + 1] = payload
    pool.counts[target] = n + 1
    return right
  }

  /** Removes keys in [lo, hi] under node id; returns how many. Leaves no empty child behind. */
  private deleteRange (id: number, depth: number, lo: number, hi: number): number {
    if (depth === this.height) {
      const a = this.leafArr(id)
      const base = leafAt(id)
      const n = this.leaves.counts[id]!
      const from = firstAtLeast(a, base, n, lo)
      const to = firstGreater(a, base, n, hi)
      if (from >= to) return 0
      a.copyWithin(base + 2 * from, base + 2 * to, base + 2 * n)
      a.fill(NONE, base + 2 * (n - (to - from)), base + 2 * n)
      this.leaves.counts[id] = n - (to - from)
      return to - from
    }
    const a = this.branchArr(id)
    const base = branchAt(id)
    const n = this.branches.counts[id]!
    const first = Math.max(0, firstGreater(a, base, n, lo) - 1)
    const last = Math.max(0, firstGreater(a, base, n, hi) - 1)
    let removed = 0
    if (last > first + 1) {
      // Subtrees wholly inside the range go at once: cost is per node, not per key.
      for (let j = first + 1; j < last; j++) removed += this.freeSubtree(a[base + 2 * j + 1]!, depth + 1)
      this.removeKids(id, first + 1, last - first - 1)
    }
    removed += this.deleteRange(a[base + 2 * first + 1]!, depth + 1, lo, hi)
    if (last > first) {
      removed += this.deleteRange(a[base + 2 * first + 3]!, depth + 1, lo, hi)
      this.rebalance(id, depth, first + 1)
    }
    this.rebalance(id, depth, Math.min(first, this.branches.counts[id]! - 1))
    return removed
  }

  /** Frees a whole subtree; returns how many keys it held. */
  private freeSubtree (id: number, depth: number): number {
    if (depth === this.height) {
      this.leaves.release(id)
      return this.leaves.counts[id]!
    }
    let keys = 0
    const a = this.branchArr(id)
    const base = branchAt(id)
    for (let i = 0; i < this.branches.counts[id]!; i++) keys += this.freeSubtree(a[base + 2 * i + 1]!, depth + 1)
    this.branches.release(id)
    return keys
  }

  private removeKids (id: number, at: number, k: number): void {
    const a = this.branchArr(id)
    const base = branchAt(id)
    const n = this.branches.counts[id]!
    a.copyWithin(base + 2 * at, base + 2 * (at + k), base + 2 * n)
    a.fill(NONE, base + 2 * (n - k), base + 2 * n)
    this.branches.counts[id] = n - k
  }

  /** Restores child i of branch p after a deletion: drops it if empty, else merges or borrows. */
  private rebalance (p: number, depth: number, i: number): void {
    const kidDepth = depth + 1
    const isLeaf = kidDepth === this.height
    const pool = this.pool(kidDepth)
    const min = isLeaf ? L_MIN : B_MIN
    const max = isLeaf ? L : B
    const pa = this.branchArr(p)
    const pb = branchAt(p)
    while (i >= 0 && i < this.branches.counts[p]!) {
      const kid = pa[pb + 2 * i + 1]!
      const n = pool.counts[kid]!
      if (n === 0) {
        pool.release(kid)
        this.removeKids(p, i, 1)
        return
      }
      pa[pb + 2 * i] = this.firstKey(kid, kidDepth)
      if (n >= min || this.branches.counts[p] === 1) return
      const l = i > 0 ? i - 1 : i
      const left = pa[pb + 2 * l + 1]!
      const right = pa[pb + 2 * l + 3]!
      const total = pool.counts[left]! + pool.counts[right]!
      if (total <= max) {
        this.moveTail(left, right, isLeaf, pool.counts[right]!)
        pool.release(right)
        this.removeKids(p, l + 1, 1)
        pa[pb + 2 * l] = this.firstKey(left, kidDepth)
        i = l // the merged node may still be underfull: look again
      } else {
        // Even out the pair so both end at least half full.
        const want = total >> 1
        if (pool.counts[left]! < want) this.moveTail(left, right, isLeaf, want - pool.counts[left]!)
        else this.moveHead(left, right, isLeaf, want)
        pa[pb + 2 * l] = this.firstKey(left, kidDepth)
        pa[pb + 2 * l + 2] = this.firstKey(right, kidDepth)
        return
      }
    }
  }

  /** Moves right's first k entries to the end of left (all of them: a merge). */
  private moveTail (left: number, right: number, isLeaf: boolean, k: number): void {
    const pool = isLeaf ? this.leaves : this.branches
    const la = isLeaf ? this.leafArr(left) : this.branchArr(left)
    const ra = isLeaf ? this.leafArr(right) : this.branchArr(right)
    const lb = isLeaf ? leafAt(left) : branchAt(left)
    const rb = isLeaf ? leafAt(right) : branchAt(right)
    const ln = pool.counts[left]!
    const rn = pool.counts[right]!
    for (let j = 0; j < 2 * k; j++) la[lb + 2 * ln + j] = ra[rb + j]!
    ra.copyWithin(rb, rb + 2 * k, rb + 2 * rn)
    ra.fill(NONE, rb + 2 * (rn - k), rb + 2 * rn)
    pool.counts[left] = ln + k
    pool.counts[right] = rn - k
  }

  /** Moves left's entries from index keep on to the front of right. */
  private moveHead (left: number, right: number, isLeaf: boolean, keep: number): void {
    const pool = isLeaf ? this.leaves : this.branches
    const la = isLeaf ? this.leafArr(left) : this.branchArr(left)
    const ra = isLeaf ? this.leafArr(right) : this.branchArr(right)
    const lb = isLeaf ? leafAt(left) : branchAt(left)
    const rb = isLeaf ? leafAt(right) : branchAt(right)
    const ln = pool.counts[left]!
    const rn = pool.counts[right]!
    const k = ln - keep
    ra.copyWithin(rb + 2 * k, rb, rb + 2 * rn)
    for (let j = 0; j < 2 * k; j++) ra[rb + j] = la[lb + 2 * keep + j]!
    la.fill(NONE, lb + 2 * keep, lb + 2 * ln)
    pool.counts[left] = keep
    pool.counts[right] = rn + k
  }

  private shrinkRoot (): void {
    while (this.height > 0) {
      const n = this.branches.counts[this.root]!
      if (n > 1) return
      this.branches.release(this.root)
      if (n === 1) {
        this.root = this.branchArr(this.root)[branchAt(this.root) + 1]!
        this.height--
      } else {
        this.root = this.leaves.alloc()
        this.height = 0
      }
    }
  }

  /**
   * After a large deletion the pools would keep their peak size: rebuild them compactly once
   * seven eighths are free (O(extents), and rare enough to amortise over the deletions).
   */
  private compactIfSparse (): void {
    const cap = this.leaves.capacity
    if (cap <= 64 || this.leaves.live * 8 > cap) return
    const s = this.toJSON()
    this.load(s.starts, s.values)
  }

  // ---- bulk -------------------------------------------------------------------------

  /** Appends the keys in [lo, hi) under node id, in order, until `max` keys are collected. */
  private collect (id: number, depth: number, lo: number, hi: number, keys: number[], vals: number[], max = Infinity): void {
    if (depth === this.height) {
      const a = this.leafArr(id)
      const base = leafAt(id)
      const n = this.leaves.counts[id]!
      for (let i = firstAtLeast(a, base, n, lo); i < n && a[base + 2 * i]! < hi && keys.length < max; i++) {
        keys.push(a[base + 2 * i]!)
        vals.push(a[base + 2 * i + 1]!)
      }
      return
    }
    const a = this.branchArr(id)
    const base = branchAt(id)
    const n = this.branches.counts[id]!
    for (let i = Math.max(0, firstGreater(a, base, n, lo) - 1); i < n && a[base + 2 * i]! < hi && keys.length < max; i++) {
      this.collect(a[base + 2 * i + 1]!, depth + 1, lo, hi, keys, vals, max)
    }
  }

  /** Replaces the tree with one built from sorted canonical keys, every node at least half full. */
  private load (keys: number[], vals: number[]): void {
    this.leaves = new Pool(L, L_SHIFT)
    this.branches = new Pool(B, B_SHIFT)
    this.invalidate()
    const n = keys.length
    let level: number[] = []
    const leafCount = Math.max(1, Math.min(Math.ceil(n / L_FILL), Math.floor(n / L_MIN)))
    for (let j = 0; j < leafCount; j++) {
      const from = Math.floor(j * n / leafCount)
      const to = Math.floor((j + 1) * n / leafCount)
      const id = this.leaves.alloc()
      const a = this.leafArr(id)
      const base = leafAt(id)
      for (let k = from; k < to; k++) { a[base + 2 * (k - from)] = keys[k]!; a[base + 2 * (k - from) + 1] = vals[k]! }
      this.leaves.counts[id] = to - from
      level.push(id)
    }
    let height = 0
    while (level.length > 1) {
      const m = level.length
      const count = Math.max(1, Math.min(Math.ceil(m / B_FILL), Math.floor(m / B_MIN)))
      const up: number[] = []
      for (let j = 0; j < count; j++) {
        const from = Math.floor(j * m / count)
        const to = Math.floor((j + 1) * m / count)
        const id = this.branches.alloc()
        const a = this.branchArr(id)
        const base = branchAt(id)
        for (let k = from; k < to; k++) {
          const kid = level[k]!
          a[base + 2 * (k - from)] = height === 0 ? this.leafArr(kid)[leafAt(kid)]! : this.branchArr(kid)[branchAt(kid)]!
          a[base + 2 * (k - from) + 1] = kid
        }
        this.branches.counts[id] = to - from
        up.push(id)
      }
      level = up
      height++
    }
    this.root = level[0]!
    this.height = height
    this.size = n
  }

  // ---- queries ------------------------------------------------------------------------

  /**
   * Runs overlapping [start, end), clipped to it, adjacent equal runs merged, gaps = default.
   * At most `max` runs: a cut list covers [start, last run's end) only, and its work is
   * bounded by `max`, not by the extents in the range.
   */
  runs (start: number, end: number, max = Infinity): ExtentRun[] {
    const out: ExtentRun[] = []
    if (!(start < end)) return out
    this.locate(start)
    let runStart = start
    let runValue = this.cacheValue
    if (this.cacheEnd < end) {
      const keys: number[] = []
      const vals: number[] = []
      this.collect(this.root, 0, this.cacheEnd, end, keys, vals, max)
      for (let i = 0; i < keys.length; i++) {
        out.push({ start: runStart, end: keys[i]!, value: runValue })
        runStart = keys[i]!
        runValue = vals[i]!
      }
      if (keys.length >= max) return out
    }
    out.push({ start: runStart, end, value: runValue })
    return out
  }

  /** First gfn in [start, end) whose value is not `value`, or -1. */
  findNot (start: number, end: number, value: number): number {
    if (!(start < end)) return -1
    if (this.get(start) !== value) return start
    // Canonical form: the extent after this one always holds a different value.
    return this.cacheEnd < end ? this.cacheEnd : -1
  }

  /** Number of stored boundaries: each starts one extent (what costs memory). */
  get extentCount (): number { return this.size }

  toJSON (): ExtentMapSnapshot {
    const starts: number[] = []
    const values: number[] = []
    this.collect(this.root, 0, -Infinity, Infinity, starts, values)
    return { default: this.def, starts, values }
  }

  /** Rebuilds a map from a snapshot; a boundary repeating the value before it is dropped. */
  static fromJSON (s: ExtentMapSnapshot): ExtentMap {
    if (typeof s !== 'object' || s === null || !Array.isArray(s.starts) || !Array.isArray(s.values) || s.starts.length !== s.values.length) {
      throw new TypeError('ExtentMap.fromJSON: expected { default, starts[], values[] } with starts and values of equal length')
    }
    const map = new ExtentMap(s.default)
    const keys: number[] = []
    const vals: number[] = []
    let prevKey = -1
    let prevVal = map.def
    for (let i = 0; i < s.starts.length; i++) {
      const k: unknown = s.starts[i]
      const v: unknown = s.values[i]
      if (!isGfn(k) || k <= prevKey) throw new TypeError(`ExtentMap.fromJSON: starts[${i}] must be a safe integer above the one before`)
      if (!isInt32(v)) throw new TypeError(`ExtentMap.fromJSON: values[${i}] must be a 32-bit integer`)
      prevKey = k
      if (v === prevVal) continue
      keys.push(k)
      vals.push(v)
      prevVal = v
    }
    map.load(keys, vals)
    return map
  }

  clear (): void {
    this.load([], [])
  }
}
