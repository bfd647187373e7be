/**
 * Session titles for pages that only know session ids (usage by session). Each id is looked up once
 * per page load through `/sessions/:id`, a few at a time, and cached; rows show the id until then.
 */
import { useEffect, useState } from "react"
import { api } from "./api.ts"

const cache = new Map<string, string | null>()
const pending = new Map<string, Promise<void>>()
const queue: (() => void)[] = []
let running = 0
const CONCURRENCY = 4
/** Rows past this many keep the short id: a title is a nicety, not worth hundreds of requests. */
export const TITLE_LOOKUP_LIMIT = 200

const pump = () => {
  while (running < CONCURRENCY && queue.length > 0) {
    running++
    queue.shift()?.()
  }
}

const lookup = (id: string): Promise<void> => {
  const known = pending.get(id)
  if (known) return known
  const p = new Promise<void>((resolve) => {
    queue.push(() => {
      api
        .session(id)
        .then(
          (d) => cache.set(id, d.session.title),
          () => cache.set(id, null),
        )
        .finally(() => {
          running--
          resolve()
          pump()
        })
    })
    pump()
  })
  pending.set(id, p)
  return p
}

/** `sessionId -> title` (null when the session has none); grows as lookups finish. */
export const useSessionTitles = (ids: readonly string[]): ReadonlyMap<string, string | null> => {
  const key = ids.slice(0, TITLE_LOOKUP_LIMIT).join(",")
  const [titles, setTitles] = useState<ReadonlyMap<string, string | null>>(() => new Map(cache))
  useEffect(() => {
    let live = true
    const wanted = key ? key.split(",") : []
    const missing = wanted.filter((id) => !cache.has(id))
    setTitles(new Map(cache))
    for (const id of missing) {
      void lookup(id).then(() => {
        if (live) setTitles(new Map(cache))
      })
    }
    return () => {
      live = false
    }
  }, [key])
  return titles
}
