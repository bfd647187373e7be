/**
 * Fault: when the project's sandbox disappeared from Daytona during a run (removed in Daytona's
 * dashboard, or auto-deleted) the command failed with "Daytona has no the sandbox (404): …" — the
 * run's toolbox calls name no sandbox, and the message filled in "the sandbox" after "no". It now
 * says the sandbox is gone from Daytona. Likewise a sandbox that never starts begins its message with a capital. Real SDK,
 * the fake Daytona.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Sdk from "@daytonaio/sdk"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { DaytonaSandboxError } from "../../src/remote/daytona-errors.ts"
import { DaytonaSandboxes, type DaytonaSettings } from "../../src/remote/daytona-sandbox.ts"
import { daytonaFailure, fakeDaytonaSettings } from "../support/daytona.ts"

describe("fault: the message for a sandbox gone mid-run", () => {
  let fake: FakeDaytona
  let root: string
  let settings: DaytonaSettings

  beforeAll(async () => {
    fake = await startFakeDaytona()
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-sandbox-gone-")))
    settings = fakeDaytonaSettings(fake, { startTimeoutSeconds: 1 })
  })

  afterAll(async () => {
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("says the sandbox is gone", async () => {
    const dir = join(root, "shop")
    await mkdir(dir)
    await writeFile(join(dir, "README.md"), "# shop\n")
    const sandboxes = new DaytonaSandboxes(settings)
    const sandbox = await sandboxes.ensureSandbox(dir)
    // Removed behind the daemon's back, between finding the sandbox and sending the code.
    const daytona = new Sdk.Daytona({ apiKey: fake.apiKey, apiUrl: fake.apiUrl, useDeprecatedPolling: true })
    await (await daytona.get(sandbox.id)).delete()
    const e = await daytonaFailure(sandboxes.syncCode(sandbox, dir), "not-found")
    expect(e.message).not.toContain("has no the")
    expect(e.message).toMatch(/^The sandbox is gone from Daytona \(404\): it may have been removed\. sandbox sbx-/)
  })

  it("a sandbox that never starts: the message begins as a sentence", async () => {
    fake.faults.neverStart = true
    try {
      const dir = join(root, "slow")
      await mkdir(dir)
      const error = await new DaytonaSandboxes(settings).ensureSandbox(dir).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as DaytonaSandboxError).message).toMatch(/^The sandbox for slow did not start within 1 s/)
    } finally {
      fake.faults.neverStart = false
    }
  })
})
