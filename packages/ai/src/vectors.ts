/**
 * Vectors as every engine can keep them, and the search over them, in plain TypeScript.
 *
 * Storage: a vector is a BLOB of float32 values, little-endian (SQLite, MySQL/MariaDB and PlanetScale
 * all store bytes; Debian's MariaDB has no vector type). Search: vectors are L2-normalised when
 * stored, so cosine similarity is a dot product, and the top k of a query is a brute-force scan over
 * one contiguous Float32Array (`VectorIndex`). Full-text and vector results are merged with
 * reciprocal rank fusion, which keeps which list(s) each result came from.
 */

/** float32 little-endian bytes of a vector (a copy). */
export function vectorToBlob(vector: Float32Array | readonly number[]): Uint8Array {
  const bytes = new Uint8Array(vector.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < vector.length; i++) view.setFloat32(i * 4, vector[i] ?? 0, true)
  return bytes
}

/** The vector in a BLOB written by `vectorToBlob`. */
export function blobToVector(blob: Uint8Array): Float32Array {
  if (blob.byteLength % 4 !== 0) throw new RangeError(`a vector blob has a multiple of 4 bytes, not ${blob.byteLength}`)
  const out = new Float32Array(blob.byteLength / 4)
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength)
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

export function dot(a: Float32Array, b: Float32Array): number {
  const n = Math.min(a.length, b.length)
  let sum = 0
  for (let i = 0; i < n; i++) sum += (a[i] as number) * (b[i] as number)
  return sum
}

/** Cosine similarity; 0 when either vector is all zeros. */
export function cosine(a: Float32Array, b: Float32Array): number {
  const norms = Math.sqrt(dot(a, a) * dot(b, b))
  return norms === 0 ? 0 : dot(a, b) / norms
}

/** A unit-length copy (zeros stay zeros). */
export function normalise(vector: Float32Array | readonly number[]): Float32Array {
  const out = Float32Array.from(vector)
  const norm = Math.sqrt(dot(out, out))
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / norm
  return out
}

export interface VectorHit<K> {
  readonly key: K
  /** Cosine similarity with the query (vectors are normalised on the way in). */
  readonly score: number
}

/**
 * Normalised vectors of one dimension in one growing Float32Array, each with a key (e.g. a chunk's
 * session and seq). Memory: `4 × dimensions` bytes per vector plus its key.
 */
export class VectorIndex<K> {
  private data: Float32Array
  private readonly keys: K[] = []

  constructor(
    readonly dimensions: number,
    capacity = 1024,
  ) {
    this.data = new Float32Array(dimensions * Math.max(1, capacity))
  }

  get size(): number {
    return this.keys.length
  }

  /** Bytes held by the vectors themselves. */
  get vectorBytes(): number {
    return this.keys.length * this.dimensions * 4
  }

  add(key: K, vector: Float32Array | readonly number[]): void {
    if (vector.length !== this.dimensions) {
      throw new RangeError(`expected ${this.dimensions} dimensions, got ${vector.length}`)
    }
    const at = this.keys.length * this.dimensions
    if (at + this.dimensions > this.data.length) {
      const grown = new Float32Array(this.data.length * 2)
      grown.set(this.data)
      this.data = grown
    }
    this.data.set(normalise(vector), at)
    this.keys.push(key)
  }

  /** The `k` most similar vectors, best first (ties: the earlier added first). */
  topK(query: Float32Array | readonly number[], k: number, accept?: (key: K) => boolean): VectorHit<K>[] {
    if (query.length !== this.dimensions) throw new RangeError(`expected ${this.dimensions} dimensions`)
    if (k <= 0) return []
    const q = normalise(query)
    const dims = this.dimensions
    const data = this.data
    // A min-heap of the best k so far: k log k per hit instead of sorting every score.
    const heapScore = new Float64Array(k)
    const heapRow = new Int32Array(k)
    let heapSize = 0
    for (let row = 0; row < this.keys.length; row++) {
      if (accept && !accept(this.keys[row] as K)) continue
      const base = row * dims
      let score = 0
      for (let d = 0; d < dims; d++) score += (data[base + d] as number) * (q[d] as number)
      if (heapSize < k) {
        let i = heapSize++
        while (i > 0) {
          const parent = (i - 1) >> 1
          if ((heapScore[parent] as number) <= score) break
          heapScore[i] = heapScore[parent] as number
          heapRow[i] = heapRow[parent] as number
          i = parent
        }
        heapScore[i] = score
        heapRow[i] = row
      } else if (score > (heapScore[0] as number)) {
        let i = 0
        for (;;) {
          const left = 2 * i + 1
          if (left >= heapSize) break
          const right = left + 1
          const child = right < heapSize && (heapScore[right] as number) < (heapScore[left] as number) ? right : left
          if ((heapScore[child] as number) >= score) break
          heapScore[i] = heapScore[child] as number
          heapRow[i] = heapRow[child] as number
          i = child
        }
        heapScore[i] = score
        heapRow[i] = row
      }
    }
    const hits: { row: number; score: number }[] = []
    for (let i = 0; i < heapSize; i++) hits.push({ row: heapRow[i] as number, score: heapScore[i] as number })
    hits.sort((a, b) => b.score - a.score || a.row - b.row)
    return hits.map((h) => ({ key: this.keys[h.row] as K, score: h.score }))
  }
}

/** One ranked list to fuse: its name (e.g. "text", "vector") and its items, best first. */
export interface RankedList<T> {
  readonly source: string
  readonly items: readonly T[]
}

export interface FusedMatch<T> {
  readonly source: string
  /** 1-based rank in that list. */
  readonly rank: number
  readonly item: T
}

export interface FusedResult<T> {
  readonly key: string
  readonly score: number
  /** Every list that ranked this key, best rank first within each list: "which part matched". */
  readonly matches: readonly FusedMatch<T>[]
}

/**
 * Reciprocal rank fusion (Cormack et al. 2009): score(key) = Σ 1 / (k + rank) over the lists that
 * rank it, with k = 60 by default. Scores of different kinds (bm25, cosine) never need to be made
 * comparable, only ranks. `keyOf` groups items (e.g. by session), so several chunks of one session
 * add up, each kept as a match. Ties keep the order of first appearance.
 */
export function reciprocalRankFusion<T>(
  lists: readonly RankedList<T>[],
  keyOf: (item: T) => string,
  k = 60,
): FusedResult<T>[] {
  const fused = new Map<string, { score: number; first: number; matches: FusedMatch<T>[] }>()
  let order = 0
  for (const list of lists) {
    list.items.forEach((item, index) => {
      const key = keyOf(item)
      const rank = index + 1
      let entry = fused.get(key)
      if (!entry) {
        entry = { score: 0, first: order++, matches: [] }
        fused.set(key, entry)
      }
      entry.score += 1 / (k + rank)
      entry.matches.push({ source: list.source, rank, item })
    })
  }
  return [...fused.entries()]
    .sort((a, b) => b[1].score - a[1].score || a[1].first - b[1].first)
    .map(([key, { score, matches }]) => ({ key, score, matches }))
}
