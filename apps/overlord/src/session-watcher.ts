/**
 * Finding session files: one scan at start (for the backfill, newest first), then one recursive
 * watch on the projects folder for everything after, folders created later included. Symlinks are
 * not followed, so a symlink loop cannot trap the scan (a linked project folder or session file is
 * warned about once); unreadable folders are reported and skipped.
 *
 * Why not chokidar (the stack's first choice, see ARCHITECTURE.md): it keeps a watcher and its state
 * per file, 53 MB of RSS for 5,000 session files, half the daemon's memory budget, and passes on at
 * most one change per file every 50 ms. Bun's recursive `fs.watch` is one inotify watch per folder
 * (2 MB for the same tree) and reports every append at once. What a watch can miss (events lost to
 * a queue overflow, files created in a new folder before its watch exists) a rescan finds: of a new
 * folder at once, of the whole tree every few minutes and after the watch itself failed. A folder
 * that cannot be read or watched is retried on its own, later each time (issue #14: one such folder
 * used to restart the whole watch and rescan the whole tree every second). Files written in the
 * last minute are also stat'ed every second: under load a watch event was seen to go missing (the
 * last line Claude Code writes as it exits), and nothing else would have brought that line.
 */
import { type FSWatcher, mkdirSync, realpathSync, type Stats, watch } from "node:fs"
import { lstat, readdir, realpath, stat } from "node:fs/promises"
import { constants } from "node:os"
import { join, relative, sep } from "node:path"
import { isSessionFileKey } from "@overlord/transcript"
import { statFile } from "./file-reader.ts"
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
  /** First retry of a folder that cannot be read or watched; each next one waits twice as long. */
  readonly unreadableRetryMs?: number
}

export interface SessionWatcher {
  close(): Promise<void>
}

const toKey = (root: string, path: string) => relative(root, path).split(sep).join("/")
const RESCAN_EVERY_MS = 5 * 60_000
const REWATCH_AFTER_MS = 1_000
const UNREADABLE_RETRY_MS = 1_000
/** The longest wait between two tries of an unreadable folder, or of a watch that keeps failing. */
const RETRY_MAX_MS = 5 * 60_000

/**
 * What kind of failure, to tell "the same again" (silent) from a change (warned). Bun reports a
 * folder it may not watch with code EPERM but errno -13 (EACCES), the same errno as the folder's
 * failed readdir: the errno is the kind.
 */
const failureKind = (error: unknown): string => {
  const e = error as NodeJS.ErrnoException
  if (typeof e?.errno === "number") return `errno ${Math.abs(e.errno)}`
  return e?.code ?? "unknown"
}
const describeFailure = (error: unknown): string => {
  const e = error as NodeJS.ErrnoException
  if (e?.code === "EACCES" || (typeof e?.errno === "number" && Math.abs(e.errno) === constants.errno.EACCES))
    return "permission denied"
  return error instanceof Error ? error.message : String(error)
}

/** A folder that could not be read or watched, waiting for its next try. */
interface Unreadable {
  /** Tries so far: the next waits `first * 2 ** attempt`, at most `RETRY_MAX_MS`. */
  attempt: number
  kind: string
  timer: ReturnType<typeof setTimeout> | null
  /** When a try found it readable again (then `timer` is null), to back off if it fails again soon. */
  readableSince: number | null
}
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
  const firstRetryMs = options.unreadableRetryMs ?? UNREADABLE_RETRY_MS
  const unreadable = new Map<string, Unreadable>()
  const active = new ActiveFiles((key, path) => void engine.changed(key, path), options.activePollMs ?? ACTIVE_POLL_MS)

  /**
   * `dir` could not be read, or the watch could not watch it: its sessions wait, it is warned about
   * once (again only if the failure changes), and it alone is tried again, later each time.
   */
  const cannotRead = (dir: string, error: unknown): void => {
    if (closed) return
    const kind = failureKind(error)
    const known = unreadable.get(dir)
    if (known?.timer) {
      // Waiting already (the scan and the watch both report it): only a different failure is news.
      if (known.kind !== kind) {
        known.kind = kind
        warn(`cannot read ${dir}: ${describeFailure(error)}; its sessions are skipped until it can be read`)
      }
      return
    }
    // Failing again soon after it was readable: keep backing off rather than start over, so a folder
    // that reads but cannot be watched is not retried (and the tree watched again) every second.
    const recent = known?.readableSince != null && Date.now() - known.readableSince < RETRY_MAX_MS
    const u: Unreadable = { attempt: recent ? known!.attempt + 1 : 0, kind, timer: null, readableSince: null }
    unreadable.set(dir, u)
    if (!recent || known!.kind !== kind)
      warn(`cannot read ${dir}: ${describeFailure(error)}; its sessions are skipped until it can be read`)
    scheduleRetry(dir, u, error)
  }

  const scheduleRetry = (dir: string, u: Unreadable, error: unknown): void => {
    const delay = Math.min(RETRY_MAX_MS, firstRetryMs * 2 ** u.attempt)
    log.info(`cannot read ${dir} (${describeFailure(error)}); next try in ${delay} ms`)
    u.timer = setTimeout(() => void retryUnreadable(dir, u), delay)
    u.timer.unref?.()
  }

  const retryUnreadable = async (dir: string, u: Unreadable): Promise<void> => {
    u.timer = null
    if (closed || unreadable.get(dir) !== u) return
    try {
      await readdir(dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        unreadable.delete(dir)
        return
      }
      const kind = failureKind(error)
      if (kind !== u.kind) {
        u.kind = kind
        warn(`cannot read ${dir}: ${describeFailure(error)}; its sessions are skipped until it can be read`)
      }
      u.attempt += 1
      scheduleRetry(dir, u, error)
      return
    }
    u.readableSince = Date.now()
    log.info(`${dir} can be read again: scanning and watching it`)
    // The running watch gave up on this folder for good: a new one covers it.
    startWatching()
    await rescan(dir).catch(() => undefined)
  }

  /** Symlinks warned about, one warning each per run (every rescan meets them again). */
  const linksSaid = new Set<string>()
  /**
   * A symlink where a project folder or a session file would be: not followed (a loop could trap the
   * scan, and the watch sees no append made through a link), and said once, so its sessions are not
   * missing without a word: a linked project folder used to be an info line in the log at every
   * rescan, a linked session file nothing at all (walkthrough-7).
   */
  const symlinkFound = async (path: string): Promise<void> => {
    const key = toKey(root, path)
    if (linksSaid.has(key)) return
    const target = await stat(path).catch(() => null)
    const what = target?.isDirectory()
      ? key.includes("/")
        ? null
        : "project folder"
      : target?.isFile() && isSessionFileKey(key)
        ? "session file"
        : null
    if (what === null || closed) return
    linksSaid.add(key)
    const to = await realpath(path).catch(() => "?")
    warn(
      `not syncing ${key}: it is a symlink (to ${to}), and symlinks under ${root} are not followed; to sync that ${what}, move it here (a link from its old place to here is fine)`,
    )
  }

  /** An event on a folder waiting for its retry (its mode changed, say): try it now. */
  const retryNow = (dir: string): void => {
    const u = unreadable.get(dir)
    if (!u?.timer) return
    clearTimeout(u.timer)
    void retryUnreadable(dir, u)
  }

  const scan = async (dir: string, into: Found[]): Promise<void> => {
    // Waiting for its own retry: a rescan of the tree does not try it sooner (nor warn again).
    if (unreadable.get(dir)?.timer) return
    let entries: import("node:fs").Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        unreadable.delete(dir)
        return
      }
      cannotRead(dir, error)
      return
    }
    // Sub-folders are read side by side, not one after another: a history has a folder per session
    // with subagents (~1,500 readdirs in the benchmark's 2,480-file corpus), and each await is a round
    // trip through the thread pool. The order found does not matter: the first scan sorts by time.
    const below: Promise<void>[] = []
    for (const entry of entries) {
      const path = join(dir, entry.name)
      if (entry.isSymbolicLink()) {
        below.push(symlinkFound(path))
        continue
      }
      if (entry.isDirectory()) below.push(scan(path, into))
      else if (entry.isFile() && entry.name.endsWith(".jsonl")) {
        const key = toKey(root, path)
        if (isSessionFileKey(key)) into.push({ key, path })
      }
    }
    await Promise.all(below)
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
      if (s?.isSymbolicLink()) return void symlinkFound(path)
      if (!s) {
        active.forget(key)
        engine.removed(key)
      }
      return
    }
    retryNow(path)
    if (event !== "rename") return
    // A new folder: its files may have been written before the watch on it existed.
    const s = await lstat(path).catch(() => null)
    if (s?.isDirectory()) void rescan(path).catch(() => undefined)
    else if (s?.isSymbolicLink()) void symlinkFound(path)
  }

  // One event at a time, in order: a delete seen after the re-create that followed it would
  // otherwise stop a live file from syncing.
  let events: Promise<void> = Promise.resolve()
  let watcher: FSWatcher | null = null
  let rewatchTimer: ReturnType<typeof setTimeout> | null = null
  /** Failures of the watch itself in a row, for its backoff; and since when the current one runs. */
  let rewatchAttempt = 0
  let watchingSince = 0
  /**
   * Watches the tree, closing the watch it replaces first: while a watch of the same path is open,
   * Bun hands out the same one again (measured, Bun 1.4.5), blind to folders it failed on. Nothing
   * runs between the close and the new watch; a file written in that instant is found by the
   * active-file poll if it keeps being written, else by the next rescan.
   */
  const startWatching = () => {
    watcher?.close()
    watcher = null
    let w: FSWatcher
    try {
      w = watch(root, { recursive: true, persistent: true }, (event, name) => {
        if (watcher !== w) return
        const file = typeof name === "string" ? name : name === null ? null : String(name)
        events = events
          .then(() => onEvent(event, file))
          .catch((error) =>
            warn(`handling a change under ${root}: ${error instanceof Error ? error.message : String(error)}`),
          )
      })
    } catch (error) {
      watchFailed(`cannot watch ${root}`, error)
      return
    }
    watcher = w
    watchingSince = Date.now()
    if (rewatchTimer) {
      // Watching again sooner than planned (a folder came back): the planned try is moot, not the
      // rescan that came with it, for whatever happened while nothing watched.
      clearTimeout(rewatchTimer)
      rewatchTimer = null
      void rescan(root).catch(() => undefined)
    }
    w.on("error", (error) => {
      if (watcher !== w) return
      const path = (error as NodeJS.ErrnoException).path
      // A folder inside the tree that it may not watch: Bun's recursive watch goes on reporting
      // every other folder (measured, Bun 1.4.5), so only that folder waits for its own retry.
      // Closing and watching again, with a rescan of the tree, is what looped every second.
      if (typeof path === "string" && path.startsWith(`${root}${sep}`)) return cannotRead(path, error)
      w.close()
      watcher = null
      watchFailed(`watching ${root}`, error)
    })
  }
  /** The watch of the whole tree failed: watched again (and the tree rescanned) later each time. */
  const watchFailed = (what: string, error: unknown) => {
    if (closed || rewatchTimer) return
    // A watch that ran a good while before failing starts the backoff over.
    if (watchingSince > 0 && Date.now() - watchingSince > RETRY_MAX_MS) rewatchAttempt = 0
    watchingSince = 0
    const delay = Math.min(RETRY_MAX_MS, REWATCH_AFTER_MS * 2 ** rewatchAttempt)
    // Warned once per run of failures; the tries after it go to the log.
    const message = `${what}: ${describeFailure(error)}; watching again in ${delay} ms`
    if (rewatchAttempt === 0) warn(message)
    else log.info(message)
    rewatchAttempt += 1
    rewatchTimer = setTimeout(() => {
      rewatchTimer = null
      if (closed) return
      startWatching()
      // Whatever happened while nothing watched.
      void rescan(root).catch(() => undefined)
    }, delay)
  }

  // Watch before the scan, so a file created during the scan is seen by one or the other.
  startWatching()
  const found: Found[] = []
  await scan(root, found)
  // Newest first. Only this first scan needs the times; a rescan leaves the stat to the engine. The
  // stats run side by side and the engine takes each as its first look at the file: it used to stat
  // every file again, one after another (2,480 files were all queued only 2.1 s after connecting).
  // Each `addBackfill` tracks its file before its first await, so the queue keeps this order (a file
  // the server holds, checked against its cursor at once, may join a little later).
  const stated = await Promise.all(found.map(async (f) => ({ ...f, facts: await statFile(f.path) })))
  const newest = stated.flatMap((f) => (f.facts ? [{ ...f, facts: f.facts }] : []))
  newest.sort((a, b) => b.facts.mtimeMs - a.facts.mtimeMs)
  await Promise.all(newest.map((f) => engine.addBackfill(f.key, f.path, f.facts)))
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
      for (const u of unreadable.values()) if (u.timer) clearTimeout(u.timer)
      watcher?.close()
    },
  }
}
