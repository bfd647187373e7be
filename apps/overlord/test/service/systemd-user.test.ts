/**
 * Issue #14 §1: `overlord service install` under a real systemd user manager, on machines whose PID 1
 * is not systemd (this VM, CI, containers): `@overlord/testkit/user-systemd` runs Debian's
 * `systemd --user` in a private mount namespace. The user types the real commands (the bundled CLI,
 * a scratch HOME); the manager reads the unit they write and:
 * - starts the daemon now, which syncs the session files there;
 * - restarts it 2 s after a kill -9 (Restart=on-failure), and the new daemon syncs what was
 *   appended meanwhile, byte for byte;
 * - stops it at logout and starts it again at the next login (enabled for default.target);
 * - leaves it stopped after `overlord stop` (a clean exit is not a crash);
 * - `overlord service status` exits 0 while it runs, 3 when it is stopped; `uninstall` removes it.
 * Where the machine has a user systemd of its own, service-command.test.ts runs against that one.
 */
import { spawnSync } from "node:child_process"
import { appendFileSync, existsSync, mkdirSync, realpathSync, writeFileSync } from "node:fs"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { OVERLORD_BIN, type OverlordCredentials } from "@overlord/testkit/overlord-process"
import { type UserSystemd, userSystemd, userSystemdUnavailable, userUnitDir } from "@overlord/testkit/user-systemd"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const BUN = realpathSync(process.execPath)
const machineHasUserSystemd = spawnSync("systemctl", ["--user", "show-environment"], { encoding: "utf8" }).status === 0
const unavailable = userSystemdUnavailable() ?? (machineHasUserSystemd ? "the machine's own user systemd" : null)

const lines = (sid: string, from: number, n: number) => {
  let out = ""
  for (let i = from; i < from + n; i++) out += `${sessionRecord(sid, i, {})}\n`
  return out
}

describe.skipIf(unavailable !== null)("overlord service under a real systemd user manager", () => {
  let root: string
  let userHome: string
  let home: string
  let claudeDir: string
  let systemd: UserSystemd
  const sid = "5e55a0e1-7a1e-4c2b-9d3e-000000000001"
  let sessionFile: string

  const overlord = (...args: string[]) => {
    const r = spawnSync(BUN, [OVERLORD_BIN, "--home", home, ...args], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...systemd.env, BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
    })
    return { code: r.status, out: r.stdout, err: r.stderr }
  }
  const mainPid = () => Number(systemd.systemctl("show", "-p", "MainPID", "--value", "overlord.service").out.trim())
  const statePid = async () =>
    (JSON.parse(await readFile(join(home, "daemon-state.json"), "utf8")) as { pid: number }).pid
  /** The daemon systemd runs, once it has written its state: its pid. */
  const daemonUp = (what: string, not?: number) =>
    waitFor(
      what,
      async () => {
        const pid = mainPid()
        return pid > 0 && pid !== not && (await statePid()) === pid ? pid : null
      },
      30_000,
    )
  /** The stored copy, byte for byte, from the server the daemon now runs (a new port each start). */
  const exported = async () => {
    const c = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as OverlordCredentials
    const res = await fetch(`${c.serverUrl}/api/v1/sessions/${sid}/export`, {
      headers: { authorization: `Bearer ${c.apiToken}` },
    })
    return res.ok ? Buffer.from(await res.arrayBuffer()) : null
  }
  const synced = (what: string) =>
    waitFor(
      what,
      async () => {
        const want = await readFile(sessionFile)
        const got = await exported()
        return got?.equals(want) ? got : null
      },
      30_000,
    )

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord systemd "))
    userHome = join(root, "user")
    home = join(root, "over lord")
    claudeDir = join(root, "claude")
    mkdirSync(join(claudeDir, "projects", "-work-p"), { recursive: true })
    mkdirSync(userHome)
    sessionFile = join(claudeDir, "projects", "-work-p", `${sid}.jsonl`)
    writeFileSync(sessionFile, lines(sid, 0, 20))
    systemd = await userSystemd(userHome, join(root, "runtime"))
    await systemd.login()
  })
  afterAll(async () => {
    await systemd?.logout()
    await rm(root, { recursive: true, force: true })
  })

  it("install starts the daemon now; it syncs, comes back after kill -9, and catches up", async () => {
    const r = overlord("service", "install", "--claude-dir", claudeDir, "--port", "0")
    expect(r.code, `${r.out}\n${r.err}`).toBe(0)
    expect(r.out).toContain(`wrote ${join(userUnitDir(userHome), "overlord.service")}`)
    expect(r.out).toContain("ran: systemctl --user enable --now overlord.service")
    // The options this shell gave reach the unit: a service does not see this shell's environment.
    const unit = await readFile(join(userUnitDir(userHome), "overlord.service"), "utf8")
    expect(unit).toContain(` start --foreground --home "${home}" --claude-dir "${claudeDir}" --port 0\n`)
    const first = await daemonUp("the daemon systemd started")
    await synced("the session synced by the service's daemon")
    expect(overlord("service", "status").code).toBe(0)

    process.kill(first, "SIGKILL")
    appendFileSync(sessionFile, lines(sid, 20, 5)) // written while no daemon runs
    const second = await daemonUp("the daemon restarted after kill -9", first)
    expect(second).not.toBe(first)
    await synced("the lines appended while it was down")
  })

  it("stops at logout and starts again at the next login", async () => {
    const before = mainPid()
    await systemd.logout()
    await waitFor("the daemon to stop with the session", () => !existsSync(`/proc/${before}`), 20_000)
    appendFileSync(sessionFile, lines(sid, 25, 5))
    await systemd.login()
    await daemonUp("the daemon started at login", before)
    await synced("the lines appended while logged out")
  })

  it("`overlord stop` is not a crash: the daemon stays stopped; uninstall removes the unit", async () => {
    const pid = mainPid()
    const stop = overlord("stop")
    expect(stop.code, stop.err).toBe(0)
    await waitFor("the daemon to exit", () => !existsSync(`/proc/${pid}`), 20_000)
    // Taken for a failure, the unit would wait in "activating/auto-restart" (RestartSec=2); a clean
    // exit leaves it "inactive/dead" with Result=success.
    const state = await waitFor(
      "systemd to see the exit",
      () => {
        const s = systemd.systemctl("show", "-p", "ActiveState,SubState,Result", "overlord.service").out
        return /ActiveState=active\n/.test(s) ? null : s
      },
      20_000,
    )
    expect(state).toContain("ActiveState=inactive")
    expect(state).toContain("SubState=dead")
    expect(state).toContain("Result=success")
    expect(overlord("service", "status").code).toBe(3)

    const un = overlord("service", "uninstall")
    expect(un.code, un.err).toBe(0)
    expect(existsSync(join(userUnitDir(userHome), "overlord.service"))).toBe(false)
    expect(overlord("service", "status").out).toMatch(/^not installed/)
  })
})
