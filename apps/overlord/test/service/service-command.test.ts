/**
 * `overlord service install|uninstall|status` as users run it (the bundle), on a temporary HOME:
 * `--dry-run` writes nothing; without a systemd user instance (containers, this machine when it has
 * none) `install` says what to do instead and writes nothing. Where the machine has a user systemd,
 * a unit under a test-only name is really installed, started, killed (-9) and seen coming back.
 */
import { spawnSync } from "node:child_process"
import { realpathSync } from "node:fs"
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises"
import { homedir, tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { carryOut, installPlan, type ServiceTarget, uninstallPlan } from "../../src/service/service-manager.ts"

// The real executable: under `bun --bun vitest`, the \`bun\` on PATH is a temporary link to it.
const BUN = realpathSync(process.execPath)
const userSystemd = spawnSync("systemctl", ["--user", "show-environment"], { encoding: "utf8" })
const HAS_USER_SYSTEMD = process.platform === "linux" && userSystemd.status === 0

describe("overlord service", () => {
  let root: string
  let userHome: string
  let home: string

  const overlord = (...args: string[]) => {
    const r = spawnSync(BUN, [OVERLORD_BIN, "--home", home, "service", ...args], {
      encoding: "utf8",
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: userHome,
        // Bun would otherwise keep a transpiler cache under $HOME: this HOME must stay empty.
        BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0",
        ...(process.env.XDG_RUNTIME_DIR ? { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR } : {}),
        ...(process.env.DBUS_SESSION_BUS_ADDRESS
          ? { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS }
          : {}),
      },
    })
    return { code: r.status, out: r.stdout, err: r.stderr }
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord service "))
    userHome = join(root, "user home")
    home = join(root, "over lord")
    await mkdir(userHome)
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  it("install --dry-run prints the unit or agent and the commands, and writes nothing", async () => {
    const r = overlord("install", "--dry-run", "--claude-dir", join(root, "claude dir"))
    expect(r.code, r.err).toBe(0)
    if (process.platform === "darwin") {
      expect(r.out).toContain(`would write ${userHome}/Library/LaunchAgents/dev.overlord.daemon.plist:`)
      expect(r.out).toContain(`<string>${BUN}</string>\n    <string>${OVERLORD_BIN}</string>`)
      expect(r.out).toContain("would run: launchctl bootstrap gui/")
    } else {
      const unit = `${userHome}/.config/systemd/user/overlord.service`
      expect(r.out).toContain(`would write ${unit}:\n[Unit]\n`)
      const execStart = r.out.split("\n").find((l) => l.startsWith("ExecStart="))
      // bun + the bundle, both absolute; the folders given, quoted for their spaces.
      expect(execStart).toBe(
        `ExecStart=${BUN} ${OVERLORD_BIN} start --foreground --home "${home}" --claude-dir "${join(root, "claude dir")}"`,
      )
      expect(r.out).toContain("Restart=on-failure\n")
      expect(r.out).toMatch(/would run: systemctl --user enable --now overlord\.service\n$/)
    }
    expect(await readdir(userHome)).toEqual([])
    expect(await readdir(root)).toEqual(["user home"])
  })

  it("uninstall --dry-run and status change nothing; status says it is not installed (exit 3)", async () => {
    const dry = overlord("uninstall", "--dry-run")
    expect(dry.code, dry.err).toBe(0)
    expect(dry.out).toMatch(/^would run: (systemctl --user disable --now overlord\.service|launchctl bootout gui\/)/)
    const status = overlord("status")
    expect(status.code).toBe(3)
    expect(status.out).toMatch(/^not installed \(no .*\); install with `overlord service install`/)
    const uninstall = overlord("uninstall")
    expect(uninstall).toMatchObject({ code: 0, out: expect.stringMatching(/^not installed/) })
    expect(await readdir(userHome)).toEqual([])
  })

  // This machine has systemctl but no user instance (a container): `install` must say so, and how
  // to start Overlord otherwise, before writing anything.
  it.runIf(process.platform === "linux" && !HAS_USER_SYSTEMD)(
    "install without a systemd user instance explains what to do instead and writes nothing",
    async () => {
      const r = overlord("install")
      expect(r.code).toBe(1)
      expect(r.err).toMatch(
        /^overlord: systemd's user instance is not available here \((systemctl --user: .+|no systemctl on PATH)\)/,
      )
      expect(r.err).toContain("overlord start >/dev/null 2>&1 || true")
      expect(r.err).toContain("overlord start --foreground")
      expect(await readdir(userHome)).toEqual([])
    },
  )

  // A real user systemd: the unit goes where that manager reads units (the real ~/.config), under a
  // name no real install uses, and is removed afterwards.
  it.runIf(HAS_USER_SYSTEMD)(
    "install under systemd starts the daemon, brings it back after kill -9, and uninstall removes it",
    async () => {
      const claudeDir = join(root, "claude dir")
      await mkdir(join(claudeDir, "projects"), { recursive: true })
      const name = `overlord-test-${process.pid}`
      const target: ServiceTarget = {
        platform: "linux",
        userHome: homedir(),
        ...(process.env.XDG_CONFIG_HOME ? { xdgConfigHome: process.env.XDG_CONFIG_HOME } : {}),
        overlordHome: home,
        command: [BUN, OVERLORD_BIN, "start", "--foreground", "--home", home, "--claude-dir", claudeDir, "--port", "0"],
        uid: process.getuid?.() ?? 0,
        name: { systemd: name, launchd: name },
      }
      const mainPid = () =>
        Number(
          spawnSync("systemctl", ["--user", "show", "-p", "MainPID", "--value", `${name}.service`], {
            encoding: "utf8",
          }).stdout.trim(),
        )
      try {
        carryOut(installPlan(target))
        const first = await waitFor("the service's daemon", async () => {
          const pid = mainPid()
          const state = JSON.parse(await readFile(join(home, "daemon-state.json"), "utf8")) as { pid: number }
          return pid > 0 && state.pid === pid ? pid : null
        })
        process.kill(first, "SIGKILL")
        // Restart=on-failure, RestartSec=2: a new daemon, which writes its own state.
        const second = await waitFor(
          "the daemon restarted after kill -9",
          async () => {
            const pid = mainPid()
            const state = JSON.parse(await readFile(join(home, "daemon-state.json"), "utf8")) as { pid: number }
            return pid > 0 && pid !== first && state.pid === pid ? pid : null
          },
          30_000,
        )
        expect(second).not.toBe(first)
      } finally {
        carryOut(uninstallPlan(target))
      }
      const gone = spawnSync("systemctl", ["--user", "is-active", `${name}.service`], { encoding: "utf8" })
      expect(gone.stdout.trim()).not.toBe("active")
    },
  )
})
