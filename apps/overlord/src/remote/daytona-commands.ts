/**
 * `overlord daytona snapshot` and `overlord sandboxes list|stop|rm`: the commands over the Daytona
 * module, added to the CLI by `addDaytonaCommands`. The SDK loads only when one of them runs.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Command } from "commander"
import { DaytonaSandboxError } from "./daytona-errors.ts"
import { DaytonaSandboxes } from "./daytona-sandbox.ts"
import { loadDaytonaSettings } from "./daytona-settings.ts"
import { buildSandboxSnapshot } from "./daytona-snapshot.ts"
import { sandboxPatchPath } from "./sandbox-command.ts"

/** Runs a command, printing a DaytonaSandboxError as one line (it is written for the user). */
const run =
  <A extends unknown[]>(f: (...args: A) => Promise<void>) =>
  async (...args: A): Promise<void> => {
    try {
      await f(...args)
    } catch (e) {
      if (!(e instanceof DaytonaSandboxError)) throw e
      console.error(`overlord: ${e.message}`)
      process.exitCode = 1
    }
  }

/** The patch a sandbox command left under `<home>/sandboxes/<folder>/patches/` (`sandbox-command.ts`). */
export function findSandboxPatch(home: string, commandId: string): string | undefined {
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(commandId)) return undefined
  const root = join(home, "sandboxes")
  if (!existsSync(root)) return undefined
  for (const folder of readdirSync(root)) {
    const path = sandboxPatchPath(home, folder, commandId)
    if (existsSync(path)) return path
  }
  return undefined
}

export function addDaytonaCommands(program: Command, overlordHome: () => string): void {
  program
    .command("daytona")
    .description("Daytona sandboxes for remote commands")
    .command("snapshot")
    .description("build the snapshot sandboxes start from (Claude Code on slim Debian)")
    .option("--name <name>", "snapshot name (default: the one sandboxes use)")
    .action(
      run(async (opts: { name?: string }) => {
        const settings = loadDaytonaSettings(overlordHome())
        const built = await buildSandboxSnapshot(settings, {
          name: opts.name ?? settings.snapshot,
          onLogs: (line) => console.log(line),
        })
        console.log(
          built.created
            ? `Built snapshot ${built.name} (${built.state})`
            : `Snapshot ${built.name} exists (${built.state})`,
        )
      }),
    )

  const sandboxes = program.command("sandboxes").description("Overlord's Daytona sandboxes")
  const service = () => new DaytonaSandboxes(loadDaytonaSettings(overlordHome()))
  sandboxes
    .command("list")
    .description("list Overlord's sandboxes")
    .action(
      run(async () => {
        const all = await service().list()
        if (all.length === 0) console.log("No sandboxes.")
        for (const s of all)
          console.log(
            `${s.name}  ${s.state}  project ${s.projectName || "?"}  auto-stop ${s.autoStopMinutes ?? "?"} min  ${s.id}`,
          )
      }),
    )
  sandboxes
    .command("patch <commandId>")
    .description("print what a sandbox command changed, as a git patch (pipe it to `git apply`)")
    .action(
      run(async (commandId: string) => {
        const path = findSandboxPatch(overlordHome(), commandId)
        if (path === undefined) {
          console.error(
            `overlord: no patch for command ${commandId} on this machine (it changed nothing, or ran elsewhere: GET /api/v1/commands/${commandId}/patch)`,
          )
          process.exitCode = 1
          return
        }
        process.stdout.write(readFileSync(path))
      }),
    )
  sandboxes
    .command("stop <idOrName>")
    .description("stop a sandbox (its files stay)")
    .action(
      run(async (idOrName: string) => {
        await service().stop(idOrName)
        console.log(`Stopped ${idOrName}`)
      }),
    )
  sandboxes
    .command("rm <idOrName>")
    .description("delete a sandbox and everything in it")
    .action(
      run(async (idOrName: string) => {
        await service().remove(idOrName)
        console.log(`Removed ${idOrName}`)
      }),
    )
}
