/**
 * The daemon's home (`--home`, default `~/.overlord`) and the Claude Code folders it reads.
 * Secrets in the home are written with mode 0600.
 */
import { randomUUID } from "node:crypto"
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { chmod, rename, writeFile } from "node:fs/promises"
import { homedir, hostname } from "node:os"
import { join, resolve } from "node:path"
import { daemonLockHeld } from "./daemon-lock.ts"

export interface HomePaths {
  readonly home: string
  readonly database: string
  readonly log: string
  readonly pid: string
  readonly state: string
  readonly machine: string
  readonly credentials: string
}

// An empty variable is unset, as Claude Code reads $CLAUDE_CONFIG_DIR (`process.env.CLAUDE_CONFIG_DIR ||
// ~/.claude`, in its 2.1.330 binary): with `??`, `export CLAUDE_CONFIG_DIR=` made Overlord watch
// `./projects` of whatever folder it was started in, and `OVERLORD_HOME=` keep its state there (walkthrough-7).
export const defaultHome = () => process.env.OVERLORD_HOME || join(homedir(), ".overlord")

export function homePaths(home = defaultHome()): HomePaths {
  const h = resolve(home)
  return {
    home: h,
    database: join(h, "data", "overlord.db"),
    log: join(h, "logs", "overlord.log"),
    pid: join(h, "daemon.pid"),
    state: join(h, "daemon-state.json"),
    machine: join(h, "machine.json"),
    credentials: join(h, "credentials.json"),
  }
}

/** `--claude-dir`, else `$CLAUDE_CONFIG_DIR`, else `~/.claude`. */
export const resolveClaudeDir = (flag?: string) =>
  resolve(flag ?? (process.env.CLAUDE_CONFIG_DIR || join(homedir(), ".claude")))

export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T
  } catch {
    return null
  }
}

/** Atomic (write then rename), so a reader never sees half a file. */
export function writeJson(path: string, value: unknown, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode })
  chmodSync(tmp, mode)
  renameSync(tmp, path)
}

/**
 * `writeJson` off the event loop. For files written often (the daemon's state): a rename waits for
 * the file system's journal, which during a backfill the store keeps busy, so done synchronously it
 * held the daemon's thread for seconds.
 */
export async function writeJsonAsync(path: string, value: unknown, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode })
  await chmod(tmp, mode)
  await rename(tmp, path)
}

export interface MachineIdentity {
  readonly machineId: string
  readonly name: string
}

export function loadMachine(paths: HomePaths): MachineIdentity {
  mkdirSync(paths.home, { recursive: true, mode: 0o700 })
  const existing = readJson<MachineIdentity>(paths.machine)
  if (existing?.machineId) return existing
  const created = { machineId: randomUUID(), name: hostname() }
  writeJson(paths.machine, created)
  return created
}

/**
 * Renames this machine (`overlord login --name`, `overlord start --name`, or a name another machine of
 * the same user already has): the daemon tells the server at its next hello.
 */
export function saveMachineName(paths: HomePaths, name: string): MachineIdentity {
  const renamed = { ...loadMachine(paths), name }
  writeJson(paths.machine, renamed)
  return renamed
}

/** Where this daemon syncs to and with which tokens. Only the daemon's own tokens, never hashes. */
export interface Credentials {
  readonly serverUrl: string
  readonly machineToken: string
  /** For CLI reads (`overlord sessions`, `export`). */
  readonly apiToken: string
}

export const loadCredentials = (paths: HomePaths) => readJson<Credentials>(paths.credentials)
export const saveCredentials = (paths: HomePaths, c: Credentials) => writeJson(paths.credentials, c)

export const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The daemon's pid: its pid file's, when that process runs and (for a daemon that takes one) holds the home's lock. */
export function runningPid(paths: HomePaths): number | null {
  if (!existsSync(paths.pid)) return null
  const pid = Number(readFileSync(paths.pid, "utf8").trim())
  if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) return null
  // A pid file left behind names whatever process has that pid now.
  return daemonLockHeld(paths.home) === false ? null : pid
}
