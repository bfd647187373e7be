/**
 * The read API under `/api/v1`. A plain `(Request, Actor) => Response` core so tests can call it
 * without opening a port.
 */
import type { Api } from "@overlord/protocol"
import {
  type Actor,
  isRetryable,
  isStoreError,
  type SessionQuery,
  type Interface as StoreApi,
  StoreInputError,
} from "@overlord/store"
import { Effect } from "effect"
import type { AiService } from "./ai-service.ts"
import { detailWithGeneratedTitle, listWithGeneratedTitles, routeAi } from "./http-search.ts"
import { openApiDocument } from "./openapi.ts"
import { searchWithShared } from "./shared-search.ts"

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } })

export const apiError = (status: number, code: string, message: string) =>
  json({ error: { code, message } } satisfies Api.ApiError, status)

/** The only thing an unexpected failure shows a client. */
export const internalError = () => apiError(500, "internal", "internal server error; the server's log has the details")

/** Logs a failure with the request it broke: method and path only (queries can carry tokens). */
export const logRequestFailure = (req: Request, error: unknown) => {
  let path = "?"
  try {
    path = new URL(req.url).pathname
  } catch {
    // Leave "?": the log line still has the error.
  }
  Effect.runFork(Effect.logError(`${req.method} ${path} failed`, error))
}

/** A path (or part of one) with its %-escapes decoded; null when one is malformed (`decodeURIComponent`'s URIError). */
export function decodedPath(path: string): string | null {
  try {
    return decodeURIComponent(path)
  } catch {
    return null
  }
}

class BadRequest extends Error {}

const intParam = (url: URL, name: string): number | undefined => {
  const v = url.searchParams.get(name)
  if (v === null || v === "") return undefined
  if (!/^\d{1,16}$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new BadRequest(`${name} must be a non-negative integer`)
  return Number(v)
}
const strParam = (url: URL, name: string, max = 512): string | undefined => {
  const v = url.searchParams.get(name)
  if (v === null || v === "") return undefined
  if (v.length > max) throw new BadRequest(`${name} is longer than ${max} characters`)
  return v
}
const isoParam = (url: URL, name: string): string | undefined => {
  const v = strParam(url, name, 40)
  if (v !== undefined && Number.isNaN(Date.parse(v))) throw new BadRequest(`${name} must be an ISO date`)
  return v
}
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/

export async function handleApi(
  store: StoreApi,
  actor: Actor,
  req: Request,
  url: URL,
  /** Local AI (issue #13): hybrid search, its status, generated titles (`http-search.ts`). */
  ai?: AiService,
): Promise<Response> {
  if (req.method !== "GET") return apiError(405, "method_not_allowed", "the API is read-only")
  const path = url.pathname.slice("/api/v1".length)
  const run = <A>(e: Effect.Effect<A, unknown>) => Effect.runPromise(e)
  try {
    if (path === "/machines") return json({ machines: await run(store.listMachines(actor)) })
    if (path === "/projects") return json({ projects: await run(store.listProjects(actor)) })
    if (path === "/openapi.json") return json(openApiDocument())
    const aiResponse = await routeAi(ai, actor, path, url, (q, limit) => searchWithShared(store, actor, q, limit))
    if (aiResponse) return aiResponse
    if (path === "/sessions") {
      const query: { -readonly [K in keyof SessionQuery]: SessionQuery[K] } = {}
      const project = strParam(url, "project", 1024)
      const machine = strParam(url, "machine", 128)
      const model = strParam(url, "model", 128)
      const from = isoParam(url, "from")
      const to = isoParam(url, "to")
      const q = strParam(url, "q", 256)
      const cursor = strParam(url, "cursor", 256)
      const limit = intParam(url, "limit")
      if (project) query.project = project
      if (machine) query.machine = machine
      if (model) query.model = model
      if (from) query.from = from
      if (to) query.to = to
      if (q) query.q = q
      if (cursor) query.cursor = cursor
      if (limit !== undefined) query.limit = limit
      if (url.searchParams.get("hasErrors") === "1") query.hasErrors = true
      return json(await listWithGeneratedTitles(ai, actor, await run(store.listSessions(actor, query))))
    }
    if (path === "/search") {
      const q = strParam(url, "q", 256)
      if (!q) throw new BadRequest("q is required")
      // The actor's sessions and those shared with it (marked `sharedBy`).
      return json(await searchWithShared(store, actor, q, intParam(url, "limit") ?? 50))
    }
    if (path === "/usage") {
      const groupBy = url.searchParams.get("groupBy") ?? "day"
      if (groupBy !== "session" && groupBy !== "project" && groupBy !== "day" && groupBy !== "model") {
        throw new BadRequest("groupBy must be session, project, day or model")
      }
      const query: {
        groupBy: Api.UsageGroup
        from?: string
        to?: string
        project?: string
        sessionId?: string
        limit?: number
      } = { groupBy }
      const from = isoParam(url, "from")
      const to = isoParam(url, "to")
      const project = strParam(url, "project", 1024)
      const session = strParam(url, "session", 128)
      if (from) query.from = from
      if (to) query.to = to
      if (project) query.project = project
      if (session) query.sessionId = session
      const limit = intParam(url, "limit")
      if (limit === 0) throw new BadRequest("limit must be at least 1")
      if (limit !== undefined) query.limit = limit
      const report = await run(store.usage(actor, query))
      if (url.searchParams.get("format") === "csv") {
        return new Response(usageCsv(report), {
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "content-disposition": `attachment; filename="overlord-usage-by-${groupBy}.csv"`,
          },
        })
      }
      return json(report)
    }
    const entry = /^\/entries\/(\d{1,15})$/.exec(path)
    if (entry) {
      const found = await run(store.getEntry(actor, Number(entry[1])))
      return found ? json(found) : apiError(404, "not_found", "no such entry")
    }
    const session = /^\/sessions\/([^/]+)(\/entries|\/export)?$/.exec(path)
    if (session) {
      const sessionId = decodedPath(session[1]!)
      if (sessionId === null) throw new BadRequest("the session id has a malformed %-escape")
      if (!SESSION_ID.test(sessionId)) throw new BadRequest("invalid session id")
      if (session[2] === "/entries") {
        const agent = strParam(url, "agent", 128)
        const after = intParam(url, "after")
        const before = intParam(url, "before")
        const limit = intParam(url, "limit")
        const page = await run(
          store.listEntries(actor, sessionId, {
            ...(agent !== undefined ? { agentId: agent } : {}),
            ...(after !== undefined ? { after } : {}),
            ...(before !== undefined ? { before } : {}),
            ...(limit !== undefined ? { limit } : {}),
          }),
        )
        return page ? json(page) : apiError(404, "not_found", "no such session")
      }
      if (session[2] === "/export") {
        let fileKey = strParam(url, "file", 4096)
        if (!fileKey) {
          const detail = await run(store.getSession(actor, sessionId))
          fileKey = detail?.files.find((f) => f.agentId === null)?.fileKey
          if (!fileKey) return apiError(404, "not_found", "no such session")
        }
        const chunks = await run(store.exportFile(actor, sessionId, fileKey))
        if (!chunks) return apiError(404, "not_found", "no such file in this session")
        const iterator = chunks[Symbol.asyncIterator]()
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const next = await iterator.next()
            if (next.done) controller.close()
            else controller.enqueue(next.value)
          },
          async cancel() {
            await iterator.return?.()
          },
        })
        const name = fileKey.split("/").pop() ?? "session.jsonl"
        return new Response(body, {
          headers: {
            "content-type": "application/x-ndjson",
            "content-disposition": `attachment; filename="${name.replace(/[^\w.-]/g, "_")}"`,
          },
        })
      }
      const detail = await detailWithGeneratedTitle(ai, actor, await run(store.getSession(actor, sessionId)))
      return detail ? json(detail) : apiError(404, "not_found", "no such session")
    }
    return apiError(404, "not_found", `no route ${path}`)
  } catch (error) {
    if (error instanceof BadRequest) return apiError(400, "bad_request", error.message)
    if (error instanceof StoreInputError) return apiError(400, "bad_request", error.message)
    logRequestFailure(req, error)
    // The database cannot answer now (unreachable, locked): worth a retry, unlike a failure of ours.
    if (isStoreError(error) && isRetryable(error))
      return apiError(503, "unavailable", "the store is unavailable; retry later")
    return internalError()
  }
}

/**
 * A text cell (a project path, a model, a day): one a spreadsheet would read as a formula (it starts
 * with `=`, `+`, `-`, `@`, a tab or a carriage return; OWASP's "CSV injection") gets a leading `'`, which
 * makes it text; then quoted if it holds a quote, comma or line break. Counts and costs are written as
 * numbers and never pass here, so they stay numeric.
 */
const csvText = (text: string): string => {
  const s = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function usageCsv(report: Api.UsageReport): string {
  const header = [report.groupBy, "input", "output", "cache_write", "cache_read", "cost_usd", "messages"]
  const rows = [...report.rows, report.totals].map((r) =>
    [csvText(r.key), r.input, r.output, r.cacheWrite, r.cacheRead, r.costUsd.toFixed(6), r.messages].join(","),
  )
  return `${header.map(csvText).join(",")}\n${rows.join("\n")}\n`
}
