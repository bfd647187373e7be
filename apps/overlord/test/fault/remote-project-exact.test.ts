/**
 * Found in security-audit (notes item 2): a remote command could run in any folder *inside* a project the
 * machine's session files name. A session ever started in the home folder (common) or `/` made every
 * folder under it commandable (`~/.ssh`, another repository, `/etc`). Now a command runs only in a folder
 * that is exactly the `cwd` of one of the machine's sessions, or one listed in `"projects"` of
 * `<home>/remote/config.json`; the refusal says how to allow one. The daemon's real runner.
 */
import { mkdir, mkdtemp, realpath, rm, symlink } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Commands } from "@overlord/protocol"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, expect, it } from "vitest"
import { CommandRunner, type RemoteConfig } from "../../src/remote/command-runner.ts"

let root = ""
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

it("a session started in the home folder does not make every folder under it commandable", async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "overlord-project-exact-")))
  // `userHome` stands for `~`: a session once ran there; `repo` is a folder under it no session ran in.
  const userHome = join(root, "user")
  const repo = join(userHome, "repo")
  const listed = join(userHome, "listed")
  await mkdir(join(repo, "src"), { recursive: true })
  await mkdir(join(listed, "inside"), { recursive: true })
  await symlink(userHome, join(root, "home-link"))
  const sent: Commands.CommandDaemonMessage[] = []
  const config: Partial<RemoteConfig> = { enabled: true, shellAllow: [["pwd"]], projects: [listed] }
  const runner = CommandRunner.open({
    home: join(root, "overlord-home"),
    config,
    knownProjects: () => new Set([userHome, "/"]),
    send: (m) => sent.push(m),
    env: { PATH: "/usr/bin:/bin" },
  })
  const exitOf = (commandId: string) =>
    waitFor(commandId, () =>
      sent.find((m): m is Commands.CommandExit => m.type === "command-exit" && m.commandId === commandId),
    )
  const run = (commandId: string, projectDir: string) =>
    runner.accept({ type: "command", commandId, kind: "shell", argv: ["pwd"], projectDir })
  try {
    await run("under-home", repo)
    await run("under-home-deeper", join(repo, "src"))
    await run("under-root", "/etc")
    await run("inside-listed", join(listed, "inside"))
    for (const id of ["under-home", "under-home-deeper", "under-root", "inside-listed"]) {
      const exit = await exitOf(id)
      expect(exit, id).toMatchObject({ status: "refused", reason: "unknown-project" })
      // The refusal says how to allow the folder.
      expect(exit.message, id).toContain("config.json")
      expect(exit.message, id).toContain('"projects"')
    }

    // The session's exact folder (also through a symlink to it) and a listed folder run.
    await run("home-itself", join(root, "home-link"))
    await run("listed-itself", listed)
    expect(await exitOf("home-itself")).toMatchObject({ status: "completed", exitCode: 0 })
    expect(await exitOf("listed-itself")).toMatchObject({ status: "completed", exitCode: 0 })
  } finally {
    await runner.close()
  }
})
