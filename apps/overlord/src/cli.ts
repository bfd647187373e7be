/**
 * The `overlord` command line. Long-running commands (`start --foreground`, `serve`) are layers
 * launched with `runMain`; the others are short requests to the daemon's files or the server API.
 */
import { spawn } from "node:child_process"
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { writeFile } from "node:fs/promises"
import { join, resolve } from "node:path"
import { type Api, sessionEntriesLabel } from "@overlord/protocol"
import { PublicUrlError, parsePublicUrl } from "@overlord/server/auth"
import { LOOPBACK_PROXIES, TrustedProxies, TrustProxyError } from "@overlord/server/client-address"
import { Command, InvalidArgumentError } from "commander"
import { Effect, Layer } from "effect"
import { addAiCommands, generatedLabel } from "./ai-commands.ts"
import { ConfigFileError } from "./ai-settings.ts"
import { readCleanupPeriod } from "./claude-settings.ts"
import { DEFAULT_PORT, parsePort } from "./cli-options.ts"
import * as Daemon from "./daemon.ts"
import { holdDaemonLock } from "./daemon-lock.ts"
import {
  type HomePaths,
  homePaths,
  isRunning,
  readJson,
  resolveClaudeDir,
  runningPid,
  saveMachineName,
} from "./home.ts"
import { addLoginCommands, ensureUniqueName } from "./login-command.ts"
import { remotePaths } from "./remote/command-runner.ts"
import { addDaytonaCommands } from "./remote/daytona-commands.ts"
import { loadRemoteConfig } from "./remote/remote-config.ts"
import { RunError, runRemote } from "./run-command.ts"
import { runMain } from "./run-main.ts"
// The paired server's (server.json) when there is one, else the embedded server's credentials.
import {
  loadCredentials,
  loadServerCredentials,
  NO_SERVER_MESSAGE,
  pairedServerUrl,
  refusedMessage,
  unreachableMessage,
  withServerUrl,
} from "./server-credentials.ts"
import { isCompiled } from "./service/self-command.ts"
import { addServiceCommands } from "./service/service-command.ts"
import { DaemonStartError } from "./start-error.ts"
import { DAEMON_VERSION } from "./sync-engine.ts"
import { oneLineTitle, terminalSafe } from "./terminal-text.ts"

/** How many of each kind of problem `overlord status` names without `--verbose`. */
const STATUS_LATEST = 5
/** How long `overlord start` waits for a paired server to list the user's machines (the unique-name check). */
const START_NAME_CHECK_MS = 2_000

class CliError extends Error {}

async function api<T>(paths: HomePaths, path: string): Promise<T> {
  const creds = loadCredentials(paths)
  if (!creds) throw new CliError(NO_SERVER_MESSAGE)
  let res: Response
  try {
    res = await fetch(`${creds.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${creds.apiToken}` } })
  } catch {
    throw new CliError(unreachableMessage(paths, creds.serverUrl))
  }
  if (res.status === 401) throw new CliError(refusedMessage(paths, creds.serverUrl))
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as Api.ApiError | null
    throw new CliError(body?.error.message ?? `${res.status} ${res.statusText}`)
  }
  return (await res.json()) as T
}

const fmtBytes = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`

export function buildCli(): Command {
  const program = new Command("overlord")
    .description("Every Claude Code session, from every machine: kept, seen live, searched, counted.")
    .version(DAEMON_VERSION)
    .option("--home <dir>", "Overlord's own folder (default ~/.overlord, or $OVERLORD_HOME)")
  const paths = () => homePaths(program.opts<{ home?: string }>().home)

  program
    .command("start")
    .description("watch Claude Code's session files and sync them (embedded server unless --server)")
    .option("--foreground", "stay attached to the terminal")
    .option("--claude-dir <dir>", "Claude Code's folder (default $CLAUDE_CONFIG_DIR or ~/.claude)")
    .option("--port <port>", "embedded server port", parsePort, DEFAULT_PORT)
    .option("--host <host>", "embedded server address (loopback unless you mean it)", "127.0.0.1")
    .option("--server <url>", "sync to this standalone server instead of the embedded one")
    .option("--name <name>", "this machine's name in the dashboard (kept for later starts; default: its host name)")
    .option(
      "--allow-remote",
      "run Claude Code when the server asks (remote commands; off unless set here or in the config)",
    )
    .action(
      async (opts: {
        foreground?: boolean
        claudeDir?: string
        port: number
        host: string
        server?: string
        allowRemote?: boolean
        name?: string
      }) => {
        const p = paths()
        const pid = runningPid(p)
        if (pid && pid !== process.pid) throw new CliError(alreadyRunning(pid, opts.allowRemote))
        const claudeDir = resolveClaudeDir(opts.claudeDir)
        const notFolder = notAFolder(claudeDir)
        if (notFolder) throw new CliError(notFolder)
        // The daemon makes the folder and waits for sessions there: a typo in $CLAUDE_CONFIG_DIR or
        // --claude-dir synced nothing, and nothing said which folder it watched (walkthrough-7).
        if (!opts.foreground && !existsSync(claudeDir))
          console.log(
            `note: ${claudeDir} does not exist yet (${opts.claudeDir ? "--claude-dir" : process.env.CLAUDE_CONFIG_DIR ? "$CLAUDE_CONFIG_DIR" : "Claude Code's default"}): sessions sync once Claude Code writes there`,
          )
        // Saved, so a detached daemon (and every later start) reads it; the server learns it at hello.
        if (opts.name) saveMachineName(p, opts.name)
        const pairing = loadServerCredentials(p)
        if (pairing && (!opts.server || opts.server.replace(/\/$/, "") === pairing.url))
          // A laptop offline (or a server behind a firewall that drops packets) must not hold up its
          // daemon: the name is checked again at the next start, and the daemon syncs once the server is back.
          await ensureUniqueName(
            p,
            pairing.url,
            pairing,
            (l) => console.log(l),
            START_NAME_CHECK_MS,
            Boolean(opts.name),
          )
        if (opts.foreground) {
          // One daemon per home, even when two starts passed the pid check above at the same moment.
          mkdirSync(p.home, { recursive: true, mode: 0o700 })
          if (!holdDaemonLock(p.home)) throw new CliError(alreadyRunning(await lockHolder(p), opts.allowRemote))
          // Now, not once the daemon is up (its layer writes it again): a start at this moment reads it.
          writeFileSync(p.pid, `${process.pid}\n`, { mode: 0o600 })
          runMain(
            Layer.launch(
              Daemon.layer({
                paths: p,
                claudeDir: resolveClaudeDir(opts.claudeDir),
                host: opts.host,
                port: opts.port,
                console: true,
                // Tuning for tests and benchmarks: small frames hit many more frame boundaries.
                ...(process.env.OVERLORD_CHUNK_BYTES ? { chunkBytes: Number(process.env.OVERLORD_CHUNK_BYTES) } : {}),
                ...(process.env.OVERLORD_WINDOW ? { window: Number(process.env.OVERLORD_WINDOW) } : {}),
                ...(process.env.OVERLORD_WINDOW_BYTES
                  ? { windowBytes: Number(process.env.OVERLORD_WINDOW_BYTES) }
                  : {}),
                ...(opts.server ? { serverUrl: opts.server.replace(/\/$/, "") } : {}),
                ...(opts.allowRemote ? { allowRemote: true } : {}),
                ...(process.env.OVERLORD_CLAUDE_PATH ? { claudePath: process.env.OVERLORD_CLAUDE_PATH } : {}),
              }),
            ).pipe(
              // One line, no stack: `startDetached` shows this line as the reason the daemon did not start.
              Effect.catch((error) =>
                error instanceof DaemonStartError
                  ? Effect.sync(() => {
                      console.error(`overlord: ${error.message}`)
                      if (runningPid(p) === process.pid) rmSync(p.pid, { force: true })
                      process.exit(1)
                    })
                  : Effect.fail(error),
              ),
            ),
          )
          return
        }
        await startDetached(p, opts.allowRemote)
      },
    )

  program
    .command("stop")
    .description("stop the running daemon")
    .action(async () => {
      const p = paths()
      const pid = runningPid(p)
      if (!pid) return console.log("overlord is not running")
      process.kill(pid, "SIGTERM")
      for (let i = 0; i < 100 && isRunning(pid); i++) await Bun.sleep(100)
      // A stuck daemon (walkthrough-7's unreadable-file loop) left the user to guess whether kill -9 loses anything.
      if (isRunning(pid))
        throw new CliError(
          `pid ${pid} did not stop within 10 s: it may be stuck (its log: ${p.log}); \`kill -9 ${pid}\` ends it, and nothing synced is lost (the next start resumes where the server stands)`,
        )
      console.log(`stopped (pid ${pid})`)
    })

  program
    .command("status")
    .description("sync health: connected, files tracked, bytes not yet synced, last error, what needs a look")
    .option("--json", "machine-readable")
    .option("--verbose", "list every warning, notice, re-read and in-place edit, not only the latest")
    .action((opts: { json?: boolean; verbose?: boolean }) => {
      const p = paths()
      const running = runningPid(p)
      const state = readJson<Daemon.DaemonState>(p.state)
      // The state of the daemon that runs, not of the one before it (a daemon starting writes its pid
      // file at once and its state once it is up).
      const pid = running !== null && state?.pid === running ? running : null
      // Written every 30 s at least (daemon.ts's heartbeat): older, the daemon cannot write it (a full
      // disk: walkthrough-7 saw "NOT connected, 7.4 MiB not yet synced" from its first second for as
      // long as the disk was full) or is stuck, and what it says is out of date.
      const stateAgeMs = pid && state?.updatedAt ? Date.now() - Date.parse(state.updatedAt) : 0
      const status = {
        running: running !== null,
        pid: running,
        starting: running !== null && pid === null,
        stale: stateAgeMs > STATE_STALE_MS,
        connected: pid !== null && (state?.connected ?? false),
        serverUrl: state?.serverUrl ?? loadCredentials(p)?.serverUrl ?? null,
        // The running daemon's (a dashboard rename reaches it at once), else what its next start says.
        machineName: (pid ? state?.machineName : undefined) ?? readJson<{ name?: string }>(p.machine)?.name ?? null,
        filesTracked: pid ? (state?.filesTracked ?? 0) : 0,
        // Kept when stopped: what was left to sync when the daemon last wrote its state.
        bytesPending: state?.bytesPending ?? 0,
        lastError: pid ? (state?.lastError ?? null) : null,
        warnings: pid ? (state?.warnings ?? []) : [],
        notices: pid ? (state?.notices ?? []) : [],
        // Files re-read from the start (truncated, replaced, rewritten), with reasons.
        resets: (pid ? state?.resets : undefined) ?? { count: { shrunk: 0, replaced: 0, rewritten: 0 }, latest: [] },
        editedInPlace: (pid ? state?.editedInPlace : undefined) ?? { count: 0, latest: [] },
        // Daytona sandboxes whose session files sync under machines of their own.
        sandboxes: (pid ? state?.sandboxes : undefined) ?? [],
        updatedAt: state?.updatedAt ?? null,
      }
      if (opts.json) return console.log(JSON.stringify(status, null, 2))
      if (!status.running) return console.log("overlord is not running (start it with `overlord start`)")
      if (status.starting) return console.log(`running (pid ${status.pid}), starting: it has not said how it is yet`)
      console.log(
        `running (pid ${status.pid}), ${status.connected ? "connected to" : "NOT connected to"} ${status.serverUrl}`,
      )
      if (status.machineName) console.log(`this machine: ${status.machineName}`)
      if (status.stale)
        console.log(
          `out of date: the daemon has not written its state (${p.state}) since ${status.updatedAt} (${Math.round(stateAgeMs / 1000)} s ago): is the disk full? Its log says why: ${p.log}`,
        )
      console.log(`files tracked: ${status.filesTracked}; not yet synced: ${fmtBytes(status.bytesPending)}`)
      if (status.filesTracked === 0 && state?.claudeDir)
        console.log(
          `no session files under ${join(state.claudeDir, "projects")} yet: if Claude Code keeps them elsewhere, \`overlord stop && overlord start --claude-dir <its folder>\` (or set $CLAUDE_CONFIG_DIR)`,
        )
      // The server's refusal cannot know the URL it is reached at; the status can.
      if (status.lastError)
        console.log(`last error: ${withServerUrl(status.lastError, status.serverUrl ?? "<server-url>")}`)
      // A daemon syncing to a paired server picks up a new login by itself (`server.json` is read again
      // when it changes); one that runs the embedded server (it has a dashboard link) cannot move, and a
      // logout leaves a paired one on its revoked token.
      const paired = pairedServerUrl(p)
      const embedded = state?.dashboardUrl != null
      if (state?.serverUrl && paired && embedded) {
        console.log(
          `this machine was paired with ${paired} after this daemon started with the embedded server: restart it to sync there (\`overlord stop && overlord start\`)`,
        )
      } else if (state?.serverUrl && !paired && !embedded) {
        console.log(
          `this machine is no longer paired, but this daemon still tries ${state.serverUrl}: it picks up the next \`overlord login\` by itself; restart it (\`overlord stop && overlord start\`) to sync to the embedded server instead`,
        )
      }
      // A sandbox's refusal is its laptop's (the same token), said the same way. `serverUrl` is missing
      // from a state written by an older daemon.
      for (const sb of status.sandboxes) {
        const lastError =
          sb.lastError && withServerUrl(sb.lastError, sb.serverUrl ?? status.serverUrl ?? "<server-url>")
        console.log(
          `sandbox ${sb.machineName}: ${sb.connected ? "connected" : "NOT connected"}, ${sb.filesTracked} files; not yet synced: ${fmtBytes(sb.bytesPending)}${lastError ? `; last error: ${lastError}` : ""}`,
        )
      }
      // One summary line per kind, then the latest few (all with --verbose): a real history has
      // hundreds of files with a notice, and a line each buried everything else.
      const latest = <T>(all: readonly T[]) => (opts.verbose ? all : all.slice(0, STATUS_LATEST))
      const shown = (n: number, total: number) => (n < total ? `; latest ${n}:` : ":")
      const { warnings, notices, resets, editedInPlace } = status
      if (warnings.length > 0) {
        // Oldest first in the state file; newest first here.
        const list = latest([...warnings].reverse())
        console.log(`warnings: ${warnings.length}${shown(list.length, warnings.length)}`)
        for (const w of list) console.log(`  ${w}`)
      }
      if (notices.length > 0) {
        const lines = notices.reduce((n, x) => n + x.count, 0)
        const list = latest([...notices].reverse())
        console.log(
          `unreadable lines (kept byte for byte): ${lines} in ${notices.length} file(s)${shown(list.length, notices.length)}`,
        )
        for (const n of list) console.log(`  ${n.fileKey}: ${n.count} line(s), last at ${n.last}`)
      }
      const resetTotal = resets.count.shrunk + resets.count.replaced + resets.count.rewritten
      if (resetTotal > 0) {
        const reasons = (["rewritten", "shrunk", "replaced"] as const)
          .filter((r) => resets.count[r] > 0)
          .map((r) => `${r} ${resets.count[r]}`)
          .join(", ")
        const list = latest(resets.latest)
        console.log(`re-read from the start: ${resetTotal} (${reasons})${shown(list.length, resetTotal)}`)
        for (const r of list) console.log(`  ${r.fileKey}: ${r.reason} at ${r.at}`)
      }
      if (editedInPlace.count > 0) {
        const list = latest(editedInPlace.latest)
        // Claude Code sets a session file's time (utimensat, no write) when `claude --resume` opens it
        // (seen with strace, walkthrough 3): "an edit … is not synced" after every resume read as data loss.
        console.log(
          `touched without growing: ${editedInPlace.count} file(s) (Claude Code does this when a session is resumed); their last synced bytes still match, only an edit in place further back would not be synced${shown(list.length, editedInPlace.count)}`,
        )
        for (const e of list) console.log(`  ${e.fileKey} at ${e.at}`)
      }
    })

  // ---- remote commands: `overlord run` (run-command.ts) ----
  program
    .command("run <prompt>")
    .description("run Claude Code on a machine through the server, streaming its output; exits with its code")
    .requiredOption("--project <dir>", "the project directory (one of the machine's session projects)")
    .option("--machine <id>", "the machine's id (default: this machine)")
    .option("--sandbox", "in a Daytona sandbox of that machine's daemon")
    .option("--resume <sessionId>", "continue this session")
    .option("--permission-mode <mode>", "Claude Code's permission mode for the run (default, acceptEdits, plan)")
    .option(
      "--allow-tools <list>",
      "answer permission prompts for these tools allow (comma-separated, e.g. Write,Bash)",
    )
    .action(
      async (
        prompt: string,
        opts: {
          project: string
          machine?: string
          sandbox?: boolean
          resume?: string
          allowTools?: string
          permissionMode?: string
        },
      ) => {
        try {
          process.exitCode = await runRemote(paths(), prompt, opts)
        } catch (error) {
          if (error instanceof RunError) throw new CliError(error.message)
          throw error
        }
      },
    )

  program
    .command("sessions")
    .description("list synced sessions")
    .option("--json", "machine-readable")
    .option(
      "--limit <n>",
      "how many, newest first",
      (v) => {
        // `--limit 0` listed one session (the server's least) and suggested `--limit 0` for more.
        const n = Number(v)
        if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a whole number, 1 or more")
        return n
      },
      50,
    )
    .action(async (opts: { json?: boolean; limit: number }) => {
      const list = await api<Api.SessionList>(paths(), `/sessions?limit=${opts.limit}`)
      // Without this line a user with more sessions than --limit saw the 50 newest as if they were all
      // (found in walkthrough 3: 56 sessions, 50 listed, nothing said). On stderr under --json, whose
      // stdout stays the array scripts parse.
      const more = list.nextCursor
        ? `${list.sessions.length} newest shown, there are more: overlord sessions --limit ${opts.limit * 10}`
        : null
      if (opts.json) {
        console.log(JSON.stringify(list.sessions, null, 2))
        if (more) console.error(more)
        return
      }
      for (const s of list.sessions) {
        const u = s.usage
        console.log(
          [
            s.sessionId,
            terminalSafe(s.cwd ?? s.projectDir),
            oneLineTitle(generatedLabel(s) ?? s.title ?? ""),
            `${s.firstAt ?? "-"} .. ${s.lastAt ?? "-"}`,
            sessionEntriesLabel(s),
            `in ${u.input} out ${u.output} cw ${u.cacheWrite} cr ${u.cacheRead}`,
            `$${u.costUsd.toFixed(4)}`,
          ].join("  "),
        )
      }
      if (more) console.log(more)
    })

  program
    .command("export <sessionId>")
    .description("write a session's lines exactly as the source file held them")
    .option("-o, --output <file>", "write to a file instead of stdout")
    .option("--agent <agentId>", "a subagent's transcript instead of the main one")
    .action(async (sessionId: string, opts: { output?: string; agent?: string }) => {
      const p = paths()
      const creds = loadCredentials(p)
      if (!creds) throw new CliError(NO_SERVER_MESSAGE)
      let file = ""
      if (opts.agent) {
        const detail = await api<Api.SessionDetail>(p, `/sessions/${encodeURIComponent(sessionId)}`)
        // Its file's name works too (`agent-<id>.jsonl`, as `ls` shows it).
        const agent = opts.agent.replace(/^agent-/, "").replace(/\.jsonl$/, "")
        const f = detail.files.find((x) => x.agentId === agent)
        const agents = detail.files.flatMap((x) => (x.agentId ? [x.agentId] : []))
        if (!f)
          throw new CliError(
            `session ${sessionId} has no subagent ${opts.agent}${agents.length > 0 ? ` (its subagents: ${agents.join(", ")})` : " (it has none)"}`,
          )
        file = `?file=${encodeURIComponent(f.fileKey)}`
      }
      const res = await fetch(`${creds.serverUrl}/api/v1/sessions/${encodeURIComponent(sessionId)}/export${file}`, {
        headers: { authorization: `Bearer ${creds.apiToken}` },
      }).catch(() => {
        throw new CliError(unreachableMessage(p, creds.serverUrl))
      })
      if (res.status === 401) throw new CliError(refusedMessage(p, creds.serverUrl))
      if (!res.ok)
        throw new CliError(
          res.status === 404
            ? `no session ${sessionId}${sessionId.length < 36 ? ": give its whole id (`overlord sessions` lists them)" : ""}`
            : `${res.status} ${res.statusText}`,
        )
      const bytes = new Uint8Array(await res.arrayBuffer())
      if (opts.output) {
        // A folder or a path that does not exist gave a stack trace (walkthrough-7).
        await writeFile(opts.output, bytes).catch((error: NodeJS.ErrnoException) => {
          throw new CliError(
            `cannot write ${opts.output}: ${error.code === "EISDIR" ? "it is a folder (give a file name)" : error.code === "ENOENT" ? "its folder does not exist" : error.message}`,
          )
        })
      } else process.stdout.write(bytes)
    })

  program
    .command("open")
    .description("print a fresh one-time sign-in link for the dashboard")
    .action(async () => {
      const p = paths()
      const creds = loadCredentials(p)
      if (!creds) throw new CliError(NO_SERVER_MESSAGE)
      const res = await fetch(`${creds.serverUrl}/api/v1/login-links`, {
        method: "POST",
        headers: { authorization: `Bearer ${creds.apiToken}` },
      }).catch(() => {
        throw new CliError(unreachableMessage(p, creds.serverUrl))
      })
      if (res.status === 401) throw new CliError(refusedMessage(p, creds.serverUrl))
      if (!res.ok) throw new CliError(`the server refused: ${res.status} ${await res.text()}`)
      console.log(`Dashboard: ${((await res.json()) as { url: string }).url}`)
    })

  program
    .command("doctor")
    .description("find Claude Code installs and session folders, and check permissions")
    .option("--claude-dir <dir>", "Claude Code's folder")
    .action((opts: { claudeDir?: string }) => {
      const problems = doctor(resolveClaudeDir(opts.claudeDir), paths())
      if (problems > 0) process.exitCode = 1
    })

  program
    .command("serve")
    .description("run the standalone server")
    .option("--port <port>", "port", parsePort, DEFAULT_PORT)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--database <path>", "SQLite database file (default under --home); shorthand for --database-url <path>")
    .option(
      "--database-url <url>",
      "the database: a SQLite file path, mysql://user:password@host:port/db (MySQL, MariaDB) or https://user:password@host (PlanetScale); default $DATABASE_URL",
    )
    .option(
      "--public-url <url>",
      "the https:// URL users open, when a reverse proxy serves this server (its Host and Origin are accepted; cookies become Secure)",
      (v: string) => {
        const url = parsePublicUrl(v)
        if (url instanceof PublicUrlError) throw new InvalidArgumentError(url.message)
        return url.origin
      },
    )
    .option(
      "--trust-proxy [addresses]",
      `behind a reverse proxy: take each client's address (for per-client rate limits) from X-Forwarded-For's right-most hop that is not one of these proxies (addresses or CIDR ranges, comma-separated; default ${LOOPBACK_PROXIES}, a proxy on this host)`,
      (v: string) => {
        const trusted = TrustedProxies.parse(v)
        if (trusted instanceof TrustProxyError) throw new InvalidArgumentError(trusted.message)
        return v
      },
    )
    .action(
      async (opts: {
        port: number
        host: string
        database?: string
        databaseUrl?: string
        publicUrl?: string
        trustProxy?: string | true
      }) => {
        const p = paths()
        // The engine: --database-url, else --database (a SQLite file), else $DATABASE_URL, else the default file.
        const { parseDatabaseUrl, DatabaseUrlError } = await import("./store-from-url.ts")
        if (opts.database !== undefined && opts.databaseUrl !== undefined) {
          throw new CliError("give --database or --database-url, not both")
        }
        const database =
          opts.database !== undefined
            ? { engine: "sqlite" as const, path: resolve(opts.database) }
            : parseDatabaseUrl(opts.databaseUrl ?? (process.env.DATABASE_URL || undefined) ?? p.database)
        if (database instanceof DatabaseUrlError) throw new CliError(database.message)
        const { serveProgram } = await import("./serve-command.ts")
        runMain(
          serveProgram({
            host: opts.host,
            port: opts.port,
            database,
            ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
            ...(opts.trustProxy ? { trustProxy: opts.trustProxy === true ? LOOPBACK_PROXIES : opts.trustProxy } : {}),
          }),
        )
      },
    )

  // Daytona: `overlord daytona snapshot`, `overlord sandboxes list|stop|rm` (remote/daytona-commands.ts).
  addDaytonaCommands(program, () => paths().home)

  // `overlord service install|uninstall|status`: start at login, restart after a crash (service/).
  addServiceCommands(program, paths)

  // `overlord login <url>`, `overlord logout`, `overlord keys create`: pairing with a standalone server (login-command.ts).
  addLoginCommands(program, paths)

  // Local AI (issue #13): --ollama-* on start and serve, `overlord search`, doctor's Ollama check (ai-commands.ts).
  addAiCommands(program, paths)

  return program
}

/** `overlord status`: a state older than this is out of date (the daemon writes it every 30 s at least). */
const STATE_STALE_MS = 90_000

const alreadyRunning = (pid: number | null, allowRemote?: boolean) =>
  `already running${pid ? ` (pid ${pid})` : ""}; \`overlord stop\` first${allowRemote ? ", then `overlord start --allow-remote`: remote commands are read at start" : ""}`

/** The daemon holding the home's lock: it writes the pid file right after taking it. */
async function lockHolder(p: HomePaths): Promise<number | null> {
  for (let i = 0; i < 20; i++) {
    const pid = runningPid(p)
    if (pid && pid !== process.pid) return pid
    await Bun.sleep(50)
  }
  return null
}

async function startDetached(p: HomePaths, allowRemote?: boolean): Promise<void> {
  // The same command line, run in the foreground by a detached child.
  // In the single executable argv[1] is its own virtual path, which it would read as a command.
  const argv = process.argv.slice(isCompiled() ? 2 : 1)
  const at = argv.indexOf("start")
  const args = [...argv.slice(0, at + 1), "--foreground", ...argv.slice(at + 1)]
  mkdirSync(p.home, { recursive: true, mode: 0o700 })
  const out = join(p.home, "daemon.out")
  const outStart = existsSync(out) ? statSync(out).size : 0
  const logFd = openSync(out, "a", 0o600)
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", logFd, logFd],
    env: process.env,
  })
  child.unref()
  for (let i = 0; i < 150; i++) {
    await Bun.sleep(100)
    const state = readJson<Daemon.DaemonState>(p.state)
    if (state && state.pid === child.pid && state.updatedAt) {
      console.log(`overlord started (pid ${child.pid})`)
      if (state.dashboardUrl) console.log(`Dashboard: ${state.dashboardUrl}`)
      return
    }
    if (child.exitCode !== null) break
  }
  // Another start at the same moment won the home's lock: say so, as a start a moment later would.
  // (Its daemon writes to daemon.out too: the last line there may be its, not the reason.)
  const other = runningPid(p)
  if (other !== null && other !== child.pid) throw new CliError(alreadyRunning(other, allowRemote))
  // The child's own one-line reason (a port in use, say), from what this start appended to daemon.out.
  // An error nothing caught comes first: the lines before it are what it broke (a file where the daemon
  // makes a folder gave "WebSocket was closed before the connection was established", or nothing at all
  // beside a stack trace: walkthrough-7). Effect prints a defect as "[time] ERROR (#1): Error: <message>",
  // Bun an uncaught error's message on a line of its own ("EEXIST: file already exists, mkdir '…'").
  const lines = readFileSync(out).subarray(outStart).toString("utf8").split("\n")
  const defect = lines
    .map((l) => /^\[[\d:.]+\] ERROR \(#\d+\): (?:\w*Error: )?(.+)$/.exec(l)?.[1] ?? /^(E[A-Z]+: .+)$/.exec(l)?.[1])
    .find((m) => m !== undefined)
  const reason =
    defect ??
    lines
      .filter((l) => l.startsWith("overlord: "))
      .pop()
      ?.slice("overlord: ".length)
  throw new CliError(`the daemon did not start${reason ? `: ${reason}` : ""}; see ${out} and ${p.log}`)
}

const statSafe = (path: string) => {
  try {
    return statSync(path)
  } catch {
    return null
  }
}

/**
 * The Claude folder or its `projects/` is there but not a folder. The daemon makes the folders it
 * needs, and a file in the way made it die with EEXIST, which a detached start reported as "connection
 * to http://127.0.0.1:7420: WebSocket was closed before the connection was established", and doctor
 * as "permission denied" (walkthrough-7).
 */
function notAFolder(claudeDir: string): string | null {
  for (const path of [claudeDir, join(claudeDir, "projects")]) {
    const s = statSafe(path)
    if (s === null) return null
    if (!s.isDirectory())
      return `${path} is a file, not a folder: Claude Code keeps its sessions in ${join(claudeDir, "projects")}; move the file away (or give --claude-dir, or set $CLAUDE_CONFIG_DIR, to the right folder)`
  }
  return null
}

function doctor(claudeDir: string, p: HomePaths): number {
  let problems = 0
  const ok = (m: string) => console.log(`ok    ${m}`)
  const bad = (m: string) => {
    problems += 1
    console.log(`FAIL  ${m}`)
  }
  // The daemon runs OVERLORD_CLAUDE_PATH when set (cli.ts's start), so that is the one to look for.
  const claudePath = process.env.OVERLORD_CLAUDE_PATH
  const which = claudePath ? (existsSync(claudePath) ? claudePath : null) : Bun.which("claude")
  if (which) ok(`Claude Code CLI found at ${which}`)
  else if (claudePath) bad(`OVERLORD_CLAUDE_PATH is ${claudePath}, which does not exist`)
  else
    console.log(
      "info  no `claude` on PATH (only needed to run commands from the dashboard; or set OVERLORD_CLAUDE_PATH)",
    )
  const projects = join(claudeDir, "projects")
  const notFolder = notAFolder(claudeDir)
  if (notFolder) bad(notFolder)
  else if (!existsSync(claudeDir)) bad(`${claudeDir} does not exist (set --claude-dir or $CLAUDE_CONFIG_DIR)`)
  else if (!existsSync(projects)) bad(`${projects} does not exist yet: has Claude Code been run?`)
  else {
    try {
      accessSync(projects, constants.R_OK | constants.X_OK)
      const top = readdirSync(projects, { withFileTypes: true })
      const dirs = top.filter((d) => d.isDirectory())
      // What the daemon does not follow (session-watcher.ts): linked project folders and session files.
      const links = top
        .filter((d) => d.isSymbolicLink() && (statSafe(join(projects, d.name))?.isDirectory() ?? false))
        .map((d) => d.name)
      let files = 0
      let unreadable = 0
      for (const d of dirs) {
        try {
          for (const f of readdirSync(join(projects, d.name), { withFileTypes: true })) {
            if (!f.name.endsWith(".jsonl")) continue
            if (f.isFile()) files += 1
            else if (f.isSymbolicLink()) links.push(`${d.name}/${f.name}`)
          }
        } catch {
          unreadable += 1
          bad(`cannot read ${join(projects, d.name)}`)
        }
      }
      ok(
        `${projects}: ${dirs.length} projects, ${files} session files${unreadable ? `, ${unreadable} unreadable` : ""}`,
      )
      if (links.length > 0)
        console.log(
          `warn  not synced, as symlinks under ${projects} are not followed: ${links.slice(0, 5).join(", ")}${links.length > 5 ? ` and ${links.length - 5} more` : ""}; to sync them, move the folders or files there (a link from their old place is fine)`,
        )
    } catch {
      bad(`cannot read ${projects}: permission denied`)
    }
  }
  // Claude Code deletes sessions after cleanupPeriodDays (issue #14 §3): Overlord keeps them.
  const cleanup = readCleanupPeriod(claudeDir)
  if (cleanup.problem) console.log(`info  ${cleanup.problem}`)
  console.log(
    `info  Claude Code deletes session files after ${cleanup.days} days without activity (cleanupPeriodDays, ${
      cleanup.source ?? "its default"
    }); Overlord keeps every session it synced, marked "kept by Overlord" once its file is gone`,
  )
  for (const extra of [join(process.env.HOME ?? "", ".config", "claude", "projects")]) {
    if (extra !== projects && existsSync(extra)) console.log(`info  another Claude Code folder exists: ${extra}`)
  }
  const pid = runningPid(p)
  if (pid) ok(`daemon running (pid ${pid})`)
  else console.log("info  daemon not running")
  // Doctor looks where this shell's settings point; the daemon where its start's did.
  const watching = pid ? readJson<Daemon.DaemonState>(p.state) : null
  if (watching?.pid === pid && watching.claudeDir && resolve(watching.claudeDir) !== resolve(claudeDir))
    console.log(
      `warn  the running daemon syncs ${join(watching.claudeDir, "projects")}, not ${projects}: to sync this one, \`overlord stop && overlord start --claude-dir ${claudeDir}\``,
    )
  doctorRemote(p, pid)
  if (existsSync(p.credentials)) {
    const mode = statSync(p.credentials).mode & 0o777
    if (mode & 0o077) bad(`${p.credentials} is readable by others (mode ${mode.toString(8)}): chmod 600 it`)
    else ok(`${p.credentials} is private`)
  }
  return problems
}

/**
 * Whether the dashboard's Run panel and `overlord run` can start Claude Code here: what the running
 * daemon told the server (its state file), else what its next start reads (`remote/config.json`; the
 * `--allow-remote` flag is not saved anywhere).
 */
function doctorRemote(p: HomePaths, pid: number | null): void {
  const configFile = remotePaths(p.home).config
  const turnOn = pid
    ? `turn them on with \`overlord stop && overlord start --allow-remote\` (or "enabled": true in ${configFile}, then restart the daemon)`
    : `turn them on with \`overlord start --allow-remote\` (or "enabled": true in ${configFile})`
  // Only this daemon's state: a stopped one's may still be there while a new one starts.
  const state = pid ? readJson<Daemon.DaemonState>(p.state) : null
  const remote = state?.pid === pid ? state.remote : undefined
  if (remote?.enabled) {
    console.log(
      `ok    remote commands on: the dashboard's Run panel and \`overlord run\` can start Claude Code in this machine's projects (${remote.maxConcurrent} at once; Daytona sandboxes ${remote.sandbox ? "on" : "off"}; bypassPermissions ${remote.bypassPermissions ? "allowed" : "not allowed"}; settings: ${configFile})`,
    )
    return
  }
  if (remote || !pid) {
    const problems: string[] = []
    const next = pid
      ? null
      : loadRemoteConfig(p.home, {}, { info: () => {}, warn: (m) => problems.push(m), error: () => {} })
    for (const m of problems) console.log(`warn  ${m}`)
    if (next?.enabled) console.log(`info  remote commands: on when the daemon starts (${configFile})`)
    else
      console.log(
        `info  remote commands off (the dashboard's Run panel and \`overlord run\` cannot start Claude Code here): ${turnOn}`,
      )
    return
  }
  console.log(
    state?.pid === pid
      ? `info  remote commands: this daemon does not say whether they are on (an older version; restart it to see): ${turnOn}`
      : "info  remote commands: not known yet (the daemon has not written its state since it started; run doctor again)",
  )
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv)
  } catch (error) {
    // A config.json that is not valid stops start and serve in their option hook: one sentence too.
    if (error instanceof CliError || error instanceof ConfigFileError) {
      console.error(`overlord: ${error.message}`)
      process.exitCode = 1
      return
    }
    throw error
  }
}
