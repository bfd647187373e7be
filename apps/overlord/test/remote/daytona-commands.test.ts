/**
 * `overlord daytona snapshot` and `overlord sandboxes list|stop|rm` against the fake Daytona, with the
 * settings read from `<home>/daytona.json` as a user would write them.
 */
import { mkdtemp, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { Command } from "commander"
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { addDaytonaCommands } from "../../src/remote/daytona-commands.ts"
import { DEFAULT_SNAPSHOT } from "../../src/remote/daytona-image.ts"
import { DaytonaSandboxes } from "../../src/remote/daytona-sandbox.ts"
import { loadDaytonaSettings } from "../../src/remote/daytona-settings.ts"

describe("daytona commands", () => {
  let fake: FakeDaytona
  let home: string
  const polling = process.env.DAYTONA_USE_DEPRECATED_POLLING

  /** Runs `overlord <args>` in-process; returns what it printed and the exit code it set. */
  const overlord = async (...args: string[]) => {
    const out: string[] = []
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")))
    const err = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")))
    process.exitCode = 0
    try {
      const program = new Command("overlord").exitOverride()
      addDaytonaCommands(program, () => home)
      await program.parseAsync(["node", "overlord", ...args])
    } finally {
      log.mockRestore()
      err.mockRestore()
    }
    const code = process.exitCode
    process.exitCode = 0
    return { out: out.join("\n"), code }
  }

  beforeAll(async () => {
    fake = await startFakeDaytona()
    home = await realpath(await mkdtemp(join(tmpdir(), "overlord-daytona-cli-")))
    // The SDK's own switch (it reads it from the environment): state waits poll instead of Socket.IO.
    process.env.DAYTONA_USE_DEPRECATED_POLLING = "true"
  })
  afterEach(async () => {
    await rm(join(home, "daytona.json"), { force: true })
  })
  afterAll(async () => {
    if (polling === undefined) delete process.env.DAYTONA_USE_DEPRECATED_POLLING
    else process.env.DAYTONA_USE_DEPRECATED_POLLING = polling
    await fake?.stop()
    await rm(home, { recursive: true, force: true })
  })

  const configure = () =>
    writeFile(
      join(home, "daytona.json"),
      JSON.stringify({ apiUrl: fake.apiUrl, apiKey: fake.apiKey, anthropicApiKey: "sk-ant-cli", autoStopMinutes: 12 }),
      { mode: 0o600 },
    )

  it("says how to configure Daytona when it is not", async () => {
    const { out, code } = await overlord("sandboxes", "list")
    expect(code).toBe(1)
    expect(out).toContain("Daytona is not configured on this machine")
    expect(out).toContain(join(home, "daytona.json"))
  })

  it("reads the settings file, with defaults for what it leaves out", async () => {
    await configure()
    expect(loadDaytonaSettings(home, {})).toEqual({
      apiUrl: fake.apiUrl,
      apiKey: fake.apiKey,
      anthropicApiKey: "sk-ant-cli",
      snapshot: DEFAULT_SNAPSHOT,
      autoStopMinutes: 12,
    })
    await rm(join(home, "daytona.json"))
    expect(loadDaytonaSettings(home, { DAYTONA_API_KEY: "k", ANTHROPIC_API_KEY: "a" })).toMatchObject({
      apiUrl: "https://app.daytona.io/api",
      apiKey: "k",
      anthropicApiKey: "a",
    })
  })

  it("builds the snapshot", async () => {
    await configure()
    const { out, code } = await overlord("daytona", "snapshot")
    expect(code).toBe(0)
    expect(out).toContain(`Built snapshot ${DEFAULT_SNAPSHOT}`)
    expect(fake.snapshots.get(DEFAULT_SNAPSHOT)?.dockerfileContent).toContain("@anthropic-ai/claude-code@")
  })

  it("lists, stops and removes sandboxes", async () => {
    await configure()
    const project = await mkdtemp(join(home, "proj-"))
    const sb = await new DaytonaSandboxes(loadDaytonaSettings(home)).ensureSandbox(project)
    const listed = await overlord("sandboxes", "list")
    expect(listed.out).toContain(`${sb.name}  started`)
    expect(listed.out).toContain("auto-stop 12 min")
    expect((await overlord("sandboxes", "stop", sb.name)).out).toContain(`Stopped ${sb.name}`)
    expect(fake.sandboxes.get(sb.id)?.state).toBe("stopped")
    expect((await overlord("sandboxes", "rm", sb.name)).out).toContain(`Removed ${sb.name}`)
    expect((await overlord("sandboxes", "list")).out).toBe("No sandboxes.")
    const missing = await overlord("sandboxes", "rm", sb.name)
    expect(missing.code).toBe(1)
    expect(missing.out).toContain("404")
  })
})
