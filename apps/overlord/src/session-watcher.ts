/**
 * Finding session files: one scan at start (for the backfill, newest first) and chokidar for
 * everything after, including folders created later. Symlinks are not followed, so a symlink loop
 * cannot trap the scan; unreadable folders are reported and skipped.
 */
import { type FSWatcher, mkdirSync, realpathSync, watch as watchFile } from "node:fs"
import { lstat, readdir, stat } from "node:fs/promises"
import { join, relative, sep } from "node:path"
import { isSessionFileKey } from "@overlord/transcript"
import { watch } from "chokidar"
import type { Logger } from "./logger.ts"
import type { SyncEngine } from "./sync-engine.ts"

export interface WatchOptions {
  readonly projectsDir: string
  readonly engine: SyncEngine
  readonly log: Logger
  readonly warn: (message: string) => void
}

export interface SessionWatcher {
  close(): Promise<void>
}

const toKey = (root: string, path: string) => relative(root, path).split(sep).join("/")

const ACTIVE_QUIET_MS = 60_000
const ACTIVE_MAX = 256

/**
 * chokidar passes on at most one change per file every 50 ms, which would put up to 50 ms on every
 * live append. Files being written right now also get a direct inotify watch (`fs.watch`), which
 * reports each append at once; it is closed after a minute of quiet, so idle costs nothing.
 */
class ActiveFiles {
  private readonly watchers = new Map<string, { watcher: FSWatcher; lastEventAt: number }>()
  private readonly sweeper: ReturnType<typeof setInterval>

  constructor(private readonly onAppend: (key: string, path: string) => void) {
    this.sweeper = setInterval(() => this.sweep(), ACTIVE_QUIET_MS / 2)
    this.sweeper.unref?.()
  }

  touch(key: string, path: string): void {
    const existing = this.watchers.get(key)
    if (existing) {
      existing.lastEventAt = Date.now()
      return
    }
    if (this.watchers.size >= ACTIVE_MAX) return
    try {
      const watcher = watchFile(path, { persistent: false }, (event) => {
        const entry = this.watchers.get(key)
        if (entry) entry.lastEventAt = Date.now()
        // A rename means the path now names another file: chokidar reports that; stop watching this one.
        if (event === "rename") this.forget(key)
        else this.onAppend(key, path)
      })
      watcher.on("error", () => this.forget(key))
      this.watchers.set(key, { watcher, lastEventAt: Date.now() })
    } catch {
      // Gone already, or out of inotify watches: chokidar still reports changes, 50 ms slower.
    }
  }

  forget(key: string): void {
    this.watchers.get(key)?.watcher.close()
    this.watchers.delete(key)
  }

  private sweep(): void {
    const cutoff = Date.now() - ACTIVE_QUIET_MS
    for (const [key, entry] of this.watchers) if (entry.lastEventAt < cutoff) this.forget(key)
  }

  close(): void {
    clearInterval(this.sweeper)
    for (const key of [...this.watchers.keys()]) this.forget(key)
  }
}

export async function watchSessions(options: WatchOptions): Promise<SessionWatcher> {
  mkdirSync(options.projectsDir, { recursive: true, mode: 0o700 })
  const root = realpathSync(options.projectsDir)
  const { engine, warn } = options

  const watcher = watch(root, {
    ignoreInitial: true,
    followSymlinks: false,
    persistent: true,
    ignored: (path, stats) => stats?.isFile() === true && !path.endsWith(".jsonl"),
  })
  const active = new ActiveFiles((key, path) => void engine.changed(key, path))
  const onFile = (path: string) => {
    const key = toKey(root, path)
    if (!isSessionFileKey(key)) return
    active.touch(key, path)
    void engine.changed(key, path)
  }
  watcher.on("add", onFile)
  watcher.on("change", onFile)
  watcher.on("unlink", (path) => {
    const key = toKey(root, path)
    active.forget(key)
    engine.removed(key)
  })
  watcher.on("error", (error) => warn(`watching ${root}: ${error instanceof Error ? error.message : String(error)}`))
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()))

  const found: { key: string; path: string; mtimeMs: number }[] = []
  const scan = async (dir: string): Promise<void> => {
    let entries: import("node:fs").Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      warn(`cannot read ${dir}: ${code === "EACCES" ? "permission denied" : String(error)}; its sessions are skipped`)
      return
    }
    for (const entry of entries) {
      const path = join(dir, entry.name)
      if (entry.isSymbolicLink()) {
        const target = await stat(path).catch(() => null)
        if (target?.isDirectory()) options.log.info(`not following symlinked folder ${path}`)
        continue
      }
      if (entry.isDirectory()) await scan(path)
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) {
        const key = toKey(root, path)
        if (!isSessionFileKey(key)) continue
        const s = await lstat(path).catch(() => null)
        if (s) found.push({ key, path, mtimeMs: s.mtimeMs })
      }
    }
  }
  await scan(root)
  found.sort((a, b) => b.mtimeMs - a.mtimeMs)
  for (const f of found) await engine.addBackfill(f.key, f.path)
  options.log.info(`found ${found.length} session files under ${root}`)

  return {
    close: async () => {
      active.close()
      await watcher.close()
    },
  }
}
