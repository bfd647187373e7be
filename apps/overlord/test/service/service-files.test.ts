/**
 * The systemd unit and the launchd agent, byte for byte for a given command, paths with spaces and
 * the characters each format treats specially; then read back by the formats' own parsers:
 * `systemd-analyze verify` (which checks the quoted program path names an executable) and Python's
 * plistlib (Apple's plist format).
 */
import { spawnSync } from "node:child_process"
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { launchdPlist, systemdUnit, systemdWord } from "../../src/service/service-files.ts"
import { describePlan, installPlan, type ServiceTarget, uninstallPlan } from "../../src/service/service-manager.ts"

describe("systemd ExecStart words", () => {
  it("are left alone when plain, quoted with a space, and escape what systemd expands", () => {
    expect(systemdWord("/usr/local/bin/overlord")).toBe("/usr/local/bin/overlord")
    expect(systemdWord("--foreground")).toBe("--foreground")
    expect(systemdWord("/home/ann/my tools/overlord")).toBe('"/home/ann/my tools/overlord"')
    expect(systemdWord("/data/100%")).toBe("/data/100%%")
    expect(systemdWord("/data/$HOME")).toBe("/data/$$HOME")
    expect(systemdWord('/a "b"\\c')).toBe('"/a \\"b\\"\\\\c"')
    expect(systemdWord("it's")).toBe('"it\'s"')
    expect(systemdWord("tab\there")).toBe('"tab\\there"')
    expect(systemdWord("")).toBe('""')
  })
})

describe("the systemd user unit", () => {
  it("is exactly this for a binary and a home with spaces", () => {
    expect(
      systemdUnit(["/home/ann/my tools/overlord", "start", "--foreground", "--home", "/home/ann/Over Lord"]),
    ).toBe(`[Unit]
Description=Overlord: syncs Claude Code sessions (overlord start --foreground)

[Service]
Type=simple
ExecStart="/home/ann/my tools/overlord" start --foreground --home "/home/ann/Over Lord"
# Back after a crash, not after \`overlord stop\` (a clean exit); 2 s apart, so a daemon that
# cannot start does not use up systemd's start limit (5 in 10 s) at once.
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
`)
  })

  describe("read by systemd itself", () => {
    let dir: string
    let program: string
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "overlord unit "))
      program = join(dir, "my tools", "over lord")
      await mkdir(join(dir, "my tools"))
      await writeFile(program, "#!/bin/sh\nexit 0\n")
      await chmod(program, 0o755)
      // systemd-analyze starts a private manager, which needs a runtime folder of its own.
      await mkdir(join(dir, "run"), { mode: 0o700 })
    })
    afterAll(() => rm(dir, { recursive: true, force: true }))

    const verify = async (unit: string) => {
      const file = join(dir, "overlord-verify.service")
      await writeFile(file, unit)
      const r = spawnSync("systemd-analyze", ["--user", "verify", file], {
        encoding: "utf8",
        env: { ...process.env, XDG_RUNTIME_DIR: join(dir, "run") },
      })
      if (r.error)
        throw new Error("systemd-analyze is needed to check the unit (Debian: apt-get install systemd)", {
          cause: r.error,
        })
      return { code: r.status, out: `${r.stdout}${r.stderr}` }
    }

    it.runIf(process.platform === "linux")("accepts it, with the quoted path naming the executable", async () => {
      const ok = await verify(systemdUnit([program, "start", "--foreground", "--home", join(dir, "50% $HOME")]))
      expect(ok, ok.out).toMatchObject({ code: 0 })
      // The same line unquoted is cut at the space: the check above would catch a quoting mistake.
      const unquoted = await verify(systemdUnit([program]).replace(`"${program}"`, program))
      expect(unquoted.code).not.toBe(0)
      expect(unquoted.out).toMatch(/is not executable/)
    })
  })
})

const PLIST = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>dev.overlord.daemon</string>
  <key>ProgramArguments</key>
  <array>
    <string>/Users/ann/My Apps/overlord</string>
    <string>start</string>
    <string>--foreground</string>
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>StandardOutPath</key>
  <string>/Users/ann/.overlord/logs/launchd.log</string>
  <key>StandardErrorPath</key>
  <string>/Users/ann/.overlord/logs/launchd.log</string>
</dict>
</plist>
`

describe("the launchd agent", () => {
  it("is exactly this for a binary with a space in its path", () => {
    expect(
      launchdPlist(["/Users/ann/My Apps/overlord", "start", "--foreground"], "/Users/ann/.overlord/logs/launchd.log"),
    ).toBe(PLIST)
  })

  it("reads back (Python's plistlib) with every argument as given, XML's special characters included", () => {
    const args = ["/Users/ann/R&D <tools>/overlord", "start", "--foreground", "--home", `/Users/ann/"quoted" it's`]
    const r = spawnSync(
      "python3",
      ["-c", "import json, plistlib, sys; print(json.dumps(plistlib.load(sys.stdin.buffer)))"],
      { input: launchdPlist(args, "/Users/ann/A & B/logs/launchd.log"), encoding: "utf8" },
    )
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({
      Label: "dev.overlord.daemon",
      ProgramArguments: args,
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      StandardOutPath: "/Users/ann/A & B/logs/launchd.log",
      StandardErrorPath: "/Users/ann/A & B/logs/launchd.log",
    })
  })
})

describe("the plans", () => {
  const target = (platform: "linux" | "darwin", extra: Partial<ServiceTarget> = {}): ServiceTarget => ({
    platform,
    userHome: "/home/ann",
    overlordHome: "/home/ann/.overlord",
    command: ["/home/ann/bin/overlord", "start", "--foreground"],
    uid: 1000,
    ...extra,
  })

  it("Linux: the unit under ~/.config (or $XDG_CONFIG_HOME), reloaded and enabled for login", () => {
    const plan = installPlan(target("linux"))
    expect(plan.file).toBe("/home/ann/.config/systemd/user/overlord.service")
    expect(plan.before).toEqual([])
    expect(plan.after).toEqual([
      ["systemctl", "--user", "daemon-reload"],
      ["systemctl", "--user", "enable", "--now", "overlord.service"],
    ])
    expect(installPlan(target("linux", { xdgConfigHome: "/home/ann/conf" })).file).toBe(
      "/home/ann/conf/systemd/user/overlord.service",
    )
    // Over a running install, the daemon is restarted onto the new command.
    expect(installPlan(target("linux"), true).after.at(-1)).toEqual([
      "systemctl",
      "--user",
      "try-restart",
      "overlord.service",
    ])
    expect(uninstallPlan(target("linux"))).toMatchObject({
      before: [["systemctl", "--user", "disable", "--now", "overlord.service"]],
      after: [["systemctl", "--user", "daemon-reload"]],
    })
  })

  it("macOS: the agent in ~/Library/LaunchAgents, bootstrapped into the user's GUI domain", () => {
    const plan = installPlan(target("darwin"))
    expect(plan.file).toBe("/home/ann/Library/LaunchAgents/dev.overlord.daemon.plist")
    expect(plan.dirs).toEqual(["/home/ann/Library/LaunchAgents", "/home/ann/.overlord/logs"])
    expect(plan.after).toEqual([
      ["launchctl", "enable", "gui/1000/dev.overlord.daemon"],
      ["launchctl", "bootstrap", "gui/1000", "/home/ann/Library/LaunchAgents/dev.overlord.daemon.plist"],
    ])
    expect(installPlan(target("darwin"), true).before).toEqual([
      ["launchctl", "bootout", "gui/1000/dev.overlord.daemon"],
    ])
    expect(uninstallPlan(target("darwin")).before).toEqual([["launchctl", "bootout", "gui/1000/dev.overlord.daemon"]])
  })

  it("--dry-run's description says every folder, file and command (commands shell-quoted)", () => {
    const t = target("linux", { command: ["/home/ann/my bin/overlord", "start", "--foreground"] })
    expect(describePlan(installPlan(t))).toBe(`would create the folder /home/ann/.config/systemd/user
would write /home/ann/.config/systemd/user/overlord.service:
${systemdUnit(t.command).trimEnd()}
would run: systemctl --user daemon-reload
would run: systemctl --user enable --now overlord.service
`)
    expect(
      describePlan(uninstallPlan(target("darwin", { userHome: "/Users/ann b" }))),
    ).toBe(`would run: launchctl bootout gui/1000/dev.overlord.daemon
would remove /Users/ann b/Library/LaunchAgents/dev.overlord.daemon.plist
`)
  })
})
