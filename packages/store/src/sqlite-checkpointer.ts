/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the commit that
 * crosses the threshold and waits for the disk to sync what it copied: during a backfill that was a
 * third of the storing thread's time (BENCHMARKS.md). Here the storing thread only says how much it
 * wrote; the checkpointer thread copies and syncs meanwhile. The thread starts on the first write and
 * is gone with the engine.
 *
 * SQLite's own automatic checkpoint stays on at a higher threshold: it is what starts the WAL over
 * (only the writer can, between its transactions), and by then it finds almost everything copied.
 * If the thread fails, the engine lowers that threshold back to where it was without one.
 *
 * The WAL file is not cut back while lines keep coming (reallocating its blocks cost the storing
 * thread ~15 % of a backfill); once writes pause for `quietMs`, the thread checkpoints everything
 * and truncates it, so an idle store leaves no large WAL on disk.
 */
import type { CheckpointReport, CheckpointRequest } from "./sqlite-checkpoint-worker.ts"

export interface CheckpointerOptions {
  /** The database file. */
  readonly path: string
  /** The line log beside it, synced before each round (see `line-log.ts`). */
  readonly lineLogPath?: string
  /** Bytes written between checkpoint rounds. */
  readonly everyBytes: number
  /** After this long without writes, the WAL is checkpointed in full and truncated. */
  readonly quietMs: number
  /** Called on the writer's thread when writes have paused for `quietMs`. */
  readonly onQuiet?: () => void
  readonly onReport?: (report: CheckpointReport) => void
  /** The thread failed (it reported an error or crashed); no more rounds will be asked of it. */
  readonly onFailed?: () => void
}

export class Checkpointer {
  private worker: Worker | null = null
  private written = 0
  private failed = false
  private quietTimer: ReturnType<typeof setTimeout> | null = null

  constructor(private readonly options: CheckpointerOptions) {}

  /** After a commit: `bytes` is about how much it wrote. */
  wrote(bytes: number): void {
    // An empty round (the search index polling with nothing to do) is not a write: the store is quiet.
    if (this.failed || bytes <= 0) return
    if (this.quietTimer) this.quietTimer.refresh()
    else {
      this.quietTimer = setTimeout(() => {
        this.quietTimer = null
        this.options.onQuiet?.()
        this.post({ type: "truncate" })
      }, this.options.quietMs)
      this.quietTimer.unref()
    }
    this.written += bytes
    if (this.written < this.options.everyBytes) return
    this.written = 0
    this.post({ type: "checkpoint" })
  }

  close(): void {
    if (this.quietTimer) clearTimeout(this.quietTimer)
    this.quietTimer = null
    if (!this.worker) return
    this.post({ type: "stop" })
    this.worker = null
  }

  private fail(): void {
    if (this.failed) return
    this.failed = true
    this.options.onFailed?.()
  }

  private post(msg: CheckpointRequest): void {
    if (!this.worker) {
      if (msg.type === "stop") return
      // Beside this module: the .ts source, or the .js entry in the daemon's bundle (scripts/build-daemon.ts).
      const ext = import.meta.url.endsWith(".ts") ? "ts" : "js"
      const worker = new Worker(new URL(`./sqlite-checkpoint-worker.${ext}`, import.meta.url).href) as Worker & {
        unref(): void
      }
      // A checkpointer never keeps the process alive on its own.
      worker.unref()
      worker.addEventListener("message", (e: MessageEvent<CheckpointReport>) => {
        if (e.data.type === "failed") this.fail()
        this.options.onReport?.(e.data)
      })
      worker.addEventListener("error", () => this.fail())
      worker.postMessage({
        type: "open",
        path: this.options.path,
        lineLogPath: this.options.lineLogPath,
      } satisfies CheckpointRequest)
      this.worker = worker
    }
    this.worker.postMessage(msg)
  }
}
