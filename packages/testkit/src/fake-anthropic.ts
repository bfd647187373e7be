// A scripted stand-in for the Anthropic Messages API, close enough to the wire protocol that the real
// Claude Code CLI runs against it and writes real session files.

export type ScriptBlock =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly thinking: string; readonly signature?: string }
  | { readonly type: "tool_use"; readonly name: string; readonly input: Readonly<Record<string, unknown>> }

export interface TokenUsage {
  readonly input: number
  readonly output: number
  readonly cacheWrite: number
  readonly cacheRead: number
}

export interface ScriptTurn {
  readonly blocks: readonly ScriptBlock[]
  readonly usage: TokenUsage
  /** Wait this long before answering, so a session file grows at a human pace. */
  readonly delayMs?: number
  /** Stream the answer's events this far apart (a slow answer that is still arriving, for cancels and timeouts). */
  readonly eventDelayMs?: number
}

export interface AgentScript {
  /** Text that appears in the subagent's first user message (put it in the Agent tool's `prompt`). */
  readonly marker: string
  readonly turns: readonly ScriptTurn[]
}

export interface Script {
  /** Turns of the main conversation, across prompts: a resumed session continues where the last run stopped. */
  readonly main: readonly ScriptTurn[]
  readonly agents?: readonly AgentScript[]
  /** Answer for requests that are not part of the conversation (titles, topic checks, quota probes). */
  readonly sideText?: string
}

export type RequestKind = "main" | "agent" | "side" | "count_tokens" | "other"

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
  readonly kind: RequestKind
  /** Conversation stream: "main", the agent marker, or undefined for side/other requests. */
  readonly stream?: string
  readonly turn?: number
  readonly messageId?: string
  readonly requestId?: string
}

export interface FakeAnthropic {
  readonly url: string
  readonly port: number
  readonly requests: readonly RecordedRequest[]
  /** Problems the fake noticed (script exhausted, unknown endpoints); tests should assert this is empty. */
  readonly errors: readonly string[]
  /** Resolves once `count` main-conversation turns have been answered. */
  readonly waitForMainTurns: (count: number, timeoutMs?: number) => Promise<void>
  readonly stop: () => Promise<void>
}

interface ApiMessage {
  readonly role: string
  readonly content: unknown
}

interface ApiContentBlock {
  readonly type?: unknown
  readonly text?: unknown
  readonly id?: unknown
  readonly content?: unknown
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const blocksOf = (content: unknown): readonly ApiContentBlock[] =>
  typeof content === "string"
    ? [{ type: "text", text: content }]
    : Array.isArray(content)
      ? content.filter(isRecord)
      : []

const messagesOf = (body: Record<string, unknown>): readonly ApiMessage[] =>
  Array.isArray(body.messages)
    ? body.messages.filter(isRecord).map((m) => ({ role: String(m.role), content: m.content }))
    : []

/** All text the user side of a request carries, tool results included, for marker matching. */
const userText = (m: ApiMessage): string =>
  blocksOf(m.content)
    .map((b) => (typeof b.text === "string" ? b.text : b.type === "tool_result" ? JSON.stringify(b.content) : ""))
    .join("\n")

// Tool ids carry the stream and turn that produced them, so the next turn is recoverable from any request
// even if Claude Code merges, drops or reorders assistant messages (e.g. stripping thinking).
const toolIdPrefix = "toolu_fake"
const streamTag = (stream: string): string => stream.replace(/[^a-zA-Z0-9]/g, "").slice(0, 24) || "s"
const toolId = (stream: string, turn: number, block: number): string =>
  `${toolIdPrefix}_${streamTag(stream)}_${turn}_${block}`
const toolIdPattern = /^toolu_fake_[a-zA-Z0-9]+_(\d+)_\d+$/

const nextTurnIndex = (messages: readonly ApiMessage[]): number => {
  let next = 0
  for (const m of messages) {
    if (m.role !== "assistant") continue
    const ids = blocksOf(m.content)
      .filter((b) => b.type === "tool_use" && typeof b.id === "string")
      .map((b) => toolIdPattern.exec(String(b.id))?.[1])
      .filter((t): t is string => t !== undefined)
    next = ids.length > 0 ? Number(ids[0]) + 1 : next + 1
  }
  return next
}

const sse = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

// Deltas are split so clients exercise their accumulation logic, as with the real API.
const chunks = (s: string, size = 24): string[] => {
  const out: string[] = []
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size))
  return out.length > 0 ? out : [""]
}

const apiUsage = (u: TokenUsage, output: number) => ({
  input_tokens: u.input,
  cache_creation_input_tokens: u.cacheWrite,
  cache_read_input_tokens: u.cacheRead,
  cache_creation: { ephemeral_5m_input_tokens: u.cacheWrite, ephemeral_1h_input_tokens: 0 },
  output_tokens: output,
  service_tier: "standard",
})

const signatureFor = (thinking: string): string => `sig_fake_${Buffer.from(thinking).toString("base64").slice(0, 32)}`

type WireBlock =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "thinking"; readonly thinking: string; readonly signature: string }
  | { readonly type: "tool_use"; readonly id: string; readonly name: string; readonly input: unknown }

const wireBlock = (b: ScriptBlock, stream: string, turnIndex: number, i: number): WireBlock => {
  if (b.type === "text") return { type: "text", text: b.text }
  if (b.type === "thinking")
    return { type: "thinking", thinking: b.thinking, signature: b.signature ?? signatureFor(b.thinking) }
  return { type: "tool_use", id: toolId(stream, turnIndex, i), name: b.name, input: b.input }
}

const contentBlocks = (turn: ScriptTurn, stream: string, turnIndex: number): WireBlock[] =>
  turn.blocks.map((b, i) => wireBlock(b, stream, turnIndex, i))

const stopReason = (turn: ScriptTurn): string =>
  turn.blocks.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn"

function streamEvents(turn: ScriptTurn, stream: string, turnIndex: number, id: string, model: string): string[] {
  const events = [
    sse("message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // The real API sends a placeholder output count first and the final one in message_delta.
        usage: apiUsage(turn.usage, Math.min(1, turn.usage.output)),
      },
    }),
  ]
  contentBlocks(turn, stream, turnIndex).forEach((block, index) => {
    if (block.type === "text") {
      events.push(
        sse("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }),
      )
      for (const text of chunks(block.text))
        events.push(
          sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text } }),
        )
    } else if (block.type === "thinking") {
      events.push(
        sse("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "thinking", thinking: "", signature: "" },
        }),
      )
      for (const thinking of chunks(block.thinking))
        events.push(
          sse("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "thinking_delta", thinking },
          }),
        )
      events.push(
        sse("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "signature_delta", signature: block.signature },
        }),
      )
    } else {
      events.push(
        sse("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
        }),
      )
      for (const partial_json of chunks(JSON.stringify(block.input), 16))
        events.push(
          sse("content_block_delta", {
            type: "content_block_delta",
            index,
            delta: { type: "input_json_delta", partial_json },
          }),
        )
    }
    events.push(sse("content_block_stop", { type: "content_block_stop", index }))
  })
  events.push(
    sse("message_delta", {
      type: "message_delta",
      delta: { stop_reason: stopReason(turn), stop_sequence: null },
      usage: apiUsage(turn.usage, turn.usage.output),
    }),
    sse("message_stop", { type: "message_stop" }),
  )
  return events
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const notFound = (message: string) =>
  Response.json({ type: "error", error: { type: "not_found_error", message } }, { status: 404 })

export interface StartFakeAnthropicOptions {
  /** Log each request to stderr (handy when the CLI hangs). */
  readonly verbose?: boolean
  /** Overrides side-request detection (default: a request without tools that matches no agent marker). */
  readonly isSideRequest?: (body: Readonly<Record<string, unknown>>) => boolean
}

export function startFakeAnthropic(script: Script, options: StartFakeAnthropicOptions = {}): FakeAnthropic {
  const requests: RecordedRequest[] = []
  const errors: string[] = []
  const waiters: Array<{ count: number; resolve: () => void }> = []
  let counter = 0
  let mainTurnsAnswered = 0
  const sideText = script.sideText ?? "Scripted session"

  const classify = (body: Record<string, unknown>): { kind: "main" | "agent" | "side"; stream: string } => {
    const messages = messagesOf(body)
    const firstUser = messages.find((m) => m.role === "user")
    const firstText = firstUser ? userText(firstUser) : ""
    for (const agent of script.agents ?? [])
      if (firstText.includes(agent.marker)) return { kind: "agent", stream: agent.marker }
    // Side requests (title generation, topic detection, quota probes) carry no tools.
    const tools = Array.isArray(body.tools) ? body.tools : []
    if (options.isSideRequest ? options.isSideRequest(body) : tools.length === 0)
      return { kind: "side", stream: "side" }
    return { kind: "main", stream: "main" }
  }

  const nextIds = () => {
    counter += 1
    const n = String(counter).padStart(6, "0")
    return { messageId: `msg_01Fake${n}${Math.random().toString(36).slice(2, 10)}`, requestId: `req_011Fake${n}` }
  }

  const handleMessages = async (req: Request, path: string, headers: Record<string, string>): Promise<Response> => {
    const parsed: unknown = await req.json().catch(() => undefined)
    if (!isRecord(parsed)) {
      requests.push({ method: req.method, path, headers, body: parsed, kind: "other" })
      return Response.json(
        { type: "error", error: { type: "invalid_request_error", message: "body must be a JSON object" } },
        { status: 400 },
      )
    }
    const { kind, stream } = classify(parsed)
    const model = typeof parsed.model === "string" ? parsed.model : "claude-sonnet-4-5"
    const turns = kind === "main" ? script.main : (script.agents?.find((a) => a.marker === stream)?.turns ?? [])
    const turnIndex = kind === "side" ? 0 : nextTurnIndex(messagesOf(parsed))
    let turn: ScriptTurn | undefined =
      kind === "side"
        ? { blocks: [{ type: "text", text: sideText }], usage: { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 } }
        : turns[turnIndex]
    if (turn === undefined) {
      errors.push(`script exhausted: stream ${stream} asked for turn ${turnIndex} of ${turns.length}`)
      turn = {
        blocks: [{ type: "text", text: "(script exhausted)" }],
        usage: { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 },
      }
    }
    const { messageId, requestId } = nextIds()
    requests.push({
      method: req.method,
      path,
      headers,
      body: parsed,
      kind,
      stream,
      turn: turnIndex,
      messageId,
      requestId,
    })
    if (options.verbose) console.error(`[fake-anthropic] ${kind} ${stream} turn ${turnIndex} ${messageId}`)
    if (turn.delayMs) await sleep(turn.delayMs)
    const answered = () => {
      if (kind !== "main") return
      mainTurnsAnswered += 1
      for (const w of waiters.filter((w) => w.count <= mainTurnsAnswered)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
    const responseHeaders = {
      "request-id": requestId,
      "anthropic-organization-id": "00000000-0000-4000-8000-fake00000000",
    }
    if (parsed.stream !== true) {
      answered()
      return Response.json(
        {
          id: messageId,
          type: "message",
          role: "assistant",
          model,
          content: contentBlocks(turn, stream, turnIndex),
          stop_reason: stopReason(turn),
          stop_sequence: null,
          usage: apiUsage(turn.usage, turn.usage.output),
        },
        { headers: responseHeaders },
      )
    }
    const events = streamEvents(turn, stream, turnIndex, messageId, model)
    answered()
    const eventDelayMs = turn.eventDelayMs
    const body =
      eventDelayMs === undefined
        ? events.join("")
        : new ReadableStream<Uint8Array>({
            async start(controller) {
              const encoder = new TextEncoder()
              try {
                for (const event of events) {
                  controller.enqueue(encoder.encode(event))
                  await sleep(eventDelayMs)
                }
                controller.close()
              } catch {
                // The client went away mid-answer (an interrupted run): nothing left to send.
              }
            },
          })
    return new Response(body, {
      headers: { ...responseHeaders, "content-type": "text/event-stream", "cache-control": "no-cache" },
    })
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 120,
    fetch: async (req) => {
      const url = new URL(req.url)
      const headers = Object.fromEntries(req.headers)
      const path = url.pathname
      if (req.method === "POST" && path === "/v1/messages") return handleMessages(req, path, headers)
      if (req.method === "POST" && path === "/v1/messages/count_tokens") {
        const text = await req.text()
        requests.push({ method: req.method, path, headers, body: text, kind: "count_tokens" })
        return Response.json({ input_tokens: Math.max(1, Math.ceil(text.length / 4)) })
      }
      requests.push({ method: req.method, path: path + url.search, headers, body: undefined, kind: "other" })
      // Connectivity probe Claude Code sends when non-essential traffic is allowed.
      if (path === "/api/hello") return Response.json({ message: "hello" })
      if (options.verbose) console.error(`[fake-anthropic] unhandled ${req.method} ${path}`)
      return notFound(`${req.method} ${path} is not part of the fake API`)
    },
  })

  const port = server.port ?? 0
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    errors,
    waitForMainTurns: (count, timeoutMs = 30_000) =>
      mainTurnsAnswered >= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error(`only ${mainTurnsAnswered} of ${count} main turns answered`)),
              timeoutMs,
            )
            waiters.push({
              count,
              resolve: () => {
                clearTimeout(timer)
                resolve()
              },
            })
          }),
    stop: async () => {
      await server.stop(true)
    },
  }
}

/** Sum of the usage of every scripted turn (main and agents), i.e. what a correct dedup must report. */
export function scriptTotals(script: Script): TokenUsage {
  const all = [...script.main, ...(script.agents ?? []).flatMap((a) => a.turns)]
  return all.reduce(
    (acc, t) => ({
      input: acc.input + t.usage.input,
      output: acc.output + t.usage.output,
      cacheWrite: acc.cacheWrite + t.usage.cacheWrite,
      cacheRead: acc.cacheRead + t.usage.cacheRead,
    }),
    { input: 0, output: 0, cacheWrite: 0, cacheRead: 0 },
  )
}
