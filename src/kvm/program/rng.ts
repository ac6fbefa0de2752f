// The guest's seeded randomness: sfc32 (small, fast, passes PractRand) seeded through
// splitmix32. Only 32-bit integer arithmetic, so a seed gives the same stream everywhere, and
// the state is four numbers that go into a VM snapshot as they are.

const TWO_32 = 2 ** 32
const GOLDEN = 0x9e3779b9

/** murmur3's finaliser: a bijection on uint32, so distinct inputs stay distinct. */
const fmix32 = (x: number): number => {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

/** Any JSON number (seeds may be safe integers above 2^32, or negative) to 32 bits. */
const fold = (seed: number): number => {
  const s = Number.isFinite(seed) ? Math.trunc(seed) : 0
  const lo = s >>> 0
  const hi = Math.floor(s / TWO_32) >>> 0
  return hi === 0 ? lo : (lo ^ fmix32(hi + GOLDEN)) >>> 0
}

export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    let sm = fold(seed)
    const next = (): number => { sm = (sm + GOLDEN) | 0; return fmix32(sm) }
    this.a = next() | 0
    this.b = next() | 0
    this.c = next() | 0
    this.d = next() | 0
    for (let i = 0; i < 12; i++) this.u32()
  }

  /** The next 32 random bits as an unsigned integer. */
  u32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next (): number {
    return this.u32() / TWO_32
  }

  /** Uniform integer in [0, n); n up to 2^53 (above 2^32 it draws twice). */
  nextInt (n: number): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`nextInt needs a positive safe integer, got ${n}`)
    if (n <= TWO_32) return Math.floor(this.next() * n)
    const x = (this.u32() >>> 11) * TWO_32 + this.u32() // 53 bits
    return Math.min(Math.floor((x / 2 ** 53) * n), n - 1)
  }

  /** Four uint32 words; Rng.fromState(rng.state) continues the same stream. */
  get state (): number[] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0]
  }

  static fromState (s: number[]): Rng {
    if (!Array.isArray(s) || s.length !== 4 || !s.every(w => Number.isInteger(w) && w >= 0 && w < TWO_32)) {
      throw new RangeError('an Rng state is four integers from 0 to 2^32 - 1')
    }
    const rng = new Rng(0)
    rng.a = s[0]! | 0
    rng.b = s[1]! | 0
    rng.c = s[2]! | 0
    rng.d = s[3]! | 0
    return rng
  }
}

/** vCPU n's seed: distinct for every vCPU of one VM (a bijection in vcpu), and deterministic. */
export function vcpuSeed (vmSeed: number, vcpu: number): number {
  return fmix32((fold(vmSeed) + Math.imul(vcpu, GOLDEN)) >>> 0)
}
