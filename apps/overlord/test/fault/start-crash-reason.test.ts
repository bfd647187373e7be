/**
 * walkthrough-7: a detached `overlord start` whose daemon died of an error nothing caught gave no
 * reason ("the daemon did not start; see …daemon.out"), or the wrong one: the last `overlord:` line of
 * its output, which was what the error broke ("WebSocket was closed before the connection was
 * established"). Seen with a file where the daemon makes its logs folder (`<home>/logs`). The error's
 * own message is the reason now.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterEach, describe, expect, it } from "vitest"
import { BUN, freePort, REPO } from "../support/harness.ts"

let dir = ""
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe("a daemon that dies of an uncaught error at start", () => {
  it("is reported with that error as the reason", () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-start-crash-"))
    const home = join(dir, "home")
    const claudeDir = join(dir, "claude")
    mkdirSync(join(claudeDir, "projects"), { recursive: true })
    mkdirSync(home, { recursive: true })
    writeFileSync(join(home, "logs"), "a file where the logs folder goes\n")
    const r = spawnSync(
      BUN,
      [
        OVERLORD_BIN,
        "--home",
        home,
        "start",
        "--claude-dir",
        claudeDir,
        "--port",
        String(freePort()),
        "--ollama-url",
        "off",
      ],
      { cwd: REPO, timeout: 60_000 },
    )
    const err = r.stderr.toString().trim()
    expect(r.status, err).toBe(1)
    expect(err).toBe(
      `overlord: the daemon did not start: EEXIST: file already exists, mkdir '${join(home, "logs")}'; see ${join(home, "daemon.out")} and ${join(home, "logs", "overlord.log")}`,
    )
  }, 60_000)
})
