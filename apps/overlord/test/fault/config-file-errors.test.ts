/**
 * Found in walkthrough-4: a `~/.overlord/config.json` that is not JSON made `overlord start` (and
 * `serve`) print a stack trace ("error: … is not JSON / at readConfigFile …"); one of the wrong shape
 * said `Cause([Fail(SchemaError(Expected string …))])`. Both are now one sentence and exit 1.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("a config.json the CLI cannot use", () => {
  let root: string
  let home: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-config-errors-"))
    home = join(root, "home")
    await mkdir(home)
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  const overlord = (...args: string[]) => {
    const p = Bun.spawnSync(["bun", OVERLORD_BIN, "--home", home, ...args], {
      env: { ...process.env, OLLAMA_HOST: "" },
    })
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
  }

  it.each([["start"], ["serve"]])("not JSON: `overlord %s` says so in one line", async (command) => {
    await writeFile(join(home, "config.json"), '{"ollama": {"url": "http://127.0.0.1:11434", chatModel: 1}}')
    const r = overlord(command, "--port", "0")
    expect(r.code).toBe(1)
    expect(r.err.trim()).toBe(`overlord: ${join(home, "config.json")} is not JSON`)
  })

  it("the wrong shape: names the field and what it should be, without the Cause dump", async () => {
    await writeFile(join(home, "config.json"), '{"ollama": {"chatModel": 1}}')
    const r = overlord("start", "--port", "0")
    expect(r.code).toBe(1)
    expect(r.err.trim()).toBe(`overlord: ${join(home, "config.json")}: Expected string at ["ollama"]["chatModel"]`)
  })
})
