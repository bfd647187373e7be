/**
 * REST client for `/api/v1`. Same origin with the session cookie; a 401 is surfaced app-wide so
 * the page can tell the user how to sign in instead of showing a broken view.
 */
import type { Api } from "@overlord/protocol"

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

type AuthListener = () => void
const authListeners = new Set<AuthListener>()
export const onUnauthorized = (fn: AuthListener): (() => void) => {
  authListeners.add(fn)
  return () => authListeners.delete(fn)
}
/** Tells the page it is signed out (a 401 from any request, REST reads or command posts). */
export const notifyUnauthorized = (): void => {
  for (const fn of authListeners) fn()
}

export type Query = Record<string, string | number | boolean | null | undefined>

export const queryString = (params: Query): string => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "" || v === false) continue
    q.set(k, v === true ? "1" : String(v))
  }
  const s = q.toString()
  return s ? `?${s}` : ""
}

export const apiUrl = (path: string, params: Query = {}): string => `/api/v1${path}${queryString(params)}`

export const getJson = async <T>(path: string, params: Query = {}, signal?: AbortSignal): Promise<T> => {
  const res = await fetch(apiUrl(path, params), {
    credentials: "same-origin",
    headers: { accept: "application/json" },
    ...(signal ? { signal } : {}),
  })
  if (res.status === 401) {
    notifyUnauthorized()
    throw new HttpError(401, "Not signed in: open the link printed by `overlord start`.")
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`
    try {
      const body = (await res.json()) as Partial<Api.ApiError>
      if (body.error?.message) message = body.error.message
    } catch {
      // not JSON: keep the status line
    }
    throw new HttpError(res.status, message)
  }
  return (await res.json()) as T
}

/** A page request larger than the store can hold, so `before` means "the last page". */
export const END_SEQ = Number.MAX_SAFE_INTEGER
export const PAGE_SIZE = 500
/** The first screen of a session: enough to fill it and follow the tail; earlier pages load on scroll. */
export const FIRST_PAGE_SIZE = 150

export type SessionFilters = {
  project?: string
  machine?: string
  model?: string
  from?: string
  to?: string
  hasErrors?: boolean
  q?: string
}

export const api = {
  machines: (signal?: AbortSignal) => getJson<{ machines: Api.Machine[] }>("/machines", {}, signal),
  projects: (signal?: AbortSignal) => getJson<{ projects: Api.Project[] }>("/projects", {}, signal),
  sessions: (filters: SessionFilters, cursor: string | null, limit: number, signal?: AbortSignal) =>
    getJson<Api.SessionList>("/sessions", { ...filters, cursor, limit }, signal),
  session: (id: string, signal?: AbortSignal) =>
    getJson<Api.SessionDetail>(`/sessions/${encodeURIComponent(id)}`, {}, signal),
  entries: (
    id: string,
    range: { agent?: string | null; after?: number; before?: number; limit?: number },
    signal?: AbortSignal,
  ) =>
    getJson<Api.EntryPage>(
      `/sessions/${encodeURIComponent(id)}/entries`,
      { agent: range.agent, after: range.after, before: range.before, limit: range.limit ?? PAGE_SIZE },
      signal,
    ),
  entry: (seq: number, signal?: AbortSignal) =>
    getJson<{ sessionId: string; entry: Api.Entry }>(`/entries/${seq}`, {}, signal),
  search: (q: string, limit: number, signal?: AbortSignal) =>
    getJson<Api.SearchResult>("/search", { q, limit }, signal),
  usage: (params: Query, signal?: AbortSignal) => getJson<Api.UsageReport>("/usage", params, signal),
}

export const exportUrl = (sessionId: string, fileKey: string): string =>
  apiUrl(`/sessions/${encodeURIComponent(sessionId)}/export`, { file: fileKey })

/** What a sandbox command changed, as a git patch (`GET /commands/{id}/patch`). */
export const patchUrl = (commandId: string): string => apiUrl(`/commands/${encodeURIComponent(commandId)}/patch`, {})
