/**
 * `runMain` for Bun: runs the program's main fiber, interrupts it on SIGINT/SIGTERM so every
 * scope closes (the server stops, the database closes), then exits with the fiber's code.
 * (effect's own platform runners for 4.x are not yet published as stable packages.)
 */
import { Runtime } from "effect"

export const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  const onSignal = () => fiber.interruptUnsafe()
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    teardown(exit, (code) => process.exit(code))
  })
})
