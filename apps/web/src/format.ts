/** Display formatting shared by every page. */

export const formatInt = (n: number): string => n.toLocaleString("en-US")

/** What a failure says, for the line under a form or in place of a page. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** "1 tool use", "3 tool uses": the count and the word that goes with it. */
export const plural = (n: number, one: string, many: string): string => `${formatInt(n)} ${n === 1 ? one : many}`

/** "1 entry", "2 entries" (a one-line session read "1 entries"). */
export const formatEntries = (n: number): string => plural(n, "entry", "entries")

export const formatTokens = (n: number): string => {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`
  return formatInt(n)
}

/** Under a tenth of a cent reads "<$0.001": "$0.000" beside a priced session read as nothing spent, and as "$0.00" does. */
export const formatCost = (usd: number): string =>
  usd >= 100
    ? `$${usd.toFixed(0)}`
    : usd >= 1
      ? `$${usd.toFixed(2)}`
      : usd === 0
        ? "$0.00"
        : usd < 0.0005
          ? "<$0.001"
          : `$${usd.toFixed(3)}`

export const formatBytes = (n: number): string => {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GB`
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KB`
  return `${n} B`
}

export const formatTime = (iso: string | null | undefined): string => {
  if (!iso) return "–"
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })
}

export const formatClock = (iso: string | null | undefined): string => {
  if (!iso) return ""
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ""
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
}

export const formatAgo = (iso: string | null | undefined, now: number = Date.now()): string => {
  if (!iso) return "never"
  const t = new Date(iso).getTime()
  if (Number.isNaN(t)) return iso
  const s = Math.max(0, Math.round((now - t) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`
  return `${Math.floor(s / 86400)}d ago`
}

export const formatDuration = (ms: number): string => {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`
}

/** A session counts as active while its last entry is under a minute old. */
export const ACTIVE_MS = 60_000
export const isActive = (lastAt: string | null | undefined, now: number = Date.now()): boolean => {
  if (!lastAt) return false
  const t = new Date(lastAt).getTime()
  return !Number.isNaN(t) && now - t < ACTIVE_MS
}

export const shortId = (id: string): string => id.slice(0, 8)

/** What a session with no title is called, in the list and on its own page alike (not its whole id). */
export const untitledLabel = (sessionId: string): string => `untitled ${shortId(sessionId)}`

export const projectLabel = (cwd: string | null, projectDir: string): string => {
  const path = cwd ?? projectDir
  const parts = path.split(/[\\/]/).filter(Boolean)
  return parts.slice(-2).join("/") || path
}

/** A folder name this long is cut in its middle: two folders that share a path mostly differ at one end. */
const FOLDER_HINT_MAX = 40

const folderHint = (projectDir: string): string =>
  projectDir.length <= FOLDER_HINT_MAX ? projectDir : `${projectDir.slice(0, 12)}…${projectDir.slice(-27)}`

/**
 * The project filter's entry for each project folder (`projectDir -> label`): its path, plus its folder
 * name when another folder shows the same path. The list has one entry per folder under `projects/`, and
 * one folder synced from two machines is already one entry (the server groups by folder name: the same
 * path on two laptops is what a user calls one project). Different folders can still report one cwd: a
 * session's cwd is where Claude Code ran, the folder where it was launched (a symlinked or renamed path,
 * `/private/tmp` against `/tmp`; the corpus's claudeless captures, three folders that all say
 * "/tmp/workspace"). They stay separate entries rather than merged, because Claude Code keeps them apart
 * (`claude --resume` lists one folder's sessions) and the filter selects by folder; but three identical
 * "/tmp/workspace" entries that each show different sessions read as a bug, so each names its folder.
 */
export const projectOptionLabels = (
  projects: readonly { readonly projectDir: string; readonly cwd: string | null }[],
): ReadonlyMap<string, string> => {
  const path = (p: { projectDir: string; cwd: string | null }) => p.cwd ?? projectLabel(null, p.projectDir)
  const seen = new Map<string, number>()
  for (const p of projects) seen.set(path(p), (seen.get(path(p)) ?? 0) + 1)
  return new Map(
    projects.map((p) => [
      p.projectDir,
      (seen.get(path(p)) ?? 0) > 1 ? `${path(p)} · folder ${folderHint(p.projectDir)}` : path(p),
    ]),
  )
}
