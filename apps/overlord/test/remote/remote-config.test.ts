import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import type { Logger } from "../../src/logger.ts"
import { DEFAULT_REMOTE_CONFIG } from "../../src/remote/command-runner.ts"
import { loadRemoteConfig } from "../../src/remote/remote-config.ts"

let home: string
let warnings: string[]
const logger: Logger = { info: () => {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) }
const writeConfig = async (text: string) => {
  await mkdir(join(home, "remote"), { recursive: true })
  await writeFile(join(home, "remote", "config.json"), text)
}

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "overlord-remote-config-"))
  warnings = []
})
afterEach(() => rm(home, { recursive: true, force: true }))

describe("remote config", () => {
  it("is off without a file or flag, and on with --allow-remote", () => {
    expect(loadRemoteConfig(home, {}, logger)).toEqual(DEFAULT_REMOTE_CONFIG)
    expect(DEFAULT_REMOTE_CONFIG.enabled).toBe(false)
    expect(DEFAULT_REMOTE_CONFIG.shellAllow).toEqual([])
    expect(loadRemoteConfig(home, { allowRemote: true }, logger)).toEqual({ ...DEFAULT_REMOTE_CONFIG, enabled: true })
    expect(warnings).toEqual([])
  })

  it("takes the file's settings", async () => {
    await writeConfig(JSON.stringify({ enabled: true, maxConcurrent: 1, shellAllow: [["git", "status"]] }))
    expect(loadRemoteConfig(home, {}, logger)).toEqual({
      ...DEFAULT_REMOTE_CONFIG,
      enabled: true,
      maxConcurrent: 1,
      shellAllow: [["git", "status"]],
    })
  })

  it("stays off, and says why, when the file is not valid", async () => {
    for (const text of [
      "{not json",
      JSON.stringify({ enabled: true, maxConcurrent: 0 }),
      JSON.stringify({ enabled: true, shellAllow: [[]] }),
    ]) {
      warnings = []
      await writeConfig(text)
      expect(loadRemoteConfig(home, {}, logger).enabled, text).toBe(false)
      expect(warnings, text).toHaveLength(1)
      expect(warnings[0]).toContain("config.json is not valid")
    }
  })
})
