/**
 * What a sync engine tells about itself (`overlord status`, the state file, the dashboard's `status`):
 * the last error, lines the server kept but could not read, files re-read from byte 0 and files edited
 * in place. It only records and summarises: no socket, no file reads.
 */
import type { Sync } from "@overlord/protocol"
import type { Logger } from "./logger.ts"

export interface FileNotice {
  readonly fileKey: string
  count: number
  last: string
}

/** A file re-read from byte 0 (`reset`): what the log says, kept for `overlord status`. */
export interface FileReset {
  readonly fileKey: string
  readonly reason: Sync.Reset["reason"]
  readonly at: string
}

export interface SyncStatus {
  readonly connected: boolean
  readonly serverUrl: string
  readonly filesTracked: number
  readonly bytesPending: number
  readonly lastError: string | null
  readonly notices: readonly FileNotice[]
  /** Files re-read from the start since the daemon started, by reason, and the latest of them. */
  readonly resets: { readonly count: Record<Sync.Reset["reason"], number>; readonly latest: readonly FileReset[] }
  /**
   * Files whose time changed without growth while the bytes before the synced offset still matched:
   * an in-place edit further back cannot be seen without re-reading the whole file, so they are
   * counted (and the latest named) rather than silently trusted.
   */
  readonly editedInPlace: { readonly count: number; readonly latest: readonly { fileKey: string; at: string }[] }
}

/** How many of the latest resets and in-place edits `status` names. */
const LATEST_KEPT = 20

/** The part of `SyncStatus` that is a record of what happened, not of the engine's current state. */
export type SyncHistory = Pick<SyncStatus, "lastError" | "notices" | "resets" | "editedInPlace">

export class SyncReport {
  private lastError: string | null = null
  private readonly notices = new Map<string, FileNotice>()
  private readonly resetCount: Record<Sync.Reset["reason"], number> = { shrunk: 0, replaced: 0, rewritten: 0 }
  private readonly latestResets: FileReset[] = []
  /** fileKey → when its last change without growth was seen (insertion order = oldest first). */
  private readonly editedInPlace = new Map<string, string>()

  constructor(
    private readonly log: Logger,
    private readonly onChange?: () => void,
  ) {}

  get error(): string | null {
    return this.lastError
  }

  /** A failure to show in `status` until the next welcome; logged once while it repeats. */
  fail(message: string): void {
    if (this.lastError !== message) this.log.warn(message)
    this.lastError = message
    this.onChange?.()
  }

  /** Connected again: the last failure is over (or only the last failure that starts with `prefix`). */
  clearError(prefix?: string): void {
    if (prefix === undefined || this.lastError?.startsWith(prefix)) this.lastError = null
    this.onChange?.()
  }

  /** Lines the server stored but could not read (`ack.notices`). */
  note(fileKey: string, notices: readonly Sync.LineNotice[]): void {
    const n = this.notices.get(fileKey) ?? { fileKey, count: 0, last: "" }
    n.count += notices.length
    const last = notices[notices.length - 1]!
    n.last = `byte ${last.byteOffset}: ${last.message}`
    // Re-inserted, so the map runs from the file noted longest ago to the latest (status shows those).
    this.notices.delete(fileKey)
    this.notices.set(fileKey, n)
    this.log.warn(`${fileKey}: ${notices.length} line(s) kept but unreadable; ${n.last}`)
  }

  reset(fileKey: string, reason: Sync.Reset["reason"]): void {
    this.resetCount[reason] += 1
    this.latestResets.unshift({ fileKey, reason, at: new Date().toISOString() })
    if (this.latestResets.length > LATEST_KEPT) this.latestResets.pop()
    this.log.info(`re-reading ${fileKey} from the start: the file was ${reason}`)
  }

  /** A change without growth whose bytes before the synced offset still match (`SyncStatus.editedInPlace`). */
  editedInPlaceAt(fileKey: string, checkEnd: number): void {
    this.editedInPlace.delete(fileKey)
    this.editedInPlace.set(fileKey, new Date().toISOString())
    this.log.info(
      `${fileKey} changed without growing: the bytes before byte ${checkEnd} still match; an edit further back is not synced`,
    )
    this.onChange?.()
  }

  history(): SyncHistory {
    return {
      lastError: this.lastError,
      notices: [...this.notices.values()],
      resets: { count: { ...this.resetCount }, latest: [...this.latestResets] },
      editedInPlace: {
        count: this.editedInPlace.size,
        latest: [...this.editedInPlace]
          .slice(-LATEST_KEPT)
          .map(([fileKey, at]) => ({ fileKey, at }))
          .reverse(),
      },
    }
  }
}
