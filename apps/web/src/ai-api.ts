/** The dashboard's local-AI reads (issue #13): hybrid search and the indexer's status. */
import type { Api } from "@overlord/protocol"
import { getJson } from "./api.ts"

export const aiApi = {
  search: (q: string, mode: Api.SearchMode, limit: number, signal?: AbortSignal) =>
    getJson<Api.HybridSearchResult>("/search", { q, mode, limit }, signal),
  status: (signal?: AbortSignal) => getJson<Api.AiStatus>("/ai/status", {}, signal),
}

export const SEARCH_MODES: readonly { readonly mode: Api.SearchMode; readonly label: string }[] = [
  { mode: "hybrid", label: "Words and meaning" },
  { mode: "text", label: "Words only" },
  { mode: "semantic", label: "Meaning only" },
]

export const isSearchMode = (v: string | null): v is Api.SearchMode =>
  v === "hybrid" || v === "text" || v === "semantic"
