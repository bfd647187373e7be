/**
 * `runPump`, the live hub's and the command relay's one-drain-at-a-time rule: wake-ups during a drain
 * are never lost and never start a second drain beside it; a drain that throws leaves the pump usable.
 */
import { describe, expect, it } from "vitest"
import { type PumpState, runPump } from "../src/pump.ts"

describe("runPump", () => {
  it("runs one drain at a time, and drains again for a wake-up that came during one", async () => {
    const state: PumpState = { pumping: false, dirty: false }
    let running = 0
    let overlapped = false
    const seen: number[] = []
    let produced = 0
    let release: () => void = () => {}
    const drain = async () => {
      running++
      if (running > 1) overlapped = true
      const upTo = produced
      await new Promise<void>((resolve) => {
        release = resolve
      })
      seen.push(upTo)
      running--
    }
    const first = runPump(state, drain)
    // Three wake-ups while the first drain waits: they return at once and are folded into one more drain.
    produced = 1
    const second = runPump(state, drain)
    produced = 2
    const third = runPump(state, drain)
    await Promise.all([second, third])
    expect(state.dirty).toBe(true)
    release()
    await new Promise((r) => setTimeout(r, 0))
    release()
    await first
    expect(overlapped).toBe(false)
    // The second drain saw everything produced before it began: nothing was lost.
    expect(seen).toEqual([0, 2])
    expect(state).toEqual({ pumping: false, dirty: false })
  })

  it("ends on a drain that throws, and pumps again on the next wake-up", async () => {
    const state: PumpState = { pumping: false, dirty: false }
    await expect(
      runPump(state, async () => {
        throw new Error("store down")
      }),
    ).rejects.toThrow("store down")
    expect(state.pumping).toBe(false)
    let drained = 0
    await runPump(state, async () => {
      drained++
    })
    expect(drained).toBe(1)
  })
})
