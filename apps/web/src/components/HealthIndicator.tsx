/**
 * Header badge: is the live feed connected, are daemons online, is anything waiting to upload.
 * (No "behind the head" count: the store head is global while a tab follows one session, so their
 * difference counts other sessions' entries, not anything this page is missing.)
 */
import { formatAgo, formatBytes } from "../format.ts"
import { useHealth, useLiveStatus, useNow } from "../hooks.ts"

export const HealthIndicator = () => {
  const status = useLiveStatus()
  const health = useHealth()
  const now = useNow()
  const machines = health?.machines ?? []
  const online = machines.filter((m) => m.online).length
  const pending = machines.reduce((sum, m) => sum + m.bytesPending, 0)
  const state = status !== "open" ? "down" : online === 0 ? "idle" : pending > 0 ? "syncing" : "ok"
  const title = [
    `Live feed: ${status}`,
    `Daemons online: ${online}/${machines.length}`,
    ...machines.map((m) => `${m.name}: ${m.online ? "online" : "offline"}, seen ${formatAgo(m.lastSeenAt, now)}`),
    pending > 0 ? `Pending upload: ${formatBytes(pending)}` : "All files in sync",
    health ? `Store head seq ${health.headSeq}` : "",
  ]
    .filter(Boolean)
    .join("\n")
  return (
    <span className={`health health-${state}`} data-testid="health" data-state={state} title={title}>
      <span className="health-dot" />
      {status !== "open"
        ? status === "connecting"
          ? "connecting…"
          : "offline"
        : `${online}/${machines.length} daemon${machines.length === 1 ? "" : "s"}`}
      {pending > 0 && <span className="small"> · {formatBytes(pending)} pending</span>}
    </span>
  )
}
