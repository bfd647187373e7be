/**
 * The daemon as one scoped layer: the sync engine, the watcher, the pid and state files. Launched
 * by `overlord start --foreground` with `Layer.launch`; interrupting it closes everything in order.
 */
import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Commands, Sync } from "@overlord/protocol"
import { Effect, Layer, Schedule } from "effect"
import * as Embedded from "./embedded-server.ts"
import { FolderKeys } from "./folder-keys.ts"
import { type HomePaths, loadMachine, saveMachineName, writeJson, writeJsonAsync } from "./home.ts"
import { fileLogger, type Logger } from "./logger.ts"
import { CommandRunner } from "./remote/command-runner.ts"
import { DaytonaSandboxError } from "./remote/daytona-errors.ts"
import { DaytonaSandboxes } from "./remote/daytona-sandbox.ts"
import { loadDaytonaSettings } from "./remote/daytona-settings.ts"
import { KnownProjects } from "./remote/known-projects.ts"
import { loadRemoteConfig } from "./remote/remote-config.ts"
import { SandboxSync, type SandboxSyncStatus, sandboxMachineFor } from "./remote/sandbox-sync.ts"
import { loadCredentials, pairedServerUrl, storedCredentialSource } from "./server-credentials.ts"
import { watchSessions } from "./session-watcher.ts"
import { DaemonStartError } from "./start-error.ts"
import type { CredentialSource } from "./sync-connection.ts"
import { type FileNotice, SyncEngine, type SyncStatus } from "./sync-engine.ts"

export interface DaemonConfig {
  readonly paths: HomePaths
  readonly claudeDir: string
  /** Embedded server address; ignored with `serverUrl`. */
  readonly host: string
  readonly port: number
  /** A standalone server to sync to (credentials from `overlord login`), instead of the embedded one. */
  readonly serverUrl?: string
  readonly console: boolean
  readonly chunkBytes?: number
  readonly window?: number
  readonly windowBytes?: number
  /** `overlord start --allow-remote`: run remote commands (else only if `<home>/remote/config.json` enables them). */
  readonly allowRemote?: boolean
  /** The `claude` executable remote commands run (default: `claude` on PATH). */
  readonly claudePath?: string
}

/** What `overlord status` reads. */
export interface DaemonState {
  readonly pid: number
  readonly startedAt: string
  readonly updatedAt: string
  readonly connected: boolean
  readonly serverUrl: string
  /** This machine's name, as the server last gave it (a dashboard rename) or `machine.json` said at start; absent before. */
  readonly machineName?: string
  readonly dashboardUrl: string | null
  readonly claudeDir: string
  readonly filesTracked: number
  readonly bytesPending: number
  readonly lastError: string | null
  readonly warnings: readonly string[]
  readonly notices: readonly FileNotice[]
  readonly resets: SyncStatus["resets"]
  readonly editedInPlace: SyncStatus["editedInPlace"]
  /** The Daytona sandboxes whose session files this daemon syncs, each under its own machine. */
  readonly sandboxes?: readonly SandboxSyncStatus[]
  /** What it accepts of remote commands (as told to the server), for `overlord doctor`; absent before. */
  readonly remote?: Sync.RemoteCapabilities
}

const MAX_WARNINGS = 20
const HEARTBEAT_MS = 30_000

interface Target {
  readonly serverUrl: string
  readonly machineToken: string
  readonly loginUrl: string | null
  /** A paired machine's: `server.json`, read again when it changes (`overlord login` while this daemon runs). */
  readonly credentials?: CredentialSource
}

const remoteTarget = (config: DaemonConfig): Effect.Effect<Target, DaemonStartError> =>
  Effect.suspend(() => {
    const creds = loadCredentials(config.paths)
    if (!creds || creds.serverUrl !== config.serverUrl) {
      return Effect.fail(
        new DaemonStartError({
          message: `this machine is not paired with ${config.serverUrl}: run \`overlord login ${config.serverUrl}\` first`,
        }),
      )
    }
    return Effect.succeed({
      serverUrl: creds.serverUrl,
      machineToken: creds.machineToken,
      loginUrl: null,
      credentials: storedCredentialSource(config.paths),
    })
  })

/** `serverWarnings`: what the embedded server said while it started, kept as warnings of this daemon. */
const syncLayer = (config: DaemonConfig, target: Target, log: Logger, serverWarnings: readonly string[] = []) =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      const startedAt = new Date().toISOString()
      const warnings: string[] = []
      // The machine's last error (the dashboard's): this daemon's own latest warning only.
      let lastOwnWarning: string | null = null
      const warn = (m: string) => {
        log.warn(m)
        lastOwnWarning = `${new Date().toISOString()} ${m}`
        warnings.push(lastOwnWarning)
        if (warnings.length > MAX_WARNINGS) warnings.shift()
      }
      // Logged when they came; kept here so `overlord status` lists them (an Ollama in clear text). Not
      // the machine's last error: they are the embedded server's, about its settings (the Ollama one is
      // the AI status's `warning`, on the search page), and showed as an error of a machine that had none.
      for (const m of serverWarnings) warnings.push(`${new Date().toISOString()} ${m}`)
      // Renamed by the server while this daemon runs (`onMachineName` below): new sandboxes are named after it.
      let machine = loadMachine(config.paths)
      // Remote commands: the runner reports through the engine's socket (buffered while it is down).
      const knownProjects = new KnownProjects(config.paths.home, log)
      // A remote/config.json that does not validate is a warning of `overlord status` (and the machine's
      // last error in the dashboard), not only a log line: "enabled": true next to a bad value left
      // commands off with nothing said where the user looks.
      const remoteConfig = loadRemoteConfig(
        config.paths.home,
        { allowRemote: config.allowRemote === true },
        { ...log, warn },
      )
      // Sandboxes (Daytona) when this machine has its settings; the SDK loads on first use.
      let sandboxEnv: Readonly<Record<string, string>> | undefined
      let sandboxesOff: string | undefined
      const sandboxes = (() => {
        try {
          const settings = loadDaytonaSettings(config.paths.home)
          sandboxEnv = settings.sandboxEnv
          return new DaytonaSandboxes(settings)
        } catch (error) {
          if (!(error instanceof DaytonaSandboxError && error.reason === "not-configured")) {
            sandboxesOff = error instanceof Error ? error.message : String(error)
            warn(`${Commands.SANDBOX_SETTINGS_UNUSABLE}${sandboxesOff}`)
          }
          return undefined
        }
      })()
      // Each sandbox's session files sync under a machine of its own, a child of this one.
      const sandboxSync =
        sandboxes === undefined
          ? undefined
          : yield* Effect.acquireRelease(
              Effect.sync(() => {
                const s = new SandboxSync({
                  home: config.paths.home,
                  serverUrl: target.serverUrl,
                  token: target.machineToken,
                  // Its sandboxes' syncs follow a new login as the laptop's own does.
                  ...(target.credentials ? { credentials: target.credentials } : {}),
                  parent: machine,
                  log,
                  warn,
                })
                s.resume()
                return s
              }),
              (s) => Effect.promise(() => s.close()),
            )
      // Until the engine exists (the runner reports commands a crash cut short as soon as it opens).
      const early: Commands.CommandDaemonMessage[] = []
      let sendToServer: (m: Commands.CommandDaemonMessage) => void = (m) => early.push(m)
      const runner = yield* Effect.acquireRelease(
        Effect.sync(() =>
          CommandRunner.open({
            home: config.paths.home,
            config: remoteConfig,
            knownProjects: knownProjects.current,
            send: (m) => sendToServer(m),
            logger: log,
            ...(config.claudePath ? { claudePath: config.claudePath } : {}),
            ...(sandboxes !== undefined ? { sandboxes } : {}),
            ...(sandboxEnv !== undefined ? { sandboxEnv } : {}),
            ...(sandboxesOff !== undefined ? { sandboxesOff } : {}),
            ...(sandboxSync !== undefined
              ? {
                  onSandboxSessionFiles: async (kept) => {
                    const child = sandboxMachineFor(machine, { ...kept.sandbox, folder: kept.folder }, kept.projectName)
                    // While the daemon stops, not waited for: the next start resumes the machine.
                    const synced = await sandboxSync.sync(child, kept.written, kept.interrupted ? 0 : undefined)
                    if (!synced && !kept.interrupted)
                      log.warn(`remote: sandbox ${kept.sandbox.name}'s session files are still syncing`)
                  },
                }
              : {}),
          }),
        ),
        (r) =>
          Effect.promise(async () => {
            await r.close()
            knownProjects.flush()
          }),
      )
      if (remoteConfig.enabled) log.info("remote commands are enabled on this machine")
      const remoteCapabilities = (): Sync.RemoteCapabilities => ({
        enabled: runner.config.enabled,
        maxConcurrent: runner.config.maxConcurrent,
        maxPromptBytes: runner.config.maxPromptBytes,
        sandbox: sandboxes !== undefined,
        bypassPermissions: runner.config.allowBypassPermissions,
        // Its own field: as the warning above it was the machine's last error only until the next one.
        ...(sandboxesOff !== undefined ? { sandboxesOff: sandboxesOff.slice(0, Sync.MAX_SANDBOXES_OFF_CHARS) } : {}),
      })
      // Which files this projects folder held: only they are reported gone (`folder-keys.ts`).
      const folderKeys = new FolderKeys(
        join(config.paths.home, "folder-keys"),
        join(config.claudeDir, "projects"),
        warn,
      )
      const engine = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const e = new SyncEngine({
            onCommand: (m) => void runner.accept(m),
            onCwds: (cwds) => knownProjects.add(cwds),
            remote: remoteCapabilities,
            serverUrl: target.serverUrl,
            machineId: machine.machineId,
            machineName: machine.name,
            // Renamed in the dashboard: kept in machine.json (the next start and login say it), shown by
            // `overlord status` at once, and the laptop's part of new sandboxes' machine names. It used to
            // be learnt only at the next `overlord start` or `login`.
            onMachineName: (name) => {
              log.info(`this machine is named ${name} on the server (it was ${machine.name}): it keeps that name`)
              machine = { ...machine, name }
              try {
                saveMachineName(config.paths, name)
              } catch (e) {
                warn(
                  `saving this machine's name in ${config.paths.machine}: ${e instanceof Error ? e.message : String(e)}`,
                )
              }
            },
            token: target.machineToken,
            ...(target.credentials ? { credentials: target.credentials } : {}),
            log,
            ...(config.chunkBytes ? { chunkBytes: config.chunkBytes } : {}),
            ...(config.window ? { window: config.window } : {}),
            ...(config.windowBytes ? { windowBytes: config.windowBytes } : {}),
            projectsDir: join(config.claudeDir, "projects"),
            goneScope: folderKeys,
          })
          sendToServer = (m) => e.sendCommandMessage(m)
          for (const m of early.splice(0)) e.sendCommandMessage(m)
          e.start()
          return e
        }),
        (e) => Effect.sync(() => e.stop()),
      )
      const projectsDir = join(config.claudeDir, "projects")
      yield* Effect.acquireRelease(
        Effect.promise(() => watchSessions({ projectsDir, engine, log, warn })),
        (w) => Effect.promise(() => w.close()),
      )
      yield* Effect.acquireRelease(
        Effect.sync(() => writeFileSync(config.paths.pid, `${process.pid}\n`, { mode: 0o600 })),
        () => Effect.sync(() => rmSync(config.paths.pid, { force: true })),
      )
      // Written when something changed, plus a heartbeat, so an idle daemon does no work.
      let lastFingerprint = ""
      let lastWrite = 0
      const writeState = Effect.promise(async () => {
        const s = engine.status()
        const sandboxStatus = sandboxSync?.status() ?? []
        const fingerprint = JSON.stringify([
          s,
          sandboxStatus,
          warnings.length,
          warnings[warnings.length - 1],
          machine.name,
        ])
        if (fingerprint === lastFingerprint && Date.now() - lastWrite < HEARTBEAT_MS) return
        lastFingerprint = fingerprint
        lastWrite = Date.now()
        const state: DaemonState = {
          pid: process.pid,
          startedAt,
          updatedAt: new Date().toISOString(),
          connected: s.connected,
          serverUrl: s.serverUrl,
          machineName: machine.name,
          dashboardUrl: target.loginUrl,
          claudeDir: config.claudeDir,
          filesTracked: s.filesTracked,
          bytesPending: s.bytesPending,
          lastError: s.lastError,
          warnings: [...warnings],
          notices: s.notices,
          resets: s.resets,
          editedInPlace: s.editedInPlace,
          ...(sandboxStatus.length > 0 ? { sandboxes: sandboxStatus } : {}),
          remote: remoteCapabilities(),
        }
        await writeJsonAsync(config.paths.state, state).catch((e: unknown) =>
          log.warn(`writing ${config.paths.state}: ${e instanceof Error ? e.message : String(e)}`),
        )
        engine.reportStatus(lastOwnWarning)
        sandboxSync?.reportStatus()
      })
      yield* writeState.pipe(Effect.repeat(Schedule.spaced("500 millis")), Effect.forkScoped)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          const s = engine.status()
          writeJson(config.paths.state, {
            pid: null,
            stoppedAt: new Date().toISOString(),
            bytesPending: s.bytesPending,
          })
        }),
      )
      if (config.console) {
        console.log(`Overlord is syncing ${projectsDir}`)
        if (target.loginUrl) console.log(`Dashboard: ${target.loginUrl}`)
      }
      log.info(`daemon started (pid ${process.pid}), syncing ${projectsDir} to ${target.serverUrl}`)
    }),
  )

/** The whole daemon: with no `serverUrl`, the embedded server comes up first, in this process. */
export const layer = (given: DaemonConfig) => {
  // A machine paired with `overlord login` syncs to that server, and no embedded server is started.
  const paired = given.serverUrl ? null : pairedServerUrl(given.paths)
  const config = paired ? { ...given, serverUrl: paired } : given
  const log = fileLogger({ path: config.paths.log, console: config.console })
  if (config.serverUrl) {
    return Layer.unwrap(remoteTarget(config).pipe(Effect.map((target) => syncLayer(config, target, log))))
  }
  const serverWarnings: string[] = []
  return Layer.unwrap(
    Effect.gen(function* () {
      const embedded = yield* Embedded.EmbeddedServer
      return syncLayer(config, embedded, log, serverWarnings)
    }),
  ).pipe(
    Layer.provide(
      Embedded.layer({
        paths: config.paths,
        host: config.host,
        port: config.port,
        onWarning: (message) => {
          log.warn(message)
          serverWarnings.push(message)
        },
      }),
    ),
  )
}
