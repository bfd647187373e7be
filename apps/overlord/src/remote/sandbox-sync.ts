/**
 * Syncs the session files of this machine's Daytona sandboxes, each under a machine of its own: a
 * child of this machine (`Sync.MachineParent`, kind `sandbox`), named `<laptop>/sandbox-<project>`,
 * owned by the same user. Each sandbox gets the same exactly-once path as the laptop's own files —
 * a `SyncEngine` and a session watcher over `<home>/sandboxes/<folder>/projects` (where
 * `sandbox-command.ts` keeps what it downloaded) — speaking with this machine's token and the
 * child's identity in its hello. The server accepts a child only from its parent's token, and
 * revoking the parent revokes it.
 *
 * Which sandboxes this machine has synced is kept in `<home>/sandboxes/<folder>/machine.json`, so a
 * restarted daemon resumes them (the server's cursors make that exact, as for the laptop's files).
 *
 * A sandbox machine syncs where its laptop does, with the laptop's current token: each engine reads the
 * laptop's stored credentials (`server.json`) as the laptop's own connection does, so a new `overlord
 * login` (a new token, or another server) moves the sandboxes' syncs with it, without a restart. They
 * kept the token they were opened with before, and stayed refused (or on the old server) until one.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync } from "node:fs"
import { join, relative } from "node:path"
import { type MachineIdentity, readJson, writeJson } from "../home.ts"
import { type Logger, prefixedLogger } from "../logger.ts"
import { withServerUrl } from "../server-credentials.ts"
import { type SessionWatcher, watchSessions } from "../session-watcher.ts"
import type { CredentialSource } from "../sync-connection.ts"
import { SyncEngine } from "../sync-engine.ts"
import { sandboxProjectsDir } from "./sandbox-command.ts"

/** A sandbox as a machine of the server's: what its hello says, and where its files are kept. */
export interface SandboxMachine {
  /** Its folder under `<home>/sandboxes` (`keepSessionFiles` writes there). */
  readonly folder: string
  /** Stable for the sandbox: derived from this machine's id and the sandbox's. */
  readonly machineId: string
  /** `<laptop>/sandbox-<project>`, as the dashboard lists it. */
  readonly machineName: string
  readonly sandboxId: string
  readonly sandboxName: string
}

/** The machine a sandbox's session files are synced under, as a child of `parent`. */
export function sandboxMachineFor(
  parent: MachineIdentity,
  sandbox: { readonly id: string; readonly name: string; readonly folder: string },
  projectName: string,
): SandboxMachine {
  const hash = createHash("sha256").update(`${parent.machineId}\0${sandbox.id}`).digest("hex").slice(0, 32)
  return {
    folder: sandbox.folder,
    machineId: `sandbox-${hash}`,
    machineName: `${parent.name}/sandbox-${projectName}`.slice(0, 256),
    sandboxId: sandbox.id,
    sandboxName: sandbox.name,
  }
}

const machineFile = (home: string, folder: string) => join(home, "sandboxes", folder, "machine.json")

export interface SandboxSyncOptions {
  readonly home: string
  readonly serverUrl: string
  /** This machine's token: the server accepts the children of the machine it was issued to. */
  readonly token: string
  /**
   * This machine's stored credentials (a paired machine's `server.json`), which replace `serverUrl` and
   * `token` when a new `overlord login` changes them; without it (the embedded server) they are kept.
   */
  readonly credentials?: CredentialSource
  readonly parent: MachineIdentity
  readonly log: Logger
  readonly warn: (message: string) => void
}

/**
 * The laptop's credentials as its sandboxes' syncs read them: the server and the token, not the name,
 * which is the laptop's (a login may rename it) and never a sandbox machine's own.
 */
const childCredentials = (laptop: CredentialSource): CredentialSource => ({
  current: () => {
    const c = laptop.current()
    return c && { serverUrl: c.serverUrl, token: c.token }
  },
  watch: laptop.watch,
})

interface Syncing {
  readonly machine: SandboxMachine
  readonly engine: SyncEngine
  readonly watcher: Promise<SessionWatcher>
}

/** One sandbox machine's sync, as `overlord status` shows it. */
export interface SandboxSyncStatus {
  readonly machineId: string
  readonly machineName: string
  readonly sandboxName: string
  /** Where it syncs now: its laptop's server, which a new `overlord login` may have moved. */
  readonly serverUrl: string
  readonly connected: boolean
  readonly filesTracked: number
  readonly bytesPending: number
  readonly lastError: string | null
}

/** How the sync engine words a refusal from the server (`SyncEngine`'s `lastError`). */
const REFUSED = "the server refused this daemon"
/** How often the wait for a sandbox's files looks for a refusal. */
const IDLE_SLICE_MS = 200

/** Most a sandbox run's exit waits for its session files to be stored (it is sent either way). */
export const SANDBOX_SYNC_WAIT_MS = 15_000

export class SandboxSync {
  private readonly syncing = new Map<string, Syncing>()
  private closed = false
  private readonly credentials: CredentialSource | undefined

  constructor(private readonly options: SandboxSyncOptions) {
    this.credentials = options.credentials && childCredentials(options.credentials)
  }

  /** Resumes every sandbox machine this home has synced before. */
  resume(): void {
    const root = join(this.options.home, "sandboxes")
    if (!existsSync(root)) return
    for (const folder of readdirSync(root)) {
      const machine = readJson<SandboxMachine>(machineFile(this.options.home, folder))
      if (machine?.machineId && machine.folder === folder) this.open(machine)
    }
  }

  /**
   * Syncs `files` (paths under the sandbox's folder that were just written) under the sandbox's
   * machine, starting its engine if needed; resolves once the server stored every byte of the folder,
   * or false after `timeoutMs` (they keep syncing).
   */
  async sync(machine: SandboxMachine, files: readonly string[], timeoutMs = SANDBOX_SYNC_WAIT_MS): Promise<boolean> {
    if (this.closed) return false
    // A run that left no session file (it failed before Claude Code wrote one) makes no machine.
    if (files.length === 0 && !this.syncing.has(machine.machineId)) return true
    const s = this.syncing.get(machine.machineId) ?? this.open(machine)
    const projects = sandboxProjectsDir(this.options.home, machine.folder)
    await s.watcher
    // Told at once rather than left to the watch, so `idle` below covers them.
    for (const path of files) await s.engine.changed(relative(projects, path), path)
    // Until stored; not past a refusal (a revoked laptop, a server without child machines), which no
    // wait cures: the command's exit goes out at once, and the engine keeps retrying with backoff.
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (await s.engine.idle(Math.min(IDLE_SLICE_MS, Math.max(1, deadline - Date.now())))) return true
      const { lastError: error, serverUrl } = s.engine.status()
      if (error?.startsWith(REFUSED)) {
        this.options.warn(
          `sandbox ${machine.sandboxName} (machine ${machine.machineName}): ${withServerUrl(error, serverUrl)}`,
        )
        return false
      }
    }
    return false
  }

  private open(machine: SandboxMachine): Syncing {
    mkdirSync(join(this.options.home, "sandboxes", machine.folder), { recursive: true, mode: 0o700 })
    writeJson(machineFile(this.options.home, machine.folder), machine)
    const { warn } = this.options
    // Its engine says what the laptop's says ("connected to …", a refusal, a move to another server):
    // named, or the two read the same in the log.
    const log = prefixedLogger(this.options.log, `sandbox ${machine.machineName}: `)
    const projectsDir = sandboxProjectsDir(this.options.home, machine.folder)
    const engine = new SyncEngine({
      serverUrl: this.options.serverUrl,
      machineId: machine.machineId,
      machineName: machine.machineName,
      token: this.options.token,
      ...(this.credentials ? { credentials: this.credentials } : {}),
      parent: { machineId: this.options.parent.machineId, kind: "sandbox" },
      log,
      projectsDir,
    })
    engine.start()
    const watcher = watchSessions({ projectsDir, engine, log, warn })
    const s: Syncing = { machine, engine, watcher }
    this.syncing.set(machine.machineId, s)
    this.options.log.info(`syncing sandbox ${machine.sandboxName} as machine ${machine.machineName}`)
    return s
  }

  /** Tells the server each sandbox machine's health (files, bytes pending), for the dashboard. */
  reportStatus(): void {
    for (const { engine } of this.syncing.values()) engine.reportStatus(null)
  }

  /** Each sandbox machine's sync health, for `overlord status`. */
  status(): SandboxSyncStatus[] {
    return [...this.syncing.values()].map(({ machine, engine }) => {
      const s = engine.status()
      return {
        machineId: machine.machineId,
        machineName: machine.machineName,
        sandboxName: machine.sandboxName,
        serverUrl: s.serverUrl,
        connected: s.connected,
        filesTracked: s.filesTracked,
        bytesPending: s.bytesPending,
        lastError: s.lastError,
      }
    })
  }

  async close(): Promise<void> {
    this.closed = true
    for (const s of this.syncing.values()) {
      await (await s.watcher).close()
      s.engine.stop()
    }
    this.syncing.clear()
  }
}
