/**
 * Finding session files: one scan at start (for the backfill, newest first), then one recursive
 * watch on the projects folder for everything after, folders created later included. Symlinks are
 * not followed, so a symlink loop cannot trap the scan; unreadable folders are reported and skipped.
 *
 * Why not chokidar (the stack's first choice, see ARCHITECTURE.md): it keeps a watcher and its state
 * per file, 53 MB of RSS for 5,000 session files, half the daemon's memory budget, and passes on at
 * most one change per file every 50 ms. Bun's recursive `fs.watch` is one inotify watch per folder
 * (2 MB for the same tree) and reports every append at once. What a watch can miss (events lost to
 * a queue overflow, files created in a new folder before its watch exists) a rescan finds: of a new
 * folder at once, of the whole tree every few minutes and after a watcher error. Files written in the
 * last minute are also stat'ed every second: under load a watch event was seen to go missing (the
 * last line Claude Code writes as it exits), and nothing else would have brought that line.
 */
import { type FSWatcher, mkdirSync, realpathSync, type Stats, watch } from "node:fs"
import { lstat, readdir, stat } from "node:fs/promises"
import { join, relative, sep } from "node:path"
import { isSessionFileKey } from "@overlord/transcript"
import type { Logger } from "./logger.ts"
import type { SyncEngine } from "./sync-engine.ts"

export interface WatchOptions {
  readonly projectsDir: string
  readonly engine: SyncEngine
  readonly log: Logger
  readonly warn: (message: string) => void
  /** How often the whole tree is rescanned for anything the watch missed. */
  readonly rescanEveryMs?: number
  /** How often files written in the last minute are stat'ed. */
  readonly activePollMs?: number
}

export interface SessionWatcher {
  close(): Promise<void>
}

const toKey = (root: string, path: string) => relative(root, path).split(sep).join("/")
const RESCAN_EVERY_MS = 5 * 60_000
const REWATCH_AFTER_MS = 1_000
const ACTIVE_POLL_MS = 1_000
const ACTIVE_QUIET_MS = 60_000

/**
 * Files with a recent event, stat'ed every second until a minute passes without change; a size or
 * mtime no event told of is passed on as an append. With nothing active the timer is off.
 */
export class ActiveFiles {
  private readonly files = new Map<string, { path: string; lastChangeAt: number; seen: string }>()
  private timer: ReturnType<typeof setInterval> | null = null
  private polling = false

  constructor(
    private readonly onMissed: (key: string, path: string) => void,
    private readonly pollMs: number,
  ) {}

  touch(key: string, path: string): void {
    const entry = this.files.get(key)
    if (entry) entry.lastChangeAt = Date.now()
    else this.files.set(key, { path, lastChangeAt: Date.now(), seen: "" })
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.pollMs)
      this.timer.unref?.()
    }
  }

  forget(key: string): void {
    this.files.delete(key)
  }

  private async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      const now = Date.now()
      for (const [key, entry] of [...this.files]) {
        if (now - entry.lastChangeAt > ACTIVE_QUIET_MS) {
          this.files.delete(key)
          continue
        }
        const s = await stat(entry.path).catch(() => null)
        if (!s || this.files.get(key) !== entry) continue
        const seen = `${s.size}:${s.mtimeMs}:${s.ino}`
        if (seen === entry.seen) continue
        // The first look too: a write may already have followed the event that made the file active.
        // A size the engine knows already costs it one stat.
        if (entry.seen !== "") entry.lastChangeAt = now
        entry.seen = seen
        this.onMissed(key, entry.path)
      }
      if (this.files.size === 0) this.close()
    } finally {
      this.polling = false
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}

interface Found {
  readonly key: string
  readonly path: string
}

export async function watchSessions(options: WatchOptions): Promise<SessionWatcher> {
  mkdirSync(options.projectsDir, { recursive: true, mode: 0o700 })
  const root = realpathSync(options.projectsDir)
  const { engine, warn, log } = options
  let closed = false
  const active = new ActiveFiles((key, path) => void engine.changed(key, path), options.activePollMs ?? ACTIVE_POLL_MS)

  const scan = async (dir: string, into: Found[]): Promise<void> => {
    let entries: import("node:fs").Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === "ENOENT") return
      warn(`cannot read ${dir}: ${code === "EACCES" ? "permission denied" : String(error)}; its sessions are skipped`)
      return
    }
    for (const entry of entries) {
      const path = join(dir, entry.name)
      if (entry.isSymbolicLink()) {
        const target = await stat(path).catch(() => null)
        if (target?.isDirectory()) log.info(`not following symlinked folder ${path}`)
        continue
      }
      if (entry.isDirectory()) await scan(path, into)
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) {
        const key = toKey(root, path)
        if (isSessionFileKey(key)) into.push({ key, path })
      }
    }
  }

  /** Whatever a rescan finds: new files backfill, files that changed unseen sync now. */
  const rescan = async (dir: string) => {
    const found: Found[] = []
    await scan(dir, found)
    for (const f of found) if (!closed) await engine.recheck(f.key, f.path)
  }

  const onEvent = async (event: string, name: string | null) => {
    if (closed) return
    // No name: the kernel dropped events (queue overflow); only a rescan can tell what happened.
    if (name === null) return void rescan(root).catch(() => undefined)
    const path = join(root, name)
    const key = toKey(root, path)
    if (key.endsWith(".jsonl")) {
      if (!isSessionFileKey(key)) return
      if (event === "change") {
        active.touch(key, path)
        return void engine.changed(key, path)
      }
      // A rename is a create, a delete or a move: the path tells which.
      const s: Stats | null = await lstat(path).catch(() => null)
      if (s?.isFile()) {
        active.touch(key, path)
        return void engine.changed(key, path)
      }
      if (!s) {
        active.forget(key)
        engine.removed(key)
      }
      return
    }
    if (event !== "rename") return
    // A new folder: its files may have been written before the watch on it existed.
    const s = await lstat(path).catch(() => null)
    if (s?.isDirectory()) void rescan(path).catch(() => undefined)
  }

  // One event at a time, in order: a delete seen after the re-create that followed it would
  // otherwise stop a live file from syncing.
  let events: Promise<void> = Promise.resolve()
  let watcher: FSWatcher | null = null
  let rewatchTimer: ReturnType<typeof setTimeout> | null = null
  const startWatching = () => {
    try {
      const w = watch(root, { recursive: true, persistent: true }, (event, name) => {
        const file = typeof name === "string" ? name : name === null ? null : String(name)
        events = events
          .then(() => onEvent(event, file))
          .catch((error) =>
            warn(`handling a change under ${root}: ${error instanceof Error ? error.message : String(error)}`),
          )
      })
      w.on("error", (error) => {
        warn(`watching ${root}: ${error instanceof Error ? error.message : String(error)}; watching again`)
        w.close()
        if (watcher === w) watcher = null
        scheduleRewatch()
      })
      watcher = w
    } catch (error) {
      warn(`cannot watch ${root}: ${error instanceof Error ? error.message : String(error)}; retrying`)
      scheduleRewatch()
    }
  }
  const scheduleRewatch = () => {
    if (closed || rewatchTimer) return
    rewatchTimer = setTimeout(() => {
      rewatchTimer = null
      if (closed) return
      startWatching()
      // Whatever happened while nothing watched.
      void rescan(root).catch(() => undefined)
    }, REWATCH_AFTER_MS)
  }

  // Watch before the scan, so a file created during the scan is seen by one or the other.
  startWatching()
  const found: Found[] = []
  await scan(root, found)
  // Newest first. Only this first scan needs the times; a rescan leaves the stat to the engine.
  const newest = await Promise.all(
    found.map(async (f) => ({ ...f, mtimeMs: (await lstat(f.path).catch(() => null))?.mtimeMs ?? 0 })),
  )
  newest.sort((a, b) => b.mtimeMs - a.mtimeMs)
  for (const f of newest) await engine.addBackfill(f.key, f.path)
  log.info(`found ${found.length} session files under ${root}`)

  const rescanTimer = setInterval(
    () => void rescan(root).catch(() => undefined),
    options.rescanEveryMs ?? RESCAN_EVERY_MS,
  )
  rescanTimer.unref?.()

  return {
    close: async () => {
      closed = true
      active.close()
      clearInterval(rescanTimer)
      if (rewatchTimer) clearTimeout(rewatchTimer)
      watcher?.close()
    },
  }
}
