/**
 * The local-AI routes of the read API (issue #13), kept apart from `http-api.ts`:
 * `GET /api/v1/search?mode=hybrid|text|semantic` (with `project`, `machine`, `from`, `to`, `limit`),
 * `GET /api/v1/ai/status`, and the generated titles added to session lists and details.
 * `/search` without `mode` keeps answering the plain full-text `SearchResult`.
 */
import { Api } from "@overlord/protocol"
import type { Actor, AiSessionFilter } from "@overlord/store"
import { Schema } from "effect"
import type { AiService } from "./ai-service.ts"

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } })
const badRequest = (message: string) => json({ error: { code: "bad_request", message } } satisfies Api.ApiError, 400)

const isMode = Schema.is(Api.SearchMode)
const MAX_LIMIT = 100

/** Why semantic features are off on a server started without an indexer. */
export const AI_DISABLED_REASON =
  "semantic features are off: this server runs without Ollama (start it with --ollama-url, or set ollama.url in the config file)"

/** The AI routes' response, or null when `path` is not one of them (or `/search` without `mode`). */
export async function routeAi(
  ai: AiService | undefined,
  actor: Actor,
  path: string,
  url: URL,
  textSearch: (q: string, limit: number) => Promise<Api.SearchResult>,
): Promise<Response | null> {
  if (path === "/ai/status") return json(ai ? await ai.status(actor) : disabledStatus())
  if (path !== "/search" || !url.searchParams.has("mode")) return null
  const mode = url.searchParams.get("mode")
  if (!isMode(mode)) return badRequest("mode must be hybrid, text or semantic")
  const q = url.searchParams.get("q") ?? ""
  if (q.trim() === "") return badRequest("q is required")
  if (q.length > 256) return badRequest("q is longer than 256 characters")
  const limitText = url.searchParams.get("limit")
  if (limitText !== null && !/^\d{1,4}$/.test(limitText)) return badRequest("limit must be a non-negative integer")
  const limit = Math.min(Math.max(Number(limitText ?? 20), 1), MAX_LIMIT)
  const filter: { -readonly [K in keyof AiSessionFilter]: AiSessionFilter[K] } = {}
  for (const [name, max] of [
    ["project", 1024],
    ["machine", 128],
    ["from", 40],
    ["to", 40],
  ] as const) {
    const v = url.searchParams.get(name)
    if (v === null || v === "") continue
    if (v.length > max) return badRequest(`${name} is longer than ${max} characters`)
    if ((name === "from" || name === "to") && Number.isNaN(Date.parse(v))) {
      return badRequest(`${name} must be an ISO date`)
    }
    filter[name] = v
  }
  if (ai) return json(await ai.search(actor, { q, mode, filter, limit }))
  // Without an indexer: full text, with the same shape and the reason meaning was not used.
  const text = await textSearch(q, limit)
  const result: Api.HybridSearchResult = {
    mode: "text",
    hits: text.hits.map((h) => ({ ...h, machineId: null, projectDir: null, matched: ["text"] })),
    indexLag: text.indexLag,
    semantic: { available: false, reason: AI_DISABLED_REASON },
  }
  return json(result)
}

export async function listWithGeneratedTitles(
  ai: AiService | undefined,
  actor: Actor,
  list: Api.SessionList,
): Promise<Api.SessionList> {
  return ai ? { ...list, sessions: await ai.withGeneratedTitles(actor, list.sessions) } : list
}

export async function detailWithGeneratedTitle(
  ai: AiService | undefined,
  actor: Actor,
  detail: Api.SessionDetail | null,
): Promise<Api.SessionDetail | null> {
  if (!ai || !detail) return detail
  const [session] = await ai.withGeneratedTitles(actor, [detail.session])
  return { ...detail, session: session ?? detail.session }
}

function disabledStatus(): Api.AiStatus {
  return {
    enabled: false,
    state: "stopped",
    reason: AI_DISABLED_REASON,
    ollamaUrl: "",
    chatModel: "",
    embedModel: "",
    embedDimensions: null,
    sessions: 0,
    titled: 0,
    embeddedSessions: 0,
    chunks: 0,
    vectorsInMemory: 0,
    vectorBytes: 0,
    lastError: null,
    retryAt: null,
  }
}
