/**
 * Fault: a laptop whose Daytona organization has no snapshot of the configured name (never built,
 * or removed) got "Daytona failed (create, 400): Snapshot X not found. Did you add it through the
 * Daytona Dashboard?" — Daytona's own words (its sandbox service answers a missing snapshot with a
 * 400, not a 404), sending the user to the Daytona dashboard, while the snapshot is what
 * `overlord daytona snapshot` builds. Now a 400 on create asks for the snapshot: a 404 there reads
 * as a missing snapshot (reason `not-found`) naming the command that builds it. Real SDK, fake
 * Daytona refusing unknown snapshots as Daytona does.
 */
import { mkdir, mkdtemp, realpath, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Sdk from "@daytonaio/sdk"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DaytonaSandboxes } from "../../src/remote/daytona-sandbox.ts"
import { daytonaFailure, fakeDaytonaSettings } from "../support/daytona.ts"

describe("fault: a missing snapshot", () => {
  let fake: FakeDaytona
  let root: string

  beforeAll(async () => {
    fake = await startFakeDaytona()
    fake.faults.unknownSnapshots = true
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-snapshot-missing-")))
  })

  afterAll(async () => {
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("says the snapshot is missing and how to build it, not Daytona's dashboard hint alone", async () => {
    const dir = join(root, "shop")
    await mkdir(dir)
    const sandboxes = new DaytonaSandboxes(fakeDaytonaSettings(fake, { snapshot: "overlord-never-built" }))
    const e = await daytonaFailure(sandboxes.ensureSandbox(dir), "not-found")
    expect(e.message).toContain('no snapshot "overlord-never-built" (404)')
    expect(e.message).toContain("overlord daytona snapshot")
    expect(e.cause).toBeInstanceOf(Sdk.DaytonaValidationError)
    // The wire: the create refused with 400, then the snapshot asked for and not found.
    const asked = fake.requests.filter((r) => r.plane === "api").map((r) => `${r.method} ${r.path} ${r.status}`)
    expect(asked).toContain("POST /sandbox 400")
    expect(asked).toContain("GET /snapshots/overlord-never-built 404")
    expect(fake.sandboxes.size).toBe(0)
  })

  it("a snapshot that exists is used as before", async () => {
    const daytona = new Sdk.Daytona({ apiKey: fake.apiKey, apiUrl: fake.apiUrl, useDeprecatedPolling: true })
    await daytona.snapshot.create({ name: "overlord-built", image: "node:22" }, { timeout: 10 })
    const dir = join(root, "built")
    await mkdir(dir)
    const sandboxes = new DaytonaSandboxes(fakeDaytonaSettings(fake, { snapshot: "overlord-built" }))
    const made = await sandboxes.ensureSandbox(dir)
    expect(fake.sandboxes.get(made.id)?.snapshot).toBe("overlord-built")
    expect(fake.errors).toEqual([])
  })
})
