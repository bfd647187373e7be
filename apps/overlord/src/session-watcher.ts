/**
 * Finding session files: one scan at start (for the backfill, newest first) and chokidar for
 * everything after, including folders created later. Symlinks are not followed, so a symlink loop
 * cannot trap the scan; unreadable folders are reported and skipped.
 */
import { mkdirSync, realpathSync } from "node:fs"
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
  const onFile = (path: string) => {
    const key = toKey(root, path)
    if (isSessionFileKey(key)) void engine.changed(key, path)
  }
  watcher.on("add", onFile)
  watcher.on("change", onFile)
  watcher.on("unlink", (path) => engine.removed(toKey(root, path)))
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

  return { close: () => watcher.close() }
}
