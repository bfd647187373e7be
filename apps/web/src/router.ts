/** Hash routes, so the server only ever serves `/` and deep links survive reloads. */
import { useEffect, useState } from "react"

export type Route =
  | { readonly name: "overview" }
  | { readonly name: "sessions"; readonly params: URLSearchParams }
  | { readonly name: "session"; readonly sessionId: string; readonly seq: number | null }
  | { readonly name: "search"; readonly q: string }
  | { readonly name: "usage"; readonly params: URLSearchParams }
  | { readonly name: "run"; readonly params: URLSearchParams }
  | { readonly name: "command"; readonly commandId: string }
  | { readonly name: "account"; readonly tab: string | undefined }
  | { readonly name: "notFound"; readonly path: string }

export const parseRoute = (hash: string): Route => {
  const raw = hash.replace(/^#/, "") || "/"
  const [pathPart = "/", queryPart = ""] = raw.split("?", 2)
  const params = new URLSearchParams(queryPart)
  const parts = pathPart.split("/").filter(Boolean)
  if (parts.length === 0) return { name: "overview" }
  if (parts[0] === "sessions" && parts.length === 1) return { name: "sessions", params }
  if (parts[0] === "sessions" && parts.length === 2) {
    const seq = params.get("seq")
    const n = seq !== null && /^\d+$/.test(seq) ? Number(seq) : null
    return { name: "session", sessionId: decodeURIComponent(parts[1] ?? ""), seq: n }
  }
  if (parts[0] === "search") return { name: "search", q: params.get("q") ?? "" }
  if (parts[0] === "usage") return { name: "usage", params }
  if (parts[0] === "run" && parts.length === 1) return { name: "run", params }
  if (parts[0] === "commands" && parts.length === 2)
    return { name: "command", commandId: decodeURIComponent(parts[1] ?? "") }
  if (parts[0] === "account" && parts.length <= 2) return { name: "account", tab: parts[1] }
  return { name: "notFound", path: pathPart }
}

export const sessionHref = (sessionId: string, seq?: number | null): string =>
  `#/sessions/${encodeURIComponent(sessionId)}${seq !== undefined && seq !== null ? `?seq=${seq}` : ""}`

export const commandHref = (commandId: string): string => `#/commands/${encodeURIComponent(commandId)}`

/** The Run panel, preset to a machine, a project (its directory) and a session to continue. */
export const runHref = (preset: {
  machine?: string
  project?: string | null
  resume?: string
  /** Preselects "Daytona sandbox". */
  where?: "sandbox"
}): string =>
  hrefWith("/run", {
    machine: preset.machine,
    project: preset.project ?? undefined,
    resume: preset.resume,
    where: preset.where,
  })

export const hrefWith = (path: string, params: Record<string, string | undefined>): string => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v)
  const s = q.toString()
  return `#${path}${s ? `?${s}` : ""}`
}

export const navigate = (href: string, replace = false): void => {
  if (replace) window.history.replaceState(null, "", href)
  else window.location.hash = href.replace(/^#/, "")
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"))
}

export const useRoute = (): Route => {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash))
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash))
    window.addEventListener("hashchange", onChange)
    return () => window.removeEventListener("hashchange", onChange)
  }, [])
  return route
}
