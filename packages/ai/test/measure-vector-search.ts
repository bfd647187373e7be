/**
 * Measures the brute-force vector search at Overlord's target scale: 10,000 sessions × 20 chunks.
 * Run: `bun packages/ai/test/measure-vector-search.ts [dimensions...]` (default 100 768).
 * Prints ms per query (median of 20 queries after 3 warm-ups) and the bytes the vectors take.
 */
import { VectorIndex } from "../src/vectors.ts"

const SESSIONS = 10_000
const CHUNKS_PER_SESSION = 20

function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
  }
}

for (const dims of (process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["100", "768"]).map(Number)) {
  const next = random(dims)
  const count = SESSIONS * CHUNKS_PER_SESSION
  const index = new VectorIndex<number>(dims, count)
  const v = new Float32Array(dims)
  const built = performance.now()
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dims; d++) v[d] = next()
    index.add(i, v)
  }
  const buildMs = performance.now() - built
  const query = Float32Array.from({ length: dims }, next)
  for (let i = 0; i < 3; i++) index.topK(query, 50)
  const times: number[] = []
  for (let i = 0; i < 20; i++) {
    for (let d = 0; d < dims; d++) query[d] = next()
    const t = performance.now()
    index.topK(query, 50)
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  const filtered = performance.now()
  index.topK(query, 50, (key) => key % 10 === 0)
  console.log(
    `${dims} dims, ${count} vectors: ${(index.vectorBytes / 1e6).toFixed(0)} MB of vectors, ` +
      `top-50 median ${times[10]?.toFixed(1)} ms (min ${times[0]?.toFixed(1)}, max ${times.at(-1)?.toFixed(1)}), ` +
      `with a 10 % filter ${(performance.now() - filtered).toFixed(1)} ms, loading ${buildMs.toFixed(0)} ms, ` +
      `rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
  )
}
