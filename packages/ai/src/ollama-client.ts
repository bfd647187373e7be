/**
 * The one way Overlord talks to Ollama: a service over the `ollama` npm client, configured from
 * flags and `OLLAMA_HOST` by `ollamaConfig` (the client itself reads no environment variable), with
 * a timeout on every call and four typed errors that keep their cause:
 * unreachable (nothing answers), model missing (404: not pulled), timeout, bad response (anything
 * else: an error status, a body that is not JSON, a JSON of the wrong shape).
 */
import { isLoopbackHost } from "@overlord/protocol"
import { Context, Data, Duration, Effect, Layer } from "effect"
import { Ollama } from "ollama"

export interface OllamaConfig {
  /** Base URL, e.g. `http://127.0.0.1:11434`. */
  readonly url: string
  /** Generates titles and summaries. */
  readonly chatModel: string
  /** Embeds chunks and queries for semantic search. */
  readonly embedModel: string
  /** Per call; a 3B model on a laptop CPU takes tens of seconds for a title. */
  readonly timeoutMs: number
  /**
   * Ask for shorter embeddings (Ollama's `dimensions`: Matryoshka models such as nomic-embed-text
   * v1.5 are truncated and re-normalised). 256 instead of 768 makes the in-process search index a
   * third of the size (measured in ARCHITECTURE.md); unset: the model's own size.
   */
  readonly embedDimensions?: number | undefined
  /**
   * Plain http:// to another host is on a network that is already encrypted (a WireGuard or Tailscale
   * address, an SSH tunnel's far end): `ollamaInClearWarning` says nothing. `overlord login`'s
   * `--allow-http` for the same thing; here `"allowHttp": true` under `"ollama"` in the config file or
   * `--ollama-allow-http`.
   */
  readonly allowHttp?: boolean | undefined
}

export const DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
export const DEFAULT_CHAT_MODEL = "llama3.2"
export const DEFAULT_EMBED_MODEL = "nomic-embed-text"
export const DEFAULT_OLLAMA_TIMEOUT_MS = 120_000

/** The CLI's flags (`--ollama-url`, `--ollama-chat-model`, `--ollama-embed-model`, `--ollama-allow-http`). */
export interface OllamaFlags {
  readonly ollamaUrl?: string | undefined
  readonly ollamaChatModel?: string | undefined
  readonly ollamaEmbedModel?: string | undefined
  readonly ollamaTimeoutMs?: number | undefined
  readonly ollamaEmbedDimensions?: number | undefined
  readonly ollamaAllowHttp?: boolean | undefined
}

/** Flags first, then `OLLAMA_HOST` (as the `ollama` CLI reads it), then the default. */
export function ollamaConfig(
  flags: OllamaFlags = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): OllamaConfig {
  const raw = flags.ollamaUrl ?? (env.OLLAMA_HOST?.trim() || undefined) ?? DEFAULT_OLLAMA_URL
  return {
    url: normaliseOllamaUrl(raw),
    chatModel: flags.ollamaChatModel ?? DEFAULT_CHAT_MODEL,
    embedModel: flags.ollamaEmbedModel ?? DEFAULT_EMBED_MODEL,
    timeoutMs: flags.ollamaTimeoutMs ?? DEFAULT_OLLAMA_TIMEOUT_MS,
    embedDimensions: flags.ollamaEmbedDimensions,
    ...(flags.ollamaAllowHttp ? { allowHttp: true } : {}),
  }
}

/**
 * `OLLAMA_HOST` is often written the way the server binds it: `0.0.0.0`, `:11434`, `host:port`
 * without a scheme. A bind-all address is reached on loopback; the port defaults to Ollama's 11434.
 */
export function normaliseOllamaUrl(raw: string): string {
  let text = raw.trim()
  if (text.startsWith(":")) text = `127.0.0.1${text}`
  const explicitScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
  const url = new URL(explicitScheme ? text : `http://${text}`)
  if (url.hostname === "0.0.0.0" || url.hostname === "[::]") url.hostname = "127.0.0.1"
  if (url.port === "" && !explicitScheme) url.port = "11434"
  return url.toString().replace(/\/+$/, "")
}

/**
 * The warning for an Ollama on another host over plain http://: every transcript the indexer digests
 * (titles, embeddings) then crosses the network unencrypted. `overlord login` refuses plain http:// to
 * another host without `--allow-http`; Ollama is optional and often on a trusted box, so this only
 * warns (status, doctor, the log, the AI status). Null for https://, for loopback, and with
 * `allowHttp` (the user said the network is encrypted, as `overlord login --allow-http`).
 */
export function ollamaInClearWarning(
  url: string,
  options: { readonly allowHttp?: boolean | undefined } = {},
): string | null {
  if (options.allowHttp) return null
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  if (parsed.protocol !== "http:" || isLoopbackHost(parsed.hostname)) return null
  return `Ollama at ${parsed.origin} is plain http:// on another host: session transcripts sent to it for titles and search cross the network unencrypted. Use an https:// address (a TLS proxy in front of Ollama) or an Ollama on this machine, unless the network is already encrypted (a VPN such as WireGuard or Tailscale, an SSH tunnel): then set "allowHttp": true beside "url" under "ollama" in ~/.overlord/config.json (or start with --ollama-allow-http) and this warning goes`
}

/** Ollama names a model without a tag `<name>:latest`; compare names after this. */
export function fullModelName(name: string): string {
  return name.includes(":") ? name : `${name}:latest`
}

export class OllamaUnreachable extends Data.TaggedError("OllamaUnreachable")<{
  readonly url: string
  readonly message: string
  readonly cause: unknown
}> {}

export class OllamaModelMissing extends Data.TaggedError("OllamaModelMissing")<{
  readonly model: string
  readonly message: string
  readonly cause: unknown
}> {}

export class OllamaTimeout extends Data.TaggedError("OllamaTimeout")<{
  readonly operation: string
  readonly timeoutMs: number
  readonly message: string
}> {}

export class OllamaBadResponse extends Data.TaggedError("OllamaBadResponse")<{
  readonly operation: string
  readonly message: string
  readonly cause: unknown
}> {}

export type OllamaError = OllamaUnreachable | OllamaModelMissing | OllamaTimeout | OllamaBadResponse

/** True for errors that say Ollama as a whole is unusable right now (back off), not one request. */
export const isOutage = (error: OllamaError): boolean =>
  error._tag === "OllamaUnreachable" || error._tag === "OllamaTimeout" || error._tag === "OllamaModelMissing"

export type OllamaHealth =
  | {
      readonly _tag: "Ready"
      readonly url: string
      readonly version: string
      readonly models: readonly string[]
    }
  | {
      readonly _tag: "ModelsMissing"
      readonly url: string
      readonly version: string
      readonly models: readonly string[]
      readonly missing: readonly string[]
    }
  | { readonly _tag: "Unavailable"; readonly url: string; readonly error: OllamaError }

/** One sentence for `overlord doctor` and the dashboard ("semantic features are off because ..."). */
export function describeOllamaHealth(health: OllamaHealth): string {
  switch (health._tag) {
    case "Ready":
      return `Ollama ${health.version} at ${health.url} is ready.`
    case "ModelsMissing":
      return `Ollama ${health.version} at ${health.url} lacks ${health.missing.join(" and ")}: run ${health.missing
        .map((m) => `\`ollama pull ${m}\``)
        .join(" and ")}.`
    case "Unavailable":
      switch (health.error._tag) {
        case "OllamaUnreachable":
          return `Ollama is not reachable at ${health.url} (is it running? set --ollama-url or OLLAMA_HOST).`
        case "OllamaTimeout":
          return `Ollama at ${health.url} did not answer within ${health.error.timeoutMs} ms.`
        case "OllamaModelMissing":
          return `Ollama at ${health.url} lacks the model ${health.error.model}.`
        case "OllamaBadResponse":
          return `Ollama at ${health.url} answered something unexpected: ${health.error.message}`
      }
  }
}

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

export interface OllamaClientShape {
  readonly config: OllamaConfig
  /** Reachable? Which version, which models are pulled. Never fails: problems are a state. */
  readonly health: Effect.Effect<OllamaHealth>
  /** One non-streamed chat completion with the chat model; `format`: `"json"` or a JSON schema. */
  readonly chat: (
    messages: readonly ChatMessage[],
    options?: { readonly format?: string | object; readonly temperature?: number },
  ) => Effect.Effect<string, OllamaError>
  /** One vector per text, with the embedding model, in order. */
  readonly embed: (texts: readonly string[]) => Effect.Effect<Float32Array[], OllamaError>
}

export class OllamaClient extends Context.Service<OllamaClient, OllamaClientShape>()("@overlord/ai/OllamaClient") {}

/** A response of the wrong shape, as found by a call's check. */
class Problem {
  constructor(readonly message: string) {}
}
const problem = (message: string) => new Problem(message)

/** Thrown by our fetch when no HTTP answer came at all: the one sign of "unreachable". */
class FetchFailed {
  constructor(readonly cause: unknown) {}
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

export function makeOllamaClient(config: OllamaConfig): OllamaClientShape {
  const { url, timeoutMs } = config

  /** A client whose requests abort with `signal` (the client takes no signal for unstreamed calls). */
  const clientFor = (signal: AbortSignal): Ollama => {
    const abortable = (input: string | URL | Request, init?: RequestInit) =>
      fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, signal]) : signal }).catch(
        (cause: unknown) => {
          throw new FetchFailed(cause)
        },
      )
    return new Ollama({ host: url, fetch: Object.assign(abortable, { preconnect: fetch.preconnect }) })
  }

  const classify = (operation: string, model: string | null, cause: unknown): OllamaError => {
    if (cause instanceof FetchFailed) {
      return new OllamaUnreachable({ url, message: `nothing answers at ${url}`, cause: cause.cause })
    }
    // The client's `ResponseError` (not exported) carries the HTTP status as `status_code`.
    const status =
      isRecord(cause) || cause instanceof Error ? (cause as { status_code?: unknown }).status_code : undefined
    if (status === 404 && model !== null) {
      return new OllamaModelMissing({ model, message: `model ${model} is not pulled`, cause })
    }
    const what =
      typeof status === "number" ? `status ${status}` : cause instanceof SyntaxError ? "invalid JSON" : "error"
    return new OllamaBadResponse({ operation, message: `${operation}: ${what}`, cause })
  }

  const call = <A>(
    operation: string,
    model: string | null,
    run: (client: Ollama) => Promise<unknown>,
    check: (response: unknown) => A | Problem,
  ): Effect.Effect<A, OllamaError> =>
    Effect.tryPromise({
      try: (signal) => run(clientFor(signal)),
      catch: (cause) => classify(operation, model, cause),
    }).pipe(
      // On timeout the call's fiber is interrupted, which aborts its fetch.
      Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMs),
        orElse: () =>
          Effect.fail(new OllamaTimeout({ operation, timeoutMs, message: `${operation} took over ${timeoutMs} ms` })),
      }),
      Effect.flatMap((response) => {
        const checked = check(response)
        return checked instanceof Problem
          ? Effect.fail(
              new OllamaBadResponse({ operation, message: `${operation}: ${checked.message}`, cause: { response } }),
            )
          : Effect.succeed(checked)
      }),
      Effect.withSpan(`Ollama.${operation}`),
    )

  const version = call(
    "version",
    null,
    (c) => c.version(),
    (r) => (isRecord(r) && typeof r.version === "string" ? r.version : problem("no version in the answer")),
  )
  const listModels = call(
    "list",
    null,
    (c) => c.list(),
    (r): readonly string[] | Problem =>
      isRecord(r) && Array.isArray(r.models) && r.models.every((m) => isRecord(m) && typeof m.name === "string")
        ? r.models.map((m) => (m as { name: string }).name)
        : problem("no model list in the answer"),
  )

  const health: Effect.Effect<OllamaHealth> = Effect.gen(function* () {
    const v = yield* version
    const models = yield* listModels
    const pulled = new Set(models.map(fullModelName))
    const missing = [config.chatModel, config.embedModel].filter((m) => !pulled.has(fullModelName(m)))
    return missing.length === 0
      ? ({ _tag: "Ready", url, version: v, models } as const)
      : ({ _tag: "ModelsMissing", url, version: v, models, missing } as const)
  }).pipe(Effect.catch((error) => Effect.succeed({ _tag: "Unavailable", url, error } as const)))

  const chat: OllamaClientShape["chat"] = (messages, options = {}) =>
    call(
      "chat",
      config.chatModel,
      (c) =>
        c.chat({
          model: config.chatModel,
          messages: messages.map((m) => ({ role: m.role, content: m.content })),
          stream: false,
          ...(options.format === undefined ? {} : { format: options.format }),
          options: { temperature: options.temperature ?? 0.2 },
        }),
      (r) =>
        isRecord(r) && isRecord(r.message) && typeof r.message.content === "string"
          ? r.message.content
          : problem("no message in the answer"),
    )

  const embed: OllamaClientShape["embed"] = (texts) =>
    texts.length === 0
      ? Effect.succeed([])
      : call(
          "embed",
          config.embedModel,
          (c) =>
            c.embed({
              model: config.embedModel,
              input: [...texts],
              ...(config.embedDimensions === undefined ? {} : { dimensions: config.embedDimensions }),
            }),
          (r): Float32Array[] | Problem => {
            if (!isRecord(r) || !Array.isArray(r.embeddings)) return problem("no embeddings in the answer")
            if (r.embeddings.length !== texts.length) {
              return problem(`${r.embeddings.length} embeddings for ${texts.length} inputs`)
            }
            const out: Float32Array[] = []
            let dims = -1
            for (const e of r.embeddings) {
              if (!Array.isArray(e) || e.length === 0 || !e.every((x) => typeof x === "number" && Number.isFinite(x))) {
                return problem("an embedding is not a list of numbers")
              }
              if (dims >= 0 && e.length !== dims) return problem("embeddings of different lengths")
              dims = e.length
              out.push(Float32Array.from(e as number[]))
            }
            return out
          },
        )

  return { config, health, chat, embed }
}

export const layer = (config: OllamaConfig): Layer.Layer<OllamaClient> =>
  Layer.succeed(OllamaClient, makeOllamaClient(config))
