/**
 * Search over the sessions other users shared with the actor (issue #11 §5), beside the actor's own.
 *
 * A shared session is read as its owner, exactly as the REST routes read it (`http-accounts.ts`): the
 * store is asked as the owner, restricted to the session ids that owner shared with the actor
 * (`SearchStore.search`'s `sessionIds`), so no query ever spans another user's unshared sessions. One
 * extra query per owner who shares with the actor; a share withdrawn is gone from the next search,
 * because the shares are read at each one. A shared session whose id the actor also has a session of
 * (the actor's own comes first on every route) is left out: its hits would open the actor's own.
 */
import type { Api } from "@overlord/protocol"
import type { Actor, Interface as StoreApi } from "@overlord/store"
import { Effect } from "effect"

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> => Effect.runPromise(effect)

/** The store's own bound on one search's hits. */
const MAX_HITS = 200

/** What one owner shared with the actor. */
export interface SharedScope {
  /** Read as this user. */
  readonly owner: Actor
  readonly sharedBy: Api.ShareOwner
  readonly sessionIds: readonly string[]
}

/** The sessions shared with `actor`, grouped by owner (none: an empty list, one indexed read). */
export async function sharedScopes(store: StoreApi, actor: Actor): Promise<SharedScope[]> {
  const byOwner = new Map<number, { sharedBy: Api.ShareOwner; sessionIds: string[] }>()
  for (const s of await run(store.listSharedWithMe(actor))) {
    const scope = byOwner.get(s.owner.userId) ?? { sharedBy: s.owner, sessionIds: [] }
    byOwner.set(s.owner.userId, scope)
    scope.sessionIds.push(s.sessionId)
  }
  return [...byOwner].map(([userId, s]) => ({ owner: { userId }, sharedBy: s.sharedBy, sessionIds: s.sessionIds }))
}

/**
 * Drops shared hits whose session id the actor has a session of its own with (checked per distinct id
 * among the hits, so bounded by the page, not by the number of shares).
 */
export async function withoutOwnIds<H extends { readonly sessionId: string }>(
  store: StoreApi,
  actor: Actor,
  hits: readonly H[],
): Promise<H[]> {
  const own = new Set<string>()
  for (const id of new Set(hits.map((h) => h.sessionId))) {
    if ((await run(store.getSession(actor, id))) !== null) own.add(id)
  }
  return hits.filter((h) => !own.has(h.sessionId))
}

/**
 * Full-text search over the actor's sessions and those shared with it, best first; shared hits carry
 * `sharedBy`. Scores are comparable across the queries: each engine ranks against the whole index
 * (FTS5's bm25, InnoDB's relevance), whichever user's rows a query keeps. `indexLag` is the actor's own.
 */
export async function searchWithShared(
  store: StoreApi,
  actor: Actor,
  q: string,
  limit: number,
): Promise<Api.SearchResult> {
  const own = await run(store.search(actor, q, limit))
  const scopes = await sharedScopes(store, actor)
  if (scopes.length === 0) return own
  const shared: Api.SearchHit[] = []
  for (const scope of scopes) {
    const found = await run(store.search(scope.owner, q, limit, scope.sessionIds))
    for (const h of found.hits) shared.push({ ...h, sharedBy: scope.sharedBy })
  }
  const hits = [...own.hits, ...(await withoutOwnIds(store, actor, shared))]
    .sort((a, b) => b.score - a.score)
    .slice(0, Math.min(Math.max(limit, 1), MAX_HITS))
  return { hits, indexLag: own.indexLag }
}
