/**
 * `runMain` for Bun: runs the program's main fiber, interrupts it on SIGINT/SIGTERM so every
 * scope closes (the server stops, the database closes), then exits with the fiber's code.
 * (effect's own platform runners for 4.x are not yet published as stable packages.)
 *
 * A stop that a signal asked for and that closed everything is a success: exit 0, not effect's 130
 * for an interrupted fiber. systemd's `Restart=on-failure` and launchd's `KeepAlive.SuccessfulExit
 * = false` take any other code for a crash, so with 130 `overlord stop` under `overlord service`
 * was undone 2 s later (apps/overlord/test/service/systemd-user.test.ts).
 */
import { Cause, Exit, Runtime } from "effect"

export const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  let signalled = false
  const onSignal = () => {
    signalled = true
    fiber.interruptUnsafe()
  }
  process.once("SIGINT", onSignal)
  process.once("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    if (signalled && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) return process.exit(0)
    teardown(exit, (code) => process.exit(code))
  })
})
