/**
 * The daemon's side of remote commands: takes `command` and `command-input` messages (`accept`),
 * decides whether a command may run, runs it (Claude Code or an allowlisted program) and reports
 * back through `send`: `command-ack`, `command-event`s in order, one `command-exit`.
 *
 * What keeps it safe:
 * - nothing runs unless remote commands are enabled;
 * - a command runs only in a folder that is exactly the `cwd` of one of this machine's sessions, or one
 *   listed in the config's `projects`, compared after realpath (no `..`, no symlink out) — never in a
 *   folder merely inside one: a session once started in `~` or `/` would make every folder commandable;
 * - prompt size, run time and the number of commands running at once are limited; shell commands
 *   are off unless the config allowlists them (argv prefixes; no shell interprets them);
 * - each id is recorded on disk (`CommandJournal`) before it is acknowledged or run, so a redelivered
 *   command is answered from the record and a crash mid-run ends as `interrupted`, never as a rerun;
 * - an audit log records every command, refusal, cancel, interruption, exit and permission answer.
 *
 * It is not tied to a socket: the sync client hands it decoded messages and gives it a sink.
 */
import { realpath } from "node:fs/promises"
import { isAbsolute, join, normalize } from "node:path"
import type { Commands } from "@overlord/protocol"
import { type Logger, silentLogger } from "../logger.ts"
import { AuditLog } from "./audit-log.ts"
import { type ChildExit, endProcessTree, processStartTime, within } from "./child-process.ts"
import { ClaudeProcess } from "./claude-process.ts"
import { CommandJournal } from "./command-journal.ts"
import { type KeptSessionFiles, runInSandbox, type SandboxBackend } from "./sandbox-command.ts"
import { ShellProcess } from "./shell-process.ts"

export interface RemoteConfig {
  /** Off by default: `--allow-remote` or the config turns remote commands on. */
  readonly enabled: boolean
  /** Commands running at once on this machine. */
  readonly maxConcurrent: number
  /** Of a prompt or a follow-up, in UTF-8 bytes. */
  readonly maxPromptBytes: number
  /** When the command names none. */
  readonly defaultTimeoutMs: number
  /** A command's own `timeoutMs` is capped at this. */
  readonly maxTimeoutMs: number
  /** After a cancel's interrupt, how long the CLI has to wind down before its process group is ended. */
  readonly cancelGraceMs: number
  /** Allowed shell commands, as argv prefixes (`["git", "status"]` allows `git status -s`); empty: shell off. */
  readonly shellAllow: readonly (readonly string[])[]
  /** Whether a command may ask for `--permission-mode bypassPermissions` (tools run without asking). */
  readonly allowBypassPermissions: boolean
  /** Folders commands may run in besides the sessions' own `cwd`s (absolute; each exactly, not what is inside). */
  readonly projects: readonly string[]
}

export const DEFAULT_REMOTE_CONFIG: RemoteConfig = {
  enabled: false,
  maxConcurrent: 2,
  maxPromptBytes: 100 * 1024,
  defaultTimeoutMs: 30 * 60_000,
  maxTimeoutMs: 4 * 60 * 60_000,
  cancelGraceMs: 5000,
  shellAllow: [],
  allowBypassPermissions: false,
  projects: [],
}

export const remotePaths = (home: string) => ({
  dir: join(home, "remote"),
  seen: join(home, "remote", "seen.jsonl"),
  audit: join(home, "remote", "audit.jsonl"),
  config: join(home, "remote", "config.json"),
})

export interface CommandRunnerOptions {
  /** The daemon's home; the journal and the audit log live in `<home>/remote/`. */
  readonly home: string
  readonly config: Partial<RemoteConfig>
  /** Project directories named as `cwd` by this machine's session files. */
  readonly knownProjects: () => ReadonlySet<string>
  /** Where messages for the server go, in order. */
  readonly send: (message: Commands.CommandDaemonMessage) => void
  /** The `claude` executable (default: `claude` on PATH). */
  readonly claudePath?: string
  /** The environment commands run with (default: the daemon's own, so the laptop's login is used). */
  readonly env?: Readonly<Record<string, string | undefined>>
  readonly logger?: Logger
  /** Daytona sandboxes for `where: "sandbox"` commands; without them such commands are refused. */
  readonly sandboxes?: SandboxBackend
  /** Why there are none when its Daytona settings are there but unusable (a `daytona.json` not JSON). */
  readonly sandboxesOff?: string
  /** More environment for Claude Code in a sandbox (e.g. ANTHROPIC_BASE_URL). */
  readonly sandboxEnv?: Readonly<Record<string, string>>
  /** Syncs a sandbox's session files under its own machine once a run kept them (`sandbox-sync.ts`). */
  readonly onSandboxSessionFiles?: (kept: KeptSessionFiles) => Promise<void>
}

export interface Refusal {
  readonly reason: Commands.RefusalReason
  readonly message: string
}

/**
 * Where a command may run: `requested` resolved with realpath, if that is exactly a known project
 * directory (also resolved) — not a folder inside one: a session started in `~` or `/` must not make
 * every folder under it a project. A `..` segment is a `path-escape`. The refusal says how to allow a
 * folder: run Claude Code there once, or list it in `"projects"` of `<home>/remote/config.json`.
 */
export async function resolveProjectDir(
  requested: string,
  knownProjects: Iterable<string>,
): Promise<{ readonly dir: string } | Refusal> {
  if (!isAbsolute(requested) || requested.split("/").includes(".."))
    return { reason: "path-escape", message: `${requested}: only absolute paths without '..' are accepted` }
  const known = new Set<string>()
  for (const dir of knownProjects) {
    known.add(normalize(dir))
    const real = await realpath(dir).catch(() => undefined)
    if (real !== undefined) known.add(real)
  }
  const real = await realpath(requested).catch(() => undefined)
  if (real !== undefined && known.has(real)) return { dir: real }
  if (real === undefined && known.has(normalize(requested)))
    return { reason: "unknown-project", message: `${requested} does not exist` }
  return {
    reason: "unknown-project",
    message: `${requested} is not a folder Claude Code has been run in on this machine (a folder inside one does not count); to allow it, run Claude Code there once, or add it to "projects" in <overlord home>/remote/config.json and restart the daemon`,
  }
}

type Stop = "cancelled" | "timed-out" | "interrupted"

interface Running {
  /** Also its process group id. */
  readonly pid: number | undefined
  readonly send: (text: string) => boolean
  readonly answerPermission: (requestId: string, decision: "allow" | "deny", message?: string) => boolean
  readonly stop: (why: Stop) => void
  readonly done: Promise<Commands.CommandExit>
}

const bytes = (s: string) => Buffer.byteLength(s, "utf8")

/** The end of a process's stderr, for a failure's message (the whole of it went out as events). */
const TAIL_CHARS = 2000

export class CommandRunner {
  readonly config: RemoteConfig
  private readonly journal: CommandJournal
  private readonly audit: AuditLog
  private readonly logger: Logger
  private readonly running = new Map<string, Running>()
  /** Ids between receipt and start, so a redelivery during the checks is not run twice. */
  private readonly admitting = new Set<string>()
  /** Ending what a killed daemon's commands left running (see `open`). */
  private readonly reaping: Promise<void>[] = []
  private closed = false

  private constructor(private readonly options: CommandRunnerOptions) {
    this.config = { ...DEFAULT_REMOTE_CONFIG, ...options.config }
    this.logger = options.logger ?? silentLogger
    const paths = remotePaths(options.home)
    this.journal = new CommandJournal(paths.seen, this.logger)
    this.audit = new AuditLog(paths.audit, this.logger)
  }

  /**
   * Opens the journal; commands it shows started but never finished are reported `interrupted`
   * (through `send`, which may buffer until the server is connected) and never run. The process such
   * a command ran as, if it is still there (the same pid started at the same time), is ended with the
   * groups it started: a SIGKILLed daemon leaves its CLI running, still streaming its answer and able
   * to run tools, until it next writes to the dead daemon's pipe, maybe minutes later.
   */
  static open(options: CommandRunnerOptions): CommandRunner {
    const runner = new CommandRunner(options)
    for (const commandId of runner.journal.unfinished()) {
      const entry = runner.journal.get(commandId)
      const left = entry?.state === "started" ? entry.process : undefined
      if (left !== undefined && processStartTime(left.pid) === left.since) {
        runner.audit.write({ event: "ending-leftover", commandId, pid: left.pid })
        runner.logger.warn(`remote: command ${commandId}: ending process ${left.pid}, left running by a stopped daemon`)
        runner.reaping.push(
          endProcessTree(left.pid).catch((error: unknown) =>
            runner.logger.error(`remote: ending process ${left.pid} of ${commandId}: ${String(error)}`),
          ),
        )
      }
      const exit: Commands.CommandExit = {
        type: "command-exit",
        commandId,
        status: "interrupted",
        message: "the daemon stopped before this command finished; it is not run again",
      }
      runner.journal.exited(exit)
      runner.audit.write({ event: "interrupted", commandId, reason: "found unfinished at start-up" })
      runner.logger.warn(`remote: command ${commandId} was cut short by a daemon stop; marked interrupted`)
      runner.send(exit)
    }
    return runner
  }

  /** Ids of the commands running now. */
  runningIds(): string[] {
    return [...this.running.keys()]
  }

  /** The process group a running command leads (for `overlord status`, and to check it is gone). */
  processGroup(commandId: string): number | undefined {
    return this.running.get(commandId)?.pid
  }

  /** The outcome of a command: waits while it runs; undefined if this daemon never saw it. */
  async outcome(commandId: string): Promise<Commands.CommandExit | undefined> {
    const running = this.running.get(commandId)
    if (running) return running.done
    const entry = this.journal.get(commandId)
    return entry?.state === "exit" ? entry.exit : undefined
  }

  /**
   * Handles one message from the server. Resolves once a command has been recorded and acknowledged
   * (or refused), not when it ends; never rejects (problems are logged, and an unrecorded command
   * stays unacknowledged so the server redelivers it).
   */
  async accept(message: Commands.CommandServerMessage): Promise<void> {
    try {
      if (message.type === "command-input") this.input(message)
      else await this.admit(message)
    } catch (error) {
      this.logger.error(`remote: ${message.type} ${message.commandId}: ${String(error)}`)
    }
  }

  /** Stops every running command (reported `interrupted`) and closes the journal. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const done = [...this.running.values()].map((r) => {
      r.stop("interrupted")
      return r.done
    })
    await Promise.all([...done, ...this.reaping])
    this.journal.close()
  }

  /** The sink is the caller's; a failing sink must not take a running command (or the daemon) down. */
  private send(message: Commands.CommandDaemonMessage): void {
    try {
      this.options.send(message)
    } catch (error) {
      this.logger.error(`remote: sending ${message.type} for ${message.commandId}: ${String(error)}`)
    }
  }

  private async admit(command: Commands.Command): Promise<void> {
    const { commandId } = command
    this.audit.write({ event: "received", commandId, ...describe(command) })
    if (this.admitting.has(commandId) || this.running.has(commandId) || this.journal.get(commandId)) {
      this.audit.write({ event: "duplicate", commandId })
      this.send({ type: "command-ack", commandId, duplicate: true })
      const entry = this.journal.get(commandId)
      if (entry?.state === "exit") this.send(entry.exit)
      return
    }
    this.admitting.add(commandId)
    try {
      const checked = await this.check(command)
      if ("reason" in checked) return this.refuse(commandId, checked)
      // Checked again after the awaits above, and synchronously up to `running.set`.
      if (this.running.size >= this.config.maxConcurrent)
        return this.refuse(commandId, {
          reason: "concurrency-limit",
          message: `${this.running.size} commands are running; this machine allows ${this.config.maxConcurrent} at once`,
        })
      if (this.closed) return
      this.journal.started(commandId)
      this.send({ type: "command-ack", commandId })
      this.audit.write({ event: "started", commandId, cwd: checked.dir })
      let run: Running
      try {
        run =
          command.kind === "shell"
            ? this.runShell(command, checked.dir)
            : command.where === "sandbox"
              ? this.runSandbox(command, checked.dir)
              : this.runClaude(command, checked.dir)
      } catch (error) {
        // Runtimes differ on whether a failed spawn throws or emits `error`; both end as `failed`.
        this.finish({ type: "command-exit", commandId, status: "failed", message: `could not start: ${String(error)}` })
        return
      }
      this.running.set(commandId, run)
      this.recordProcess(commandId, run.pid)
    } finally {
      this.admitting.delete(commandId)
    }
  }

  private async check(command: Commands.Command): Promise<{ readonly dir: string } | Refusal> {
    const config = this.config
    if (!config.enabled)
      return {
        reason: "remote-disabled",
        message: "remote commands are off on this machine (start the daemon with --allow-remote to allow them)",
      }
    if (command.kind === "shell") {
      if (config.shellAllow.length === 0)
        return { reason: "shell-not-allowed", message: "shell commands are off on this machine" }
      const allowed = config.shellAllow.some(
        (prefix) =>
          prefix.length > 0 && prefix.length <= command.argv.length && prefix.every((a, i) => command.argv[i] === a),
      )
      if (!allowed)
        return {
          reason: "shell-not-allowed",
          message: `${JSON.stringify(command.argv)} is not on this machine's allowlist`,
        }
    } else {
      const size = bytes(command.prompt)
      if (size > config.maxPromptBytes)
        return {
          reason: "prompt-too-long",
          message: `the prompt has ${size} bytes; this machine accepts at most ${config.maxPromptBytes}`,
        }
      if (command.permissionMode === "bypassPermissions" && !config.allowBypassPermissions)
        return {
          reason: "permission-mode-not-allowed",
          message: "bypassPermissions is not allowed for remote commands on this machine",
        }
      if (command.where === "sandbox" && this.options.sandboxes === undefined)
        return {
          reason: "sandbox-unavailable",
          message:
            this.options.sandboxesOff !== undefined
              ? `this machine's Daytona settings are unusable: ${this.options.sandboxesOff}`
              : 'this machine has no Daytona settings: put "apiKey" and "anthropicApiKey" in <overlord home>/daytona.json (or set DAYTONA_API_KEY and ANTHROPIC_API_KEY) and restart the daemon',
        }
    }
    const projects = this.options.knownProjects()
    const listed = this.config.projects
    return resolveProjectDir(command.projectDir, listed.length === 0 ? projects : [...projects, ...listed])
  }

  private refuse(commandId: string, refusal: Refusal): void {
    const exit: Commands.CommandExit = {
      type: "command-exit",
      commandId,
      status: "refused",
      reason: refusal.reason,
      message: refusal.message,
    }
    this.journal.exited(exit)
    this.send({ type: "command-ack", commandId })
    this.audit.write({ event: "refused", commandId, reason: refusal.reason, message: refusal.message })
    this.send(exit)
  }

  private input(message: Commands.CommandInput): void {
    const { commandId, input } = message
    const running = this.running.get(commandId)
    if (running === undefined) {
      this.audit.write({ event: "input-ignored", commandId, input: input.kind, why: "not running" })
      this.logger.warn(`remote: ${input.kind} for command ${commandId}, which is not running; ignored`)
      return
    }
    switch (input.kind) {
      case "cancel":
        this.audit.write({ event: "cancel", commandId })
        running.stop("cancelled")
        return
      case "permission": {
        const accepted = running.answerPermission(input.requestId, input.decision, input.message)
        this.audit.write({
          event: "permission-answer",
          commandId,
          requestId: input.requestId,
          decision: input.decision,
          ...(input.message !== undefined ? { message: input.message } : {}),
          accepted,
        })
        if (!accepted)
          this.logger.warn(`remote: command ${commandId} has no open permission request ${input.requestId}`)
        return
      }
      case "message": {
        const size = bytes(input.text)
        if (size > this.config.maxPromptBytes) {
          this.audit.write({ event: "input-ignored", commandId, input: "message", why: "prompt-too-long", bytes: size })
          this.logger.warn(`remote: follow-up to ${commandId} has ${size} bytes, over the limit; ignored`)
          return
        }
        const accepted = running.send(input.text)
        this.audit.write({ event: "follow-up", commandId, bytes: size, text: excerpt(input.text), accepted })
        return
      }
    }
  }

  /** So a restarted daemon can end it if this one is killed (`open`); best effort. */
  private recordProcess(commandId: string, pid: number | undefined): void {
    if (pid === undefined) return
    const since = processStartTime(pid)
    if (since === undefined) return
    try {
      this.journal.process(commandId, { pid, since })
    } catch (error) {
      this.logger.error(`remote: recording the process of ${commandId}: ${String(error)}`)
    }
  }

  private timeoutOf(command: Commands.Command): number {
    return Math.min(command.timeoutMs ?? this.config.defaultTimeoutMs, this.config.maxTimeoutMs)
  }

  /** Numbers a command's events and sends them. */
  private emitter(commandId: string): (event: Commands.CommandEventBody) => void {
    let eventSeq = 0
    return (event) => this.send({ type: "command-event", commandId, eventSeq: eventSeq++, event })
  }

  private finish(exit: Commands.CommandExit): Commands.CommandExit {
    this.running.delete(exit.commandId)
    try {
      this.journal.exited(exit)
    } catch (error) {
      // The server still hears the outcome; after a restart the record says `interrupted`, never a rerun.
      this.logger.error(`remote: recording the exit of ${exit.commandId}: ${String(error)}`)
    }
    this.audit.write({ event: "exit", ...exitDetails(exit) })
    this.send(exit)
    return exit
  }

  private runClaude(command: Commands.ClaudeCommand, cwd: string): Running {
    const { commandId } = command
    const emit = this.emitter(commandId)
    const proc = ClaudeProcess.start({
      claudePath: this.options.claudePath ?? "claude",
      cwd,
      prompt: command.prompt,
      env: this.options.env ?? process.env,
      partialOutput: true,
      ...(command.resumeSessionId !== undefined ? { resumeSessionId: command.resumeSessionId } : {}),
      ...(command.model !== undefined ? { model: command.model } : {}),
      ...(command.permissionMode !== undefined ? { permissionMode: command.permissionMode } : {}),
      ...(command.allowTools !== undefined ? { allowTools: command.allowTools } : {}),
    })
    let stopped: Stop | undefined
    let stderrTail = ""
    const timeoutMs = this.timeoutOf(command)
    const stop = (why: Stop) => {
      if (stopped !== undefined) return
      stopped = why
      void proc.cancel(this.config.cancelGraceMs)
    }
    const timer = setTimeout(() => stop("timed-out"), timeoutMs)
    const done = (async (): Promise<Commands.CommandExit> => {
      const exit = await settle(
        proc,
        (async () => {
          for await (const event of proc.events) {
            // Text being written: relayed, not numbered (its `afterEventSeq`s count the events emitted here).
            if (event.kind === "partial") {
              this.send({ type: "command-partial", commandId, blocks: event.blocks })
              continue
            }
            if (event.kind === "permission-request")
              this.audit.write({
                event: "permission-request",
                commandId,
                requestId: event.requestId,
                toolName: event.toolName,
                input: event.input,
              })
            if (event.kind === "stderr") stderrTail = (stderrTail + event.text).slice(-TAIL_CHARS)
            emit(event)
          }
        })(),
      )
      clearTimeout(timer)
      const status = stopped ?? (exit.exitCode === 0 ? "completed" : "failed")
      return this.finish({
        type: "command-exit",
        commandId,
        status,
        ...(exit.exitCode !== null ? { exitCode: exit.exitCode } : {}),
        ...(proc.sessionId !== undefined ? { sessionId: proc.sessionId } : {}),
        ...claudeMissingHint(exitMessage(status, exit.spawnError, exit.signal, stderrTail, timeoutMs), exit.spawnError),
      })
    })()
    return {
      pid: proc.pid,
      send: (text) => proc.send(text),
      answerPermission: (requestId, decision, message) => proc.answerPermission(requestId, decision, message),
      stop,
      done,
    }
  }

  /** Claude Code in the project's Daytona sandbox (`remote/sandbox-command.ts`). */
  private runSandbox(command: Commands.ClaudeCommand, projectDir: string): Running {
    const { commandId } = command
    const sandboxes = this.options.sandboxes
    if (sandboxes === undefined) throw new Error("no sandboxes configured")
    const run = runInSandbox({
      home: this.options.home,
      sandboxes,
      ...(this.options.sandboxEnv !== undefined ? { env: this.options.sandboxEnv } : {}),
      command,
      projectDir,
      emit: this.emitter(commandId),
      logger: this.logger,
      ...(this.options.onSandboxSessionFiles !== undefined
        ? { onSessionFiles: this.options.onSandboxSessionFiles }
        : {}),
    })
    const timeoutMs = this.timeoutOf(command)
    const timer = setTimeout(() => run.stop("timed-out"), timeoutMs)
    const done = run.done.then(
      (outcome) => {
        clearTimeout(timer)
        const message =
          outcome.status === "timed-out" ? `stopped after ${timeoutMs} ms, the command's time limit` : outcome.message
        return this.finish({
          type: "command-exit",
          commandId,
          ...outcome,
          ...(message !== undefined ? { message } : {}),
        })
      },
      (error: unknown) => {
        clearTimeout(timer)
        return this.finish({ type: "command-exit", commandId, status: "failed", message: String(error) })
      },
    )
    return { pid: undefined, send: () => false, answerPermission: () => false, stop: run.stop, done }
  }

  private runShell(command: Commands.ShellCommand, cwd: string): Running {
    const { commandId } = command
    const emit = this.emitter(commandId)
    const proc = ShellProcess.start(command.argv, cwd, this.options.env ?? process.env)
    let stopped: Stop | undefined
    let stderrTail = ""
    const timeoutMs = this.timeoutOf(command)
    const stop = (why: Stop) => {
      if (stopped !== undefined) return
      stopped = why
      void proc.kill()
    }
    const timer = setTimeout(() => stop("timed-out"), timeoutMs)
    const done = (async (): Promise<Commands.CommandExit> => {
      const exit = await settle(
        proc,
        (async () => {
          for await (const event of proc.events) {
            if (event.kind === "stderr") stderrTail = (stderrTail + event.text).slice(-TAIL_CHARS)
            emit(event)
          }
        })(),
      )
      clearTimeout(timer)
      const status = stopped ?? (exit.exitCode === 0 ? "completed" : "failed")
      return this.finish({
        type: "command-exit",
        commandId,
        status,
        ...(exit.exitCode !== null ? { exitCode: exit.exitCode } : {}),
        ...exitMessage(status, exit.spawnError, exit.signal, stderrTail, timeoutMs),
      })
    })()
    return { pid: proc.pid, send: () => false, answerPermission: () => false, stop, done }
  }
}

/** How long a command's output may keep flowing after its process exited (what was written is read). */
const DRAIN_MS = 2000

/**
 * After the process exits: end whatever it left in its group (a command leaves nothing running),
 * let its output drain, and stop reading pipes that something which escaped the group still holds.
 */
async function settle(
  proc: {
    readonly exited: Promise<ChildExit>
    readonly kill: () => Promise<void>
    readonly closeOutput: () => void
  },
  drained: Promise<void>,
): Promise<ChildExit> {
  const exit = await proc.exited
  await proc.kill()
  if (
    (await within(
      drained.then(() => true),
      DRAIN_MS,
    )) !== true
  ) {
    proc.closeOutput()
    await drained
  }
  return exit
}

/**
 * A daemon without Claude Code said only `could not start: Executable not found in $PATH: "claude"`:
 * what to do is said too (a service unit's PATH is not the shell's).
 */
function claudeMissingHint(exit: { message?: string }, spawnError: Error | undefined): { message?: string } {
  const missing =
    spawnError !== undefined &&
    ((spawnError as NodeJS.ErrnoException).code === "ENOENT" || /not found/i.test(spawnError.message))
  return missing && exit.message !== undefined
    ? {
        message: `${exit.message} (install Claude Code on this machine, or point its daemon at it with OVERLORD_CLAUDE_PATH=/path/to/claude, then restart the daemon)`,
      }
    : exit
}

function exitMessage(
  status: Commands.ExitStatus,
  spawnError: Error | undefined,
  signal: NodeJS.Signals | null,
  stderrTail: string,
  timeoutMs: number,
): { message?: string } {
  if (spawnError) return { message: `could not start: ${spawnError.message}` }
  switch (status) {
    case "cancelled":
      return { message: "cancelled by the user" }
    case "timed-out":
      return { message: `stopped after ${timeoutMs} ms, the command's time limit` }
    case "interrupted":
      return { message: "the daemon stopped while the command ran" }
    case "failed": {
      const tail = stderrTail.trim()
      return { message: tail !== "" ? tail : signal ? `ended by ${signal}` : "failed" }
    }
    default:
      return {}
  }
}

/** What the owner reads in the audit log of a text: its first 4,000 characters (prompts can be 100 KiB). */
const excerpt = (text: string): string => (text.length > 4000 ? `${text.slice(0, 4000)}…` : text)

/** What the audit log keeps of a command: what, where and with which options. */
function describe(command: Commands.Command): Record<string, unknown> {
  const by = command.requestedBy !== undefined ? { requestedBy: command.requestedBy } : {}
  if (command.kind === "shell") return { kind: "shell", projectDir: command.projectDir, argv: command.argv, ...by }
  return {
    kind: "claude",
    ...by,
    projectDir: command.projectDir,
    promptBytes: bytes(command.prompt),
    prompt: excerpt(command.prompt),
    ...(command.resumeSessionId !== undefined ? { resumeSessionId: command.resumeSessionId } : {}),
    ...(command.model !== undefined ? { model: command.model } : {}),
    ...(command.permissionMode !== undefined ? { permissionMode: command.permissionMode } : {}),
    ...(command.allowTools !== undefined ? { allowTools: command.allowTools } : {}),
    ...(command.where !== undefined ? { where: command.where } : {}),
  }
}

function exitDetails(exit: Commands.CommandExit): Record<string, unknown> & { commandId: string } {
  const { type: _type, ...rest } = exit
  return rest
}
