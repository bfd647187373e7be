/**
 * A stand-in for a local Ollama server, speaking the HTTP API the `ollama` npm client (0.6.4) uses:
 * `GET /api/tags`, `GET /api/version`, `POST /api/show`, `POST /api/embed`, and `POST /api/chat` /
 * `POST /api/generate` both streamed (NDJSON, one object per line, the last with `done: true`) and
 * not (`stream: false`, one JSON object). Errors are `{"error": "..."}` with Ollama's status codes
 * (404 for a model that is not pulled), which the client turns into a `ResponseError`.
 *
 * `/api/embed` is backed by real English word vectors (`word-vectors.ts`): a text's embedding is the
 * average of its words' vectors, L2-normalised like Ollama's, so cosine similarity measures meaning.
 * Chat and generate answer deterministically from the prompt: a title made of the conversation's most
 * frequent salient words and a two-sentence summary naming them, as JSON when the request asks for
 * `format` (JSON mode or a schema) and as `Title: ...\nSummary: ...` otherwise.
 */
import { wordVectors } from "./word-vectors.ts"

export type FakeOllamaRoute =
  | "GET /api/tags"
  | "GET /api/version"
  | "POST /api/show"
  | "POST /api/embed"
  | "POST /api/chat"
  | "POST /api/generate"
  | "other"

/**
 * `invalid-json`: 200 with a body that is not JSON (the client's `response.json()` throws).
 * `wrong-shape`: 200 with valid JSON of the wrong shape (no `embeddings`, no `message`, no `models`).
 * `nonsense`: well-formed replies whose generated text is not what was asked for (no title JSON).
 */
export type FakeOllamaGarbage = "invalid-json" | "wrong-shape" | "nonsense"

export interface FakeOllamaOptions {
  /** Pulled models, as `/api/tags` lists them (default: a chat and an embedding model). */
  readonly models?: readonly string[]
  /** Wait this long before answering every request (to test timeouts). */
  readonly delayMs?: number
  readonly garbage?: FakeOllamaGarbage | null
  /** Reported by `/api/version`. */
  readonly version?: string
}

export interface RecordedOllamaRequest {
  readonly route: FakeOllamaRoute
  readonly path: string
  readonly body: unknown
}

export interface FakeOllama {
  /** Base URL (`http://127.0.0.1:<port>`); stays the same across `down()` / `up()`. */
  readonly url: string
  readonly port: number
  readonly requests: readonly RecordedOllamaRequest[]
  /** How many requests each route received (answered or not). */
  readonly count: (route: FakeOllamaRoute) => number
  readonly setDelay: (ms: number) => void
  readonly setGarbage: (garbage: FakeOllamaGarbage | null) => void
  /** Replaces the list of pulled models. */
  readonly setModels: (models: readonly string[]) => void
  /** Stops listening: connections are refused, as with Ollama not running. */
  readonly down: () => Promise<void>
  /** Listens again on the same port. */
  readonly up: () => void
  readonly stop: () => Promise<void>
}

export const FAKE_OLLAMA_CHAT_MODEL = "llama3.2:latest"
export const FAKE_OLLAMA_EMBED_MODEL = "nomic-embed-text:latest"

/** Ollama names a model without a tag `<name>:latest`. */
export function ollamaModelName(name: string): string {
  return name.includes(":") ? name : `${name}:latest`
}

/** Words too common to say anything: left out of embeddings and titles. */
const STOP_WORDS = new Set(
  (
    "a an the and or but if then else of to in on at by for with from into onto as is are was were be been being " +
    "it its this that these those there here i me my we our you your he she they them their his her us " +
    "do does did done doing have has had having can could should would will shall may might must not no yes " +
    "so than too very just also only about over under again more most some any each all both few other such " +
    "what which who whom whose when where why how up down out off own same s t don now let lets ok okay please"
  ).split(" "),
)

/** Labels the prompt formats add around conversation text: not what a conversation is about. */
const PROMPT_WORDS = new Set(["user", "assistant", "tool", "tools", "session", "conversation", "title", "summary"])

/** Lower-case words of a text; camelCase and snake_case identifiers are split into their words. */
export function textWords(text: string): string[] {
  const spaced = text.replace(/([a-z])([A-Z])/g, "$1 $2")
  return spaced.toLowerCase().match(/[a-z][a-z0-9]*/g) ?? []
}

/**
 * The fake's embedding: the mean of the known words' vectors, L2-normalised (zeros if none is known),
 * cut to the first `dimensions` values when asked.
 */
export function fakeEmbedding(text: string, dimensions?: number): number[] {
  const vectors = wordVectors()
  const sum = new Float64Array(Math.min(dimensions ?? vectors.dimensions, vectors.dimensions))
  for (const word of textWords(text)) {
    if (STOP_WORDS.has(word)) continue
    const v = vectors.vector(word)
    if (v === undefined) continue
    for (let d = 0; d < sum.length; d++) sum[d] = (sum[d] ?? 0) + (v[d] ?? 0)
  }
  let norm = 0
  for (const x of sum) norm += x * x
  norm = Math.sqrt(norm)
  return Array.from(sum, (x) => (norm > 0 ? x / norm : 0))
}

/** The most frequent salient words, ties broken by first appearance. */
function salientWords(text: string, count: number): string[] {
  const seen = new Map<string, { n: number; first: number }>()
  textWords(text).forEach((word, i) => {
    if (word.length < 3 || STOP_WORDS.has(word) || PROMPT_WORDS.has(word)) return
    const s = seen.get(word)
    if (s) s.n++
    else seen.set(word, { n: 1, first: i })
  })
  return [...seen.entries()]
    .sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first)
    .slice(0, count)
    .map(([word]) => word)
}

/** The deterministic title and summary the fake "generates" for a conversation text. */
export function fakeTitleAndSummary(text: string): { title: string; summary: string } {
  const words = salientWords(text, 6)
  if (words.length === 0) return { title: "Empty conversation", summary: "The conversation has no words to summarise." }
  const head = words.slice(0, 4)
  const title = head.map((w, i) => (i === 0 ? w[0]?.toUpperCase() + w.slice(1) : w)).join(" ")
  const rest = words.slice(4)
  const summary =
    `The session is mostly about ${listed(head)}.` +
    (rest.length > 0 ? ` It also mentions ${listed(rest)}.` : " Nothing else comes up often.")
  return { title, summary }
}

const listed = (words: readonly string[]): string =>
  words.length <= 1 ? (words[0] ?? "") : `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export function startFakeOllama(options: FakeOllamaOptions = {}): FakeOllama {
  const requests: RecordedOllamaRequest[] = []
  const counts = new Map<FakeOllamaRoute, number>()
  let models = [...(options.models ?? [FAKE_OLLAMA_CHAT_MODEL, FAKE_OLLAMA_EMBED_MODEL])].map(ollamaModelName)
  let delayMs = options.delayMs ?? 0
  let garbage = options.garbage ?? null
  const version = options.version ?? "0.12.6"
  const startedAt = new Date().toISOString()

  const pulled = (model: unknown): model is string =>
    typeof model === "string" && models.includes(ollamaModelName(model))
  const error = (status: number, message: string) => Response.json({ error: message }, { status })
  const modelNotFound = (model: unknown) =>
    error(404, `model "${typeof model === "string" ? model : ""}" not found, try pulling it first`)
  const json = { "content-type": "application/json; charset=utf-8" }
  const notJson = () => new Response('{"model": "broken", "embeddings": [[0.1, ', { headers: json })
  const ndjson = { "content-type": "application/x-ndjson" }

  const details = (name: string) => ({
    parent_model: "",
    format: "gguf",
    family: name.includes("embed") ? "nomic-bert" : "llama",
    families: [name.includes("embed") ? "nomic-bert" : "llama"],
    parameter_size: name.includes("embed") ? "137M" : "3.2B",
    quantization_level: "Q4_K_M",
  })

  const tags = (): Response => {
    if (garbage === "invalid-json") return notJson()
    if (garbage === "wrong-shape") return Response.json({ tags: models })
    return Response.json({
      models: models.map((name) => ({
        name,
        model: name,
        modified_at: startedAt,
        size: name.includes("embed") ? 274302450 : 2019393189,
        digest: Bun.hash(name).toString(16).padStart(16, "0").repeat(4),
        details: details(name),
      })),
    })
  }

  const show = (body: Record<string, unknown>): Response => {
    const model = body.model ?? body.name
    if (!pulled(model)) return error(404, `model '${typeof model === "string" ? model : ""}' not found`)
    const name = ollamaModelName(model)
    const embedding = name.includes("embed")
    return Response.json({
      license: "",
      modelfile: `FROM ${name}\n`,
      parameters: "",
      template: embedding ? "" : "{{ .Prompt }}",
      details: details(name),
      model_info: {
        "general.architecture": embedding ? "nomic-bert" : "llama",
        [`${embedding ? "nomic-bert" : "llama"}.embedding_length`]: embedding ? wordVectors().dimensions : 3072,
      },
      capabilities: embedding ? ["embedding"] : ["completion"],
      modified_at: startedAt,
    })
  }

  const embed = (body: Record<string, unknown>): Response => {
    if (!pulled(body.model)) return modelNotFound(body.model)
    const input = typeof body.input === "string" ? [body.input] : body.input
    if (!Array.isArray(input) || !input.every((s) => typeof s === "string")) {
      return error(400, "invalid input type")
    }
    if (garbage === "invalid-json") return notJson()
    if (garbage === "wrong-shape") return Response.json({ model: body.model, embedding: "none" })
    const started = performance.now()
    // `dimensions` keeps the first values and re-normalises, as Ollama does for Matryoshka models.
    const dimensions = typeof body.dimensions === "number" && body.dimensions > 0 ? body.dimensions : undefined
    const embeddings = input.map((text) => (garbage === "nonsense" ? [] : fakeEmbedding(text, dimensions)))
    const nanos = Math.round((performance.now() - started) * 1e6)
    return Response.json({
      model: body.model,
      embeddings,
      total_duration: nanos,
      load_duration: 0,
      prompt_eval_count: input.reduce((n, text) => n + textWords(text).length, 0),
    })
  }

  /** Chat and generate share everything but where the text goes. */
  const complete = (kind: "chat" | "generate", body: Record<string, unknown>): Response => {
    if (!pulled(body.model)) return modelNotFound(body.model)
    if (garbage === "invalid-json") return notJson()
    const model = body.model as string
    const prompt = kind === "chat" ? chatPrompt(body.messages) : typeof body.prompt === "string" ? body.prompt : ""
    const generated = fakeTitleAndSummary(prompt)
    const text =
      garbage === "nonsense"
        ? "I am sorry, I cannot help with that."
        : body.format !== undefined && body.format !== ""
          ? JSON.stringify(generated)
          : `Title: ${generated.title}\nSummary: ${generated.summary}`
    const stats = {
      total_duration: 1_000_000,
      load_duration: 0,
      prompt_eval_count: textWords(prompt).length,
      prompt_eval_duration: 500_000,
      eval_count: textWords(text).length,
      eval_duration: 500_000,
    }
    const piece = (content: string, done: boolean): Record<string, unknown> => {
      const common = { model, created_at: new Date().toISOString(), done }
      if (garbage === "wrong-shape") return { ...common, output: content }
      const final = done
        ? { done_reason: "stop", ...stats, ...(kind === "generate" ? { context: [1, 2, 3] } : {}) }
        : {}
      return kind === "chat"
        ? { ...common, message: { role: "assistant", content }, ...final }
        : { ...common, response: content, ...final }
    }
    if (body.stream === false) return Response.json(piece(text, true))
    // Streamed: the text in word-sized pieces, then an empty final object with the statistics.
    const pieces = text.match(/\S+\s*/g) ?? []
    const lines = [...pieces.map((p) => piece(p, false)), piece("", true)].map((o) => `${JSON.stringify(o)}\n`)
    return new Response(lines.join(""), { headers: ndjson })
  }

  const route = (method: string, path: string): FakeOllamaRoute => {
    const key = `${method} ${path}`
    switch (key) {
      case "GET /api/tags":
      case "GET /api/version":
      case "POST /api/show":
      case "POST /api/embed":
      case "POST /api/chat":
      case "POST /api/generate":
        return key
      default:
        return "other"
    }
  }

  const handle = async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname
    const which = route(req.method, path)
    counts.set(which, (counts.get(which) ?? 0) + 1)
    const body: unknown = req.method === "POST" ? await req.json().catch(() => undefined) : undefined
    requests.push({ route: which, path, body })
    if (delayMs > 0) await sleep(delayMs)
    if (which === "GET /api/tags") return tags()
    if (which === "GET /api/version") return garbage === "invalid-json" ? notJson() : Response.json({ version })
    if (which === "other") return new Response("404 page not found", { status: 404 })
    if (!isRecord(body)) return error(400, "invalid request body")
    if (which === "POST /api/show") return show(body)
    if (which === "POST /api/embed") return embed(body)
    if (which === "POST /api/chat") return complete("chat", body)
    return complete("generate", body)
  }

  const listen = (port: number) =>
    Bun.serve({ hostname: "127.0.0.1", port, idleTimeout: 120, fetch: (req) => handle(req) })
  let server: ReturnType<typeof listen> | null = listen(0)
  const port = server.port ?? 0

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    count: (which) => counts.get(which) ?? 0,
    setDelay: (ms) => {
      delayMs = ms
    },
    setGarbage: (mode) => {
      garbage = mode
    },
    setModels: (list) => {
      models = list.map(ollamaModelName)
    },
    down: async () => {
      const s = server
      server = null
      await s?.stop(true)
    },
    up: () => {
      server ??= listen(port)
    },
    stop: async () => {
      const s = server
      server = null
      await s?.stop(true)
    },
  }
}

/** The text of a chat request's user messages (the system prompt holds instructions, not content). */
function chatPrompt(messages: unknown): string {
  if (!Array.isArray(messages)) return ""
  return messages
    .filter((m): m is Record<string, unknown> => isRecord(m) && m.role === "user" && typeof m.content === "string")
    .map((m) => m.content as string)
    .join("\n")
}
