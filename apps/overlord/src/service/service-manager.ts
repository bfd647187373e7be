/**
 * `overlord service install|uninstall|status`: what to write and which commands to run for the
 * platform's service manager (a plan, printed as is by `--dry-run`), and carrying it out.
 *
 * Linux: a systemd user unit, `~/.config/systemd/user/overlord.service` (`$XDG_CONFIG_HOME` when
 * set), enabled for login with `systemctl --user enable --now`.
 * macOS: a launchd agent, `~/Library/LaunchAgents/dev.overlord.daemon.plist`, loaded into the
 * user's GUI domain with `launchctl bootstrap gui/<uid>`; its output goes to `<home>/logs/`.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { LAUNCHD_LABEL, launchdPlist, SYSTEMD_NAME, systemdUnit } from "./service-files.ts"

export type ServicePlatform = "linux" | "darwin"

export interface ServiceTarget {
  readonly platform: ServicePlatform
  /** The user's home folder (the unit or agent goes under it). */
  readonly userHome: string
  readonly xdgConfigHome?: string
  /** Overlord's own folder (`--home`): the launchd agent's log goes to its `logs/`. */
  readonly overlordHome: string
  /** The absolute command that runs the daemon: `[binary, "start", "--foreground", ...]`. */
  readonly command: readonly string[]
  /** For launchd's `gui/<uid>` domain. */
  readonly uid: number
  /** The unit's name and the agent's label; the defaults except in tests. */
  readonly name?: { readonly systemd: string; readonly launchd: string }
}

export interface ServicePlan {
  /** The file the service manager reads. */
  readonly file: string
  /** Its content when installing; undefined when the plan removes it. */
  readonly content?: string
  /** Folders created before writing (install only). */
  readonly dirs: readonly string[]
  /** Commands run before the file is written or removed. */
  readonly before: readonly (readonly string[])[]
  /** Commands run after. */
  readonly after: readonly (readonly string[])[]
  /** Commands whose failure is expected and harmless (unloading what is not loaded). */
  readonly mayFail: readonly (readonly string[])[]
}

export class ServiceError extends Error {}

const unitName = (t: ServiceTarget) => `${t.name?.systemd ?? SYSTEMD_NAME}.service`
const label = (t: ServiceTarget) => t.name?.launchd ?? LAUNCHD_LABEL

export const serviceFile = (t: ServiceTarget) =>
  t.platform === "linux"
    ? join(t.xdgConfigHome || join(t.userHome, ".config"), "systemd", "user", unitName(t))
    : join(t.userHome, "Library", "LaunchAgents", `${label(t)}.plist`)

const launchdLog = (t: ServiceTarget) => join(t.overlordHome, "logs", "launchd.log")

/** `reinstall`: the file is there already, so a running daemon is restarted onto the new command. */
export function installPlan(t: ServiceTarget, reinstall = false): ServicePlan {
  const file = serviceFile(t)
  if (t.platform === "linux") {
    return {
      file,
      content: systemdUnit(t.command),
      dirs: [dirname(file)],
      before: [],
      after: [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", unitName(t)],
        // `enable --now` leaves a running daemon on the old command.
        ...(reinstall ? [["systemctl", "--user", "try-restart", unitName(t)]] : []),
      ],
      mayFail: [],
    }
  }
  const domain = `gui/${t.uid}`
  // bootstrap refuses an agent that is loaded already: unload a previous install first.
  const bootout = ["launchctl", "bootout", `${domain}/${label(t)}`]
  return {
    file,
    content: launchdPlist(t.command, launchdLog(t), label(t)),
    dirs: [dirname(file), join(t.overlordHome, "logs")],
    before: reinstall ? [bootout] : [],
    after: [
      ["launchctl", "enable", `${domain}/${label(t)}`],
      ["launchctl", "bootstrap", domain, file],
    ],
    mayFail: [bootout],
  }
}

export function uninstallPlan(t: ServiceTarget): ServicePlan {
  const file = serviceFile(t)
  if (t.platform === "linux") {
    return {
      file,
      dirs: [],
      before: [["systemctl", "--user", "disable", "--now", unitName(t)]],
      after: [["systemctl", "--user", "daemon-reload"]],
      mayFail: [],
    }
  }
  const bootout = ["launchctl", "bootout", `gui/${t.uid}/${label(t)}`]
  return { file, dirs: [], before: [bootout], after: [], mayFail: [bootout] }
}

export const statusCommand = (t: ServiceTarget): readonly string[] =>
  t.platform === "linux"
    ? ["systemctl", "--user", "status", "--no-pager", unitName(t)]
    : ["launchctl", "print", `gui/${t.uid}/${label(t)}`]

/** A command as a shell would need it typed, for messages and `--dry-run`. */
export const shellLine = (argv: readonly string[]) =>
  argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(" ")

export function describePlan(plan: ServicePlan): string {
  const out: string[] = []
  for (const argv of plan.before) out.push(`would run: ${shellLine(argv)}`)
  for (const dir of plan.dirs) out.push(`would create the folder ${dir}`)
  if (plan.content !== undefined) out.push(`would write ${plan.file}:`, plan.content.trimEnd())
  else out.push(`would remove ${plan.file}`)
  for (const argv of plan.after) out.push(`would run: ${shellLine(argv)}`)
  return `${out.join("\n")}\n`
}

interface Ran {
  readonly ok: boolean
  readonly missing: boolean
  readonly output: string
}

const run = (argv: readonly string[]): Ran => {
  const [cmd = "", ...args] = argv
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 })
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT"
  return { ok: r.status === 0, missing, output: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() || String(r.error ?? "") }
}

/**
 * Containers, WSL without systemd, and sessions without a user bus (`su`, some SSH setups) have
 * `systemctl` but no user instance to talk to: say so before writing anything, and what to do.
 */
export function checkSystemdUser(): void {
  const probe = run(["systemctl", "--user", "show-environment"])
  if (probe.ok) return
  throw new ServiceError(
    [
      `systemd's user instance is not available here (${probe.missing ? "no systemctl on PATH" : `systemctl --user: ${probe.output}`}),`,
      "so Overlord cannot be started at login by systemd on this machine. This is usual in containers and",
      "in sessions without a login (su, some SSH setups). Instead:",
      "  - on a machine with systemd, log in as the user (or run `loginctl enable-linger $USER`) and retry;",
      "  - otherwise start it from your shell profile: add `overlord start >/dev/null 2>&1 || true` to ~/.profile,",
      "    or run `overlord start --foreground` under the container's own supervisor.",
    ].join("\n"),
  )
}

/** Carries out the plan; returns what it did, one line each. */
export function carryOut(plan: ServicePlan): string[] {
  const done = runAll(plan, plan.before)
  if (plan.content !== undefined) {
    for (const dir of plan.dirs) mkdirSync(dir, { recursive: true, mode: 0o700 })
    writeFileSync(plan.file, plan.content, { mode: 0o644 })
    done.push(`wrote ${plan.file}`)
  } else {
    rmSync(plan.file, { force: true })
    done.push(`removed ${plan.file}`)
  }
  done.push(...runAll(plan, plan.after))
  return done
}

function runAll(plan: ServicePlan, commands: ServicePlan["before"]): string[] {
  const done: string[] = []
  for (const argv of commands) {
    const r = run(argv)
    const expected = plan.mayFail.some((m) => m.join("\0") === argv.join("\0"))
    if (!r.ok && !expected) throw new ServiceError(`\`${shellLine(argv)}\` failed: ${r.output}`, { cause: r.output })
    if (r.ok) done.push(`ran: ${shellLine(argv)}`)
  }
  return done
}

/** The service manager's own view, and whether the file is there. Exit code 0 when running. */
export function status(t: ServiceTarget): { readonly text: string; readonly running: boolean } {
  const file = serviceFile(t)
  if (!existsSync(file))
    return { text: `not installed (no ${file}); install with \`overlord service install\``, running: false }
  if (t.platform === "linux") checkSystemdUser()
  const r = run(statusCommand(t))
  return { text: `${file}\n${r.output}`, running: r.ok }
}
