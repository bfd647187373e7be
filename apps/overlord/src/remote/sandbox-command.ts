/**
 * A `kind: "claude"` command with `where: "sandbox"`: Claude Code runs in the project's Daytona
 * sandbox instead of on this machine. The runner has already checked and journalled the command;
 * this finds (or makes) the sandbox, brings the laptop's code to it, runs Claude Code there and
 * turns its stream-json stdout into the same `cli` events a local run emits (stderr into `stderr`
 * events). When the run is over, its changes to the project are pulled back as a git patch (a
 * `patch` event, and a file under `<home>/sandboxes/<folder>/patches/`), and the sandbox's session
 * files are copied to `<home>/sandboxes/<folder>/projects/` and handed to `onSessionFiles`, which
 * syncs them under the sandbox's own machine (`sandbox-sync.ts`) before the exit is reported.
 *
 * Sandbox runs take no follow-ups and no permission answers: Claude Code runs there with `-p`.
 */
import { appendFile, mkdir, readFile, rename, writeFile } from "node:fs/promises"
import { basename, dirname, join, normalize } from "node:path"
import { Commands } from "@overlord/protocol"
import type { Schema } from "effect"
import type { Logger } from "../logger.ts"
import { DaytonaSandboxError } from "./daytona-errors.ts"
import { type DaytonaSandboxes, machineNameFor } from "./daytona-sandbox.ts"

const errorText = (error: unknown): string =>
  error instanceof DaytonaSandboxError ? error.message : error instanceof Error ? error.message : String(error)

/** What the runner needs of `DaytonaSandboxes` (tests may pass the real one). */
export type SandboxBackend = Pick<
  DaytonaSandboxes,
  "ensureSandbox" | "syncCode" | "runClaude" | "downloadSessionFiles"
> &
  Partial<Pick<DaytonaSandboxes, "pullPatch">>

/** A sandbox whose session files were just kept on this machine: what `onSessionFiles` is told. */
export interface KeptSessionFiles {
  readonly sandbox: { readonly id: string; readonly name: string }
  /** The folder under `<home>/sandboxes` the files are in. */
  readonly folder: string
  /** The project folder's name on this machine (for the sandbox machine's name). */
  readonly projectName: string
  /** Paths written (changed) by this download. */
  readonly written: readonly string[]
  /**
   * The daemon is stopping (the run was interrupted): start the sync but do not wait for it; the
   * files are on disk, and the next start resumes the sandbox's machine and ships them.
   */
  readonly interrupted: boolean
}

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
  /** Syncs the kept session files under the sandbox's machine; the exit waits for it. */
  readonly onSessionFiles?: (kept: KeptSessionFiles) => Promise<void>
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

/** Where the patch a sandbox command produced is kept on this machine. */
export const sandboxPatchPath = (home: string, folder: string, commandId: string): string =>
  join(home, "sandboxes", folder, "patches", `${commandId}.patch`)

/** The paths a git patch changes (`diff --git a/X b/Y` → Y), at most 1,000. */
export const patchFiles = (patch: Uint8Array): string[] => {
  const files: string[] = []
  for (const m of Buffer.from(patch)
    .toString("latin1")
    .matchAll(/^diff --git a\/.*? b\/(.*)$/gm)) {
    if (files.length >= 1000) break
    files.push(Buffer.from(m[1]!, "latin1").toString("utf8"))
  }
  return files
}

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

  /**
   * The run's changes to the project as a patch against the tree `syncCode` sent: kept on this machine
   * and sent as a `patch` event (base64) when small enough. None when nothing changed.
   */
  const pullPatch = async (ref: Awaited<ReturnType<SandboxBackend["ensureSandbox"]>>) => {
    if (sandboxes.pullPatch === undefined) return
    try {
      const patch = await sandboxes.pullPatch(ref)
      if (patch.length === 0) return
      const savedAs = sandboxPatchPath(options.home, machineNameFor(ref.name), command.commandId)
      await mkdir(dirname(savedAs), { recursive: true })
      await writeFile(savedAs, patch, { mode: 0o600 })
      emit({
        kind: "patch",
        bytes: patch.length,
        ...(patch.length <= Commands.MAX_PATCH_EVENT_BYTES ? { base64: Buffer.from(patch).toString("base64") } : {}),
        files: patchFiles(patch),
        savedAs,
      })
    } catch (error) {
      options.logger.warn(`remote: pulling the changes of sandbox ${ref.name}: ${String(error)}`)
      emit({ kind: "stderr", text: `overlord: could not pull the sandbox's changes back: ${errorText(error)}\n` })
    }
  }

  const done = (async (): Promise<SandboxOutcome> => {
    let ref: Awaited<ReturnType<SandboxBackend["ensureSandbox"]>> | undefined
    let codeSynced = false
    let outcome: SandboxOutcome
    try {
      ref = await sandboxes.ensureSandbox(options.projectDir)
      if (stopped) return stoppedOutcome(stopped)
      const synced = await sandboxes.syncCode(ref, options.projectDir)
      codeSynced = true
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
    // Not while the daemon stops: it runs a command in the sandbox, and the changes stay there.
    if (ref !== undefined && codeSynced && stopped !== "interrupted") await pullPatch(ref)
    if (ref !== undefined) {
      try {
        const downloaded = await sandboxes.downloadSessionFiles(ref)
        const written = await keepSessionFiles(options.home, downloaded)
        await options.onSessionFiles?.({
          sandbox: { id: ref.id, name: ref.name },
          folder: downloaded.machineName,
          projectName: basename(options.projectDir),
          written,
          interrupted: stopped === "interrupted",
        })
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
 * its bytes changed. A file that only grew (Claude Code appends; a resumed session grows its file) gets
 * the new bytes appended in place, so the sync engine sees an append on the same inode; any other
 * change replaces it through a temporary file, so a reader never sees half of one. (Replacing every
 * grown file gave it a new inode each time: the engine re-read it from byte 0 as "replaced" and the
 * server re-verified every line it already had.) Returns the paths written.
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
    const bytes = Buffer.from(file.bytes)
    if (existing !== undefined && bytes.equals(existing)) continue
    if (
      existing !== undefined &&
      bytes.length > existing.length &&
      bytes.subarray(0, existing.length).equals(existing)
    ) {
      await appendFile(path, bytes.subarray(existing.length))
      written.push(path)
      continue
    }
    await mkdir(dirname(path), { recursive: true })
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, file.bytes)
    await rename(tmp, path)
    written.push(path)
  }
  return written
}
