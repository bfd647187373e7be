/**
 * Found in walkthrough-4: a daemon with remote commands on, on a machine where `claude` is not on the
 * daemon's PATH (a service unit's PATH is not the shell's), failed each command with only
 * `could not start: Executable not found in $PATH: "claude"`. The message now says what to do. The
 * daemon's real runner, with a path where no program is.
 */
import { mkdir, mkdtemp, realpath, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Commands } from "@overlord/protocol"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, expect, it } from "vitest"
import { CommandRunner } from "../../src/remote/command-runner.ts"

let root = ""
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

it("a command on a machine without Claude Code fails saying to install it or set OVERLORD_CLAUDE_PATH", async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "overlord-claude-missing-")))
  const project = join(root, "project")
  await mkdir(project)
  const sent: Commands.CommandDaemonMessage[] = []
  const runner = CommandRunner.open({
    home: join(root, "home"),
    config: { enabled: true, cancelGraceMs: 3000 },
    knownProjects: () => new Set([project]),
    send: (m) => sent.push(m),
    claudePath: join(root, "no-claude-here", "claude"),
    env: { PATH: "/usr/bin:/bin" },
  })
  try {
    await runner.accept({
      type: "command",
      commandId: "c-missing-1",
      kind: "claude",
      prompt: "Hi.",
      projectDir: project,
    })
    const exit = await waitFor("the exit", () =>
      sent.find((m): m is Commands.CommandExit => m.type === "command-exit" && m.commandId === "c-missing-1"),
    )
    expect(exit.status).toBe("failed")
    expect(exit.message).toContain("could not start")
    expect(exit.message).toContain("install Claude Code on this machine")
    expect(exit.message).toContain("OVERLORD_CLAUDE_PATH")
  } finally {
    await runner.close()
  }
})
