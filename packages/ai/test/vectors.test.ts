import { describe, expect, it } from "vitest"
import { blobToVector, cosine, normalise, reciprocalRankFusion, VectorIndex, vectorToBlob } from "../src/vectors.ts"

/** A small deterministic generator (mulberry32) so the random vectors are the same every run. */
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

describe("vector blobs", () => {
  it("are float32 little-endian and round-trip", () => {
    const blob = vectorToBlob([1, -2.5, 0])
    expect([...blob]).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0, 0, 0, 0, 0])
    expect([...blobToVector(blob)]).toEqual([1, -2.5, 0])
    // A blob read from a database may sit at any offset of a larger buffer.
    const shifted = new Uint8Array(blob.length + 1)
    shifted.set(blob, 1)
    expect([...blobToVector(shifted.subarray(1))]).toEqual([1, -2.5, 0])
    expect(() => blobToVector(new Uint8Array(5))).toThrow(RangeError)
  })

  it("cosine is scale-free and 0 against a zero vector", () => {
    const a = Float32Array.of(1, 2, 3)
    expect(cosine(a, Float32Array.of(2, 4, 6))).toBeCloseTo(1, 6)
    expect(cosine(a, Float32Array.of(0, 0, 0))).toBe(0)
    expect(cosine(Float32Array.of(1, 0), Float32Array.of(0, 1))).toBe(0)
    expect(Math.hypot(...normalise([3, 4]))).toBeCloseTo(1, 6)
  })
})

describe("VectorIndex.topK", () => {
  it("returns exactly what a full sort returns, best first", () => {
    const next = random(7)
    const dims = 16
    const index = new VectorIndex<number>(dims, 4)
    const vectors: Float32Array[] = []
    for (let i = 0; i < 2_000; i++) {
      const v = Float32Array.from({ length: dims }, next)
      vectors.push(v)
      index.add(i, v)
    }
    expect(index.size).toBe(2_000)
    expect(index.vectorBytes).toBe(2_000 * dims * 4)
    const query = Float32Array.from({ length: dims }, next)
    const expected = vectors
      .map((v, i) => ({ key: i, score: cosine(query, v) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 25)
    const hits = index.topK(query, 25)
    expect(hits.map((h) => h.key)).toEqual(expected.map((e) => e.key))
    for (const [i, h] of hits.entries()) expect(h.score).toBeCloseTo(expected[i]?.score ?? 0, 5)
    // A filter (project, machine, date) applies before ranking.
    const even = index.topK(query, 10, (key) => key % 2 === 0)
    const expectedEven = vectors
      .map((v, i) => ({ key: i, score: cosine(query, v) }))
      .filter((e) => e.key % 2 === 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, 10)
    expect(even.map((h) => h.key)).toEqual(expectedEven.map((e) => e.key))
    expect(even.every((h) => h.key % 2 === 0)).toBe(true)
    expect(even).toHaveLength(10)
    expect(index.topK(query, 0)).toEqual([])
    expect(() => index.add(1, [1, 2])).toThrow(RangeError)
  })
})

describe("reciprocalRankFusion", () => {
  type Hit = { session: string; seq: number }
  it("adds up ranks across lists and keeps which list and part matched", () => {
    const text = {
      source: "text",
      items: [
        { session: "a", seq: 10 },
        { session: "b", seq: 20 },
      ],
    }
    const vector = {
      source: "vector",
      items: [
        { session: "b", seq: 21 },
        { session: "c", seq: 30 },
        { session: "b", seq: 22 },
      ],
    }
    const fused = reciprocalRankFusion<Hit>([text, vector], (h) => h.session)
    expect(fused.map((r) => r.key)).toEqual(["b", "a", "c"])
    expect(fused[0]?.score).toBeCloseTo(1 / 62 + 1 / 61 + 1 / 63, 10)
    expect(fused[0]?.matches).toEqual([
      { source: "text", rank: 2, item: { session: "b", seq: 20 } },
      { source: "vector", rank: 1, item: { session: "b", seq: 21 } },
      { source: "vector", rank: 3, item: { session: "b", seq: 22 } },
    ])
    expect(fused[1]?.matches.map((m) => m.source)).toEqual(["text"])
    // a (text rank 1) and c (vector rank 2) differ only by rank: a ranks higher.
    expect(fused[1]?.score).toBeGreaterThan(fused[2]?.score ?? 0)
  })

  it("uses k to flatten or sharpen the ranks and handles empty lists", () => {
    const lists = [{ source: "x", items: ["p", "q"] }]
    expect(reciprocalRankFusion(lists, (s) => s, 0)[0]?.score).toBe(1)
    expect(reciprocalRankFusion([], (s: string) => s)).toEqual([])
  })
})
