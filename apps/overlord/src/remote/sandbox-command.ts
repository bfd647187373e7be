/**
 * A `kind: "claude"` command with `where: "sandbox"`: Claude Code runs in the project's Daytona
 * sandbox instead of on this machine. The runner has already checked and journalled the command;
 * this finds (or makes) the sandbox, brings the laptop's code to it, runs Claude Code there and
 * turns its stream-json stdout into the same `cli` events a local run emits (stderr into `stderr`
 * events). When the run is over, the sandbox's session files are copied to
 * `<home>/sandboxes/<machineName>/projects/`, to be synced under the sandbox's machine name.
 *
 * Sandbox runs take no follow-ups and no permission answers: Claude Code runs there with `-p`.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { dirname, join, normalize } from "node:path"
import type { Commands } from "@overlord/protocol"
import type { Schema } from "effect"
import type { Logger } from "../logger.ts"
import { DaytonaSandboxError } from "./daytona-errors.ts"
import type { DaytonaSandboxes } from "./daytona-sandbox.ts"

/** What the runner needs of `DaytonaSandboxes` (tests may pass the real one). */
export type SandboxBackend = Pick<DaytonaSandboxes, "ensureSandbox" | "syncCode" | "runClaude" | "downloadSessionFiles">

export type SandboxStop = "cancelled" | "timed-out" | "interrupted"

export interface SandboxRunOptions {
  readonly home: string
  readonly sandboxes: SandboxBackend
  /** More environment for Claude Code in the sandbox (e.g. ANTHROPIC_BASE_URL). */
  readonly env?: Readonly<Record<string, string>>
  readonly command: Commands.ClaudeCommand
  /** The project's directory on this machine (already checked). */
  readonly projectDir: string
  readonly emit: (event: Commands.CommandEventBody) => void
  readonly logger: Logger
}

export interface SandboxRun {
  readonly stop: (why: SandboxStop) => void
  /** The outcome, without `type`/`commandId`: exit status, code, session id, message. */
  readonly done: Promise<SandboxOutcome>
}

export interface SandboxOutcome {
  readonly status: Commands.ExitStatus
  readonly exitCode?: number
  readonly sessionId?: string
  readonly message?: string
}

const TAIL_CHARS = 2000

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Where a sandbox's session files are kept on this machine. */
export const sandboxProjectsDir = (home: string, machineName: string): string =>
  join(home, "sandboxes", machineName, "projects")

export function runInSandbox(options: SandboxRunOptions): SandboxRun {
  const { command, sandboxes, emit } = options
  let stopped: SandboxStop | undefined
  let cancel: (() => Promise<void>) | undefined
  let sessionId: string | undefined
  let stderrTail = ""
  const stop = (why: SandboxStop) => {
    if (stopped !== undefined) return
    stopped = why
    void cancel?.().catch((e: unknown) => options.logger.warn(`remote: cancelling a sandbox run: ${String(e)}`))
  }
  const stoppedOutcome = (why: SandboxStop): SandboxOutcome => ({
    status: why,
    ...(sessionId !== undefined ? { sessionId } : {}),
    message:
      why === "cancelled"
        ? "cancelled by the user"
        : why === "timed-out"
          ? "stopped at the command's time limit"
          : "the daemon stopped while the command ran",
  })

  const onLine = (line: string) => {
    if (line.trim() === "") return
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch {
      emit({ kind: "stdout", text: `${line}\n` })
      return
    }
    if (!isRecord(message)) {
      emit({ kind: "stdout", text: `${line}\n` })
      return
    }
    if (typeof message.session_id === "string") sessionId = message.session_id
    emit({ kind: "cli", message: message as Schema.JsonObject })
  }

  const done = (async (): Promise<SandboxOutcome> => {
    let ref: Awaited<ReturnType<SandboxBackend["ensureSandbox"]>> | undefined
    let outcome: SandboxOutcome
    try {
      ref = await sandboxes.ensureSandbox(options.projectDir)
      if (stopped) return stoppedOutcome(stopped)
      const synced = await sandboxes.syncCode(ref, options.projectDir)
      if (stopped) return stoppedOutcome(stopped)
      const handle = await sandboxes.runClaude(ref, {
        prompt: command.prompt,
        cwd: synced.cwd,
        ...(command.resumeSessionId !== undefined ? { resume: command.resumeSessionId } : {}),
        ...(command.model !== undefined ? { model: command.model } : {}),
        ...(command.permissionMode !== undefined ? { permissionMode: command.permissionMode } : {}),
        ...(options.env !== undefined ? { env: options.env } : {}),
      })
      cancel = handle.cancel
      if (stopped) void handle.cancel().catch(() => {})
      const out = (async () => {
        let pending = ""
        for await (const chunk of handle.stdout) {
          pending += chunk
          const lines = pending.split("\n")
          pending = lines.pop() ?? ""
          for (const line of lines) onLine(line)
        }
        onLine(pending)
      })()
      const err = (async () => {
        for await (const text of handle.stderr) {
          stderrTail = (stderrTail + text).slice(-TAIL_CHARS)
          emit({ kind: "stderr", text })
        }
      })()
      const [, , exitCode] = await Promise.all([out, err, handle.exitCode])
      if (stopped) outcome = stoppedOutcome(stopped)
      else {
        const tail = stderrTail.trim()
        outcome =
          exitCode === 0
            ? { status: "completed", exitCode }
            : {
                status: "failed",
                ...(exitCode !== null ? { exitCode } : {}),
                message: tail !== "" ? tail : exitCode === null ? "the sandbox ended the run" : "failed",
              }
        if (sessionId !== undefined) outcome = { ...outcome, sessionId }
      }
    } catch (error) {
      if (stopped && ref === undefined) return stoppedOutcome(stopped)
      outcome = {
        status: stopped ?? "failed",
        ...(sessionId !== undefined ? { sessionId } : {}),
        message:
          error instanceof DaytonaSandboxError
            ? error.message
            : `the sandbox run failed: ${error instanceof Error ? error.message : String(error)}`,
      }
    }
    if (ref !== undefined) {
      try {
        await keepSessionFiles(options.home, await sandboxes.downloadSessionFiles(ref))
      } catch (error) {
        options.logger.warn(`remote: copying the session files of sandbox ${ref.name}: ${String(error)}`)
      }
    }
    return outcome
  })()
  return { stop, done }
}

/**
 * Writes the sandbox's session files under `<home>/sandboxes/<machineName>/projects/`, each only if
 * its bytes changed (through a temporary file, so a reader never sees half of one). Returns the
 * paths written.
 */
export async function keepSessionFiles(
  home: string,
  downloaded: { readonly machineName: string; readonly files: readonly { relativePath: string; bytes: Uint8Array }[] },
): Promise<string[]> {
  if (downloaded.machineName === "" || downloaded.machineName.includes("/") || downloaded.machineName.startsWith("."))
    throw new Error(`unusable sandbox machine name ${JSON.stringify(downloaded.machineName)}`)
  const root = sandboxProjectsDir(home, downloaded.machineName)
  const written: string[] = []
  for (const file of downloaded.files) {
    const rel = normalize(file.relativePath)
    if (rel.startsWith("/") || rel.split("/").includes("..")) continue
    const path = join(root, rel)
    const existing = await readFile(path).catch(() => undefined)
    if (existing !== undefined && Buffer.from(file.bytes).equals(existing)) continue
    await mkdir(dirname(path), { recursive: true })
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, file.bytes)
    await rename(tmp, path)
    written.push(path)
  }
  return written
}
