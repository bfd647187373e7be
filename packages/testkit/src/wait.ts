/** Bounded polling for tests and benchmarks: every wait has a deadline and says what it waited for. */

/** Polls `probe` until it returns a truthy value (returned) or `timeoutMs` passes (throws, with the last error). */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await probe()
      if (v) return v
    } catch (e) {
      last = e
    }
    await Bun.sleep(intervalMs)
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`)
}
