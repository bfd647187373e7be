/**
 * `overlord service install|uninstall|status`: start the daemon at login and restart it after a
 * crash, through the platform's own service manager (systemd user unit, launchd agent).
 */
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { resolve } from "node:path"
import type { Command } from "commander"
import { DEFAULT_PORT, parsePort } from "../cli-options.ts"
import { type HomePaths, resolveClaudeDir, runningPid } from "../home.ts"
import { selfCommand } from "./self-command.ts"
import {
  carryOut,
  checkSystemdUser,
  describePlan,
  installPlan,
  ServiceError,
  type ServicePlatform,
  type ServiceTarget,
  serviceFile,
  status,
  uninstallPlan,
} from "./service-manager.ts"

interface InstallOptions {
  readonly dryRun?: boolean
  readonly claudeDir?: string
  readonly server?: string
  readonly port?: number
}

/**
 * What the service runs: this program with `start --foreground`, plus the folders this command
 * was given when they are not the defaults (a service does not see this shell's environment,
 * so `$OVERLORD_HOME` and `$CLAUDE_CONFIG_DIR` become flags).
 */
export function daemonCommand(
  paths: HomePaths,
  opts: InstallOptions,
  self: readonly string[] = selfCommand(),
): readonly string[] {
  const args = [...self, "start", "--foreground"]
  if (paths.home !== resolve(homedir(), ".overlord")) args.push("--home", paths.home)
  const claudeDir = resolveClaudeDir(opts.claudeDir)
  if (claudeDir !== resolve(homedir(), ".claude")) args.push("--claude-dir", claudeDir)
  if (opts.server) args.push("--server", opts.server.replace(/\/$/, ""))
  if (opts.port !== undefined && opts.port !== DEFAULT_PORT) args.push("--port", String(opts.port))
  return args
}

function platform(): ServicePlatform {
  if (process.platform === "linux" || process.platform === "darwin") return process.platform
  throw new ServiceError(
    `no service manager support on ${process.platform}: run \`overlord start\` at login another way`,
  )
}

const target = (paths: HomePaths, command: readonly string[]): ServiceTarget => ({
  platform: platform(),
  userHome: homedir(),
  ...(process.env.XDG_CONFIG_HOME ? { xdgConfigHome: process.env.XDG_CONFIG_HOME } : {}),
  overlordHome: paths.home,
  command,
  uid: process.getuid?.() ?? 0,
})

/** ServiceError is the user's to fix: a message, not a stack. */
const reported =
  <A extends unknown[]>(action: (...args: A) => void) =>
  (...args: A) => {
    try {
      action(...args)
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error
      console.error(`overlord: ${error.message}`)
      process.exitCode = 1
    }
  }

export function addServiceCommands(program: Command, paths: () => HomePaths): void {
  const service = program
    .command("service")
    .description("start overlord at login and restart it after a crash (systemd user unit / launchd agent)")

  service
    .command("install")
    .description("write the unit (Linux) or agent (macOS), enable it for login and start it now")
    .option("--dry-run", "print what would be written and run; write and run nothing")
    .option("--claude-dir <dir>", "Claude Code's folder, if not the default")
    .option("--server <url>", "sync to this standalone server instead of the embedded one")
    .option("--port <port>", "the embedded server's port, if not the default", parsePort)
    .action(
      reported((opts: InstallOptions) => {
        const p = paths()
        const t = target(p, daemonCommand(p, opts))
        const reinstall = existsSync(serviceFile(t))
        const plan = installPlan(t, reinstall)
        if (opts.dryRun) return void process.stdout.write(describePlan(plan))
        if (t.platform === "linux") checkSystemdUser()
        const pid = runningPid(p)
        if (pid && !reinstall) {
          // The service's daemon would find this one's pid file and refuse to start.
          throw new ServiceError(`overlord is already running (pid ${pid}): \`overlord stop\` first, then install`)
        }
        for (const line of carryOut(plan)) console.log(line)
        console.log("overlord now starts at login and restarts after a crash; `overlord service status` shows it")
      }),
    )

  service
    .command("uninstall")
    .description("stop the service and remove its unit or agent")
    .option("--dry-run", "print what would be removed and run; change nothing")
    .action(
      reported((opts: { dryRun?: boolean }) => {
        const t = target(paths(), [])
        const plan = uninstallPlan(t)
        if (opts.dryRun) return void process.stdout.write(describePlan(plan))
        if (!existsSync(plan.file)) return console.log(`not installed (no ${plan.file})`)
        if (t.platform === "linux") checkSystemdUser()
        for (const line of carryOut(plan)) console.log(line)
      }),
    )

  service
    .command("status")
    .description("the service manager's view of overlord (exit code 3 when not running)")
    .action(
      reported(() => {
        const s = status(target(paths(), []))
        console.log(s.text)
        if (!s.running) process.exitCode = 3
      }),
    )
}
