/**
 * Fault: Daytona keeps sandbox names unique per organization, and the fake Daytona (like Daytona's
 * table, a unique (organizationId, name) — whether the service frees a destroyed sandbox's name is
 * not verified) keeps a removed sandbox's name. The project's sandbox name is deterministic, so once
 * its sandbox was removed (`overlord sandboxes rm`, or deleted in Daytona's dashboard) every later run
 * failed with "Daytona failed (create, 409): Sandbox with name overlord-… already exists" and the
 * project never got a sandbox again. Now a 409 with no sandbox of the project's listed retries once
 * under `<name>-2` (then `-3`, …), labelled for the project; a 409 that persists says what to do. Real SDK, the fake
 * Daytona, a command run in the new sandbox.
 */
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Sdk from "@daytonaio/sdk"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DaytonaSandboxes, type DaytonaSettings, NAME_TRIES } from "../../src/remote/daytona-sandbox.ts"
import { daytonaFailure, fakeDaytonaSettings } from "../support/daytona.ts"

describe("fault: a project whose sandbox was removed gets a new one", () => {
  let fake: FakeDaytona
  let root: string
  let settings: DaytonaSettings

  beforeAll(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-sandbox-removed-")))
    // The sandbox's `claude`: prints its arguments and the working folder's README, as one stdout line.
    const claude = join(root, "claude")
    await writeFile(claude, '#!/bin/sh\nprintf \'ran %s in %s: %s\\n\' "$2" "$(basename "$PWD")" "$(cat README.md)"\n')
    await chmod(claude, 0o755)
    fake = await startFakeDaytona({ tools: { claude } })
    settings = fakeDaytonaSettings(fake)
  })

  afterAll(async () => {
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  const project = async (name: string) => {
    const dir = join(root, name)
    await mkdir(dir)
    await writeFile(join(dir, "README.md"), `# ${name}`)
    return dir
  }

  it("after `overlord sandboxes rm`, then a dashboard delete: a new sandbox each time, and the command runs", async () => {
    const dir = await project("shop")
    const sandboxes = new DaytonaSandboxes(settings)
    const first = await sandboxes.ensureSandbox(dir)
    expect(first.name).toMatch(/^overlord-shop-[0-9a-f]{8}$/)
    await sandboxes.remove(first.id)

    // A new daemon process, as after a restart: nothing cached.
    const again = new DaytonaSandboxes(settings)
    const second = await again.ensureSandbox(dir)
    expect(second.id).not.toBe(first.id)
    expect(second.name).toBe(`${first.name}-2`)
    const sync = await again.syncCode(second, dir)
    const run = await again.runClaude(second, { prompt: "hello", cwd: sync.cwd })
    let out = ""
    for await (const chunk of run.stdout) out += chunk
    expect(await run.exitCode).toBe(0)
    expect(out).toBe("ran hello in shop: # shop\n")

    // The next run finds the new sandbox by its labels: no create, no 409.
    expect((await new DaytonaSandboxes(settings).ensureSandbox(dir)).id).toBe(second.id)
    const creates = () => fake.requests.filter((r) => r.method === "POST" && r.path === "/sandbox").length
    expect(creates()).toBe(3)

    // Deleted in Daytona's dashboard too, again and again: each time the next name of the series.
    const daytona = new Sdk.Daytona({ apiKey: fake.apiKey, apiUrl: fake.apiUrl, useDeprecatedPolling: true })
    await (await daytona.get(second.id)).delete()
    for (let n = 3; n <= NAME_TRIES; n++) {
      const next = await new DaytonaSandboxes(settings).ensureSandbox(dir)
      expect(next.name).toBe(`${first.name}-${n}`)
      await (await daytona.get(next.id)).delete()
    }
    // Every name of the series is held now: the 409 says what to do.
    const e = await daytonaFailure(new DaytonaSandboxes(settings).ensureSandbox(dir), "daytona")
    expect(e.message).toBe(
      `Daytona refused to create the sandbox for shop (409): the names ${first.name} to ${first.name}-${NAME_TRIES} are taken, yet no sandbox labelled for this project is listed. Delete or rename the sandboxes with those names in the Daytona dashboard, then run the command again; if none is left, Daytona still holds removed sandboxes' names, and the project in another folder gets new ones.`,
    )
    expect(e.cause).toBeInstanceOf(Sdk.DaytonaConflictError)
    expect(fake.errors).toEqual([])
  })

  it("two runs racing after a removal meet on one new sandbox", async () => {
    const dir = await project("race")
    const first = await new DaytonaSandboxes(settings).ensureSandbox(dir)
    await new DaytonaSandboxes(settings).remove(first.id)
    const [a, b] = await Promise.all([
      new DaytonaSandboxes(settings).ensureSandbox(dir),
      new DaytonaSandboxes(settings).ensureSandbox(dir),
    ])
    expect(a.id).toBe(b.id)
    expect(a.name).toBe(`${first.name}-2`)
    // One live sandbox for the project, not one per run.
    const live = (await new DaytonaSandboxes(settings).list()).filter((s) => s.projectName === "race")
    expect(live.map((s) => s.id)).toEqual([a.id])
  })

  it("a sandbox still `destroying` (listed, name held) is not taken for the project's", async () => {
    const dir = await project("teardown")
    const first = await new DaytonaSandboxes(settings).ensureSandbox(dir)
    // Daytona lists a sandbox while it is being destroyed (the state is in its DTO's enum).
    const held = fake.sandboxes.get(first.id)
    if (!held) throw new Error("the fake has no such sandbox")
    held.state = "destroying"
    const second = await new DaytonaSandboxes(settings).ensureSandbox(dir)
    expect(second.id).not.toBe(first.id)
    expect(second.name).toBe(`${first.name}-2`)
  })
})
