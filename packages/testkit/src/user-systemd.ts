/**
 * A real systemd user manager (`systemd --user`, Debian's systemd 252) for tests, on machines whose
 * PID 1 is not systemd: containers and this VM. `systemd --user` refuses to run unless the system
 * looks booted with systemd, which it tells by `/run/systemd/system` existing (sd_booted(3)). Here
 * that folder is made in a private mount namespace (`unshare -m`, a tmpfs over `/run/systemd`), so
 * the machine's own `/run` is untouched; everything else is the real manager: it reads units from
 * `$HOME/.config/systemd/user`, starts them, restarts them by their `Restart=`, pulls in what is
 * enabled for `default.target` when it starts (what a login does), and stops them when it exits
 * (a logout). `systemctl --user` reaches it from outside the namespace through its private socket
 * under `$XDG_RUNTIME_DIR`, so a test runs `overlord service …` exactly as a user would.
 *
 * Needs root (a mount namespace) and `/lib/systemd/systemd`; `userSystemdUnavailable()` says why not.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { waitFor } from "./wait.ts"

const SYSTEMD = "/lib/systemd/systemd"

/** Why a private user manager cannot run here, or null when it can. */
export function userSystemdUnavailable(): string | null {
  if (process.platform !== "linux") return "not Linux"
  if (process.getuid?.() !== 0) return "needs root for a private mount namespace"
  if (!existsSync(SYSTEMD)) return `no ${SYSTEMD} (Debian package systemd)`
  if (spawnSync("unshare", ["--version"]).status !== 0) return "no unshare (util-linux)"
  return null
}

export interface UserSystemd {
  /** The environment a login session would have: `HOME` and `XDG_RUNTIME_DIR` (plus PATH). */
  readonly env: Record<string, string>
  /** `systemctl --user …` against this manager. */
  systemctl(...args: string[]): { readonly code: number | null; readonly out: string }
  /** A login: starts the manager (and with it every unit enabled for default.target). */
  login(): Promise<void>
  /** A logout: the manager stops its units and exits. */
  logout(): Promise<void>
}

/** `userHome` is the user's HOME (units under its `.config`); `runtimeDir` is made with mode 0700. */
export async function userSystemd(userHome: string, runtimeDir: string): Promise<UserSystemd> {
  await mkdir(runtimeDir, { recursive: true, mode: 0o700 })
  const env: Record<string, string> = {
    HOME: userHome,
    XDG_RUNTIME_DIR: runtimeDir,
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LANG: "C.UTF-8",
  }
  let manager: ChildProcess | null = null
  let output = ""
  const systemctl = (...args: string[]) => {
    const r = spawnSync("systemctl", ["--user", ...args], { encoding: "utf8", env, timeout: 30_000 })
    return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` }
  }
  return {
    env,
    systemctl,
    async login() {
      if (manager) throw new Error("the user manager is running already")
      // `exec`: the manager is the namespace's shell's own process, so signalling it stops it.
      const script = `mkdir -p /run/systemd && mount -t tmpfs -o mode=755 tmpfs /run/systemd && mkdir /run/systemd/system && exec ${SYSTEMD} --user`
      const child = spawn("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      })
      manager = child
      output = ""
      child.stdout?.on("data", (d) => (output += String(d)))
      child.stderr?.on("data", (d) => (output += String(d)))
      await waitFor(
        "systemd --user to answer",
        () => {
          if (child.exitCode !== null) throw new Error(`systemd --user exited ${child.exitCode}: ${output}`)
          return systemctl("show-environment").code === 0
        },
        20_000,
      )
    },
    async logout() {
      const child = manager
      if (!child) return
      manager = null
      if (child.exitCode !== null) return
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
      // What a logout does: the manager stops every unit, then exits.
      if (systemctl("exit").code !== 0) child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Where the user's units live for `userSystemd(userHome, …)`. */
export const userUnitDir = (userHome: string) => join(userHome, ".config", "systemd", "user")
