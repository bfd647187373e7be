/** Small React hooks shared by pages: async loading, a ticking clock, and live-feed state. */
import { type DependencyList, useEffect, useState } from "react"
import { errorText } from "./format.ts"
import { getLiveClient, type HealthState, type LiveStatus } from "./live.ts"

export type Async<T> =
  | { readonly state: "loading" }
  | { readonly state: "ok"; readonly value: T }
  | { readonly state: "error"; readonly error: string }

export const useAsync = <T>(load: (signal: AbortSignal) => Promise<T>, deps: DependencyList): Async<T> => {
  const [result, setResult] = useState<Async<T>>({ state: "loading" })
  useEffect(() => {
    const ctrl = new AbortController()
    setResult({ state: "loading" })
    load(ctrl.signal).then(
      (value) => !ctrl.signal.aborted && setResult({ state: "ok", value }),
      (e: unknown) => !ctrl.signal.aborted && setResult({ state: "error", error: errorText(e) }),
    )
    return () => ctrl.abort()
    // biome-ignore lint/correctness/useExhaustiveDependencies: callers pass the deps of `load`
  }, deps)
  return result
}

/** Re-renders every `ms` so "x s ago" and the active-session dot stay current. */
export const useNow = (ms = 5000): number => {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms)
    return () => clearInterval(t)
  }, [ms])
  return now
}

export const useLiveStatus = (): LiveStatus => {
  const client = getLiveClient()
  const [status, setStatus] = useState(client.status)
  useEffect(() => client.onStatus(setStatus), [client])
  return status
}

export const useHealth = (): HealthState | null => {
  const client = getLiveClient()
  const [health, setHealth] = useState(client.health)
  useEffect(() => client.onHealth(setHealth), [client])
  return health
}
