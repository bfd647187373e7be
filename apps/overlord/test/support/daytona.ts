/** What the Daytona tests (remote/daytona-*, fault/sandbox-*) share: settings against the fake Daytona, a failure's checks. */
import { expect } from "vitest"
import { type DaytonaFailureReason, DaytonaSandboxError } from "../../src/remote/daytona-errors.ts"
import type { DaytonaSettings } from "../../src/remote/daytona-sandbox.ts"

/** Settings for `DaytonaSandboxes` against the fake Daytona (`startFakeDaytona`); no CLI runs, so no real Anthropic key. */
export const fakeDaytonaSettings = (
  fake: { readonly apiUrl: string; readonly apiKey: string },
  extra: Partial<DaytonaSettings> = {},
): DaytonaSettings => ({
  apiUrl: fake.apiUrl,
  apiKey: fake.apiKey,
  anthropicApiKey: "sk-ant-unused",
  snapshot: "snap",
  autoStopMinutes: 15,
  statePolling: true,
  ...extra,
})

/** Expects `p` to reject with a `DaytonaSandboxError` of `reason`; returns it. */
export async function daytonaFailure(p: Promise<unknown>, reason: DaytonaFailureReason): Promise<DaytonaSandboxError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  )
  expect(e).toBeInstanceOf(DaytonaSandboxError)
  const err = e as DaytonaSandboxError
  expect(err.reason, err.message).toBe(reason)
  return err
}
