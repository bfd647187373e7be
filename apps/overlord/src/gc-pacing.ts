/**
 * When the daemon collects garbage: every so many bytes shipped during a backfill, and once things
 * are quiet after it drains.
 */

/**
 * During a bulk backfill the heap would otherwise drift up to the allocator's high-water mark;
 * a collection every 64 MB shipped keeps memory at the scale of a chunk, not of the input.
 */
const COLLECT_EVERY_BYTES = 64 * 1024 * 1024
const collectGarbage = () => Bun.gc(true)
const QUIET_COLLECT_MS = 2_000
/** After a backfill drains: collect, then hand the heap's free pages back to the system. */
const collectAndShrink = () => {
  Bun.gc(true)
  Bun.shrink()
}

export class GcPacing {
  private bytesSinceCollect = 0
  private quietCollect: ReturnType<typeof setTimeout> | null = null

  /** `busy`: appends are in flight, so it is not quiet yet. */
  constructor(private readonly busy: () => boolean) {}

  /** Bytes handed to the socket. */
  shipped(bytes: number): void {
    this.bytesSinceCollect += bytes
    if (this.bytesSinceCollect >= COLLECT_EVERY_BYTES) {
      this.bytesSinceCollect = 0
      collectGarbage()
    }
  }

  /** Bytes were shipped since the last collection. */
  get shippedSinceCollect(): boolean {
    return this.bytesSinceCollect > 0
  }

  /**
   * Everything acknowledged. A drained backfill leaves garbage behind; collect it once things are
   * quiet, so an idle daemon stays small. Not at once: a collection takes milliseconds, and live
   * appends drain too.
   */
  drained(): void {
    if (this.quietCollect) clearTimeout(this.quietCollect)
    this.quietCollect = setTimeout(() => {
      this.quietCollect = null
      if (this.busy()) return
      this.bytesSinceCollect = 0
      collectAndShrink()
    }, QUIET_COLLECT_MS)
    this.quietCollect.unref?.()
  }

  stop(): void {
    if (this.quietCollect) clearTimeout(this.quietCollect)
  }
}
