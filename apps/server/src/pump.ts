/**
 * The one rule the live hub's and the command relay's pumps share: one drain at a time per watcher,
 * and a wake-up that arrives while it runs is never lost. A call while a drain runs only marks the
 * state dirty; the running drain then goes round again before it ends. A drain that throws ends the
 * pump (the caller logs or drops it; the client resubscribes from its last seq).
 */
export interface PumpState {
  pumping: boolean
  dirty: boolean
}

export async function runPump(state: PumpState, drain: () => Promise<void>): Promise<void> {
  if (state.pumping) {
    state.dirty = true
    return
  }
  state.pumping = true
  try {
    do {
      state.dirty = false
      await drain()
    } while (state.dirty)
  } finally {
    state.pumping = false
  }
}
