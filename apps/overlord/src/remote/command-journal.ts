/**
 * The daemon's on-disk record of the command ids it has seen (`<home>/remote/seen.jsonl`), so that a
 * command runs at most once across redeliveries, reconnects and restarts.
 *
 * One JSON line per state change, fsync'd before the daemon acts on it: `started` before a command
 * runs (and before its ack), `exit` once its outcome is known. A command that is `started` with no
 * `exit` when the daemon opens the journal was cut short by a crash or a kill: it is recorded as
 * `interrupted` and never run again.
 *
 * `process` names the process a command runs as (its pid, which leads its process group, and when it
 * started, so a reused pid is not mistaken for it), so a restarted daemon can end what a killed one
 * left running. It is not fsync'd: it only matters while that process lives, and a power loss that
 * could lose the line ends the process too.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs"
import { dirname } from "node:path"
import type { Commands } from "@overlord/protocol"
import type { Logger } from "../logger.ts"

/** A process a command runs as: `since` tells it from a later process given the same pid. */
export interface CommandProcess {
  readonly pid: number
  readonly since: string
}

export type JournalLine =
  | { readonly commandId: string; readonly state: "started"; readonly at: string }
  | {
      readonly commandId: string
      readonly state: "process"
      readonly at: string
      readonly pid: number
      readonly since: string
    }
  | { readonly commandId: string; readonly state: "exit"; readonly at: string; readonly exit: Commands.CommandExit }

export type JournalEntry =
  | { readonly state: "started"; readonly process?: CommandProcess }
  | { readonly state: "exit"; readonly exit: Commands.CommandExit }

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const parseLine = (line: string): JournalLine | undefined => {
  let v: unknown
  try {
    v = JSON.parse(line)
  } catch {
    return undefined
  }
  if (!isRecord(v) || typeof v.commandId !== "string" || typeof v.at !== "string") return undefined
  if (v.state === "started") return { commandId: v.commandId, state: "started", at: v.at }
  if (v.state === "process" && typeof v.pid === "number" && Number.isSafeInteger(v.pid) && typeof v.since === "string")
    return { commandId: v.commandId, state: "process", at: v.at, pid: v.pid, since: v.since }
  if (v.state === "exit" && isRecord(v.exit) && v.exit.type === "command-exit")
    return { commandId: v.commandId, state: "exit", at: v.at, exit: v.exit as Commands.CommandExit }
  return undefined
}

export class CommandJournal {
  private readonly entries = new Map<string, JournalEntry>()
  private fd: number | undefined

  /** Reads the journal; a torn last line (a crash mid-write) is skipped with a warning. */
  constructor(
    readonly path: string,
    logger: Logger,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    let text = ""
    try {
      text = readFileSync(path, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
    }
    const lines = text.split("\n")
    for (const [i, line] of lines.entries()) {
      if (line === "") continue
      const parsed = parseLine(line)
      if (parsed === undefined) {
        logger.warn(`remote: ${path} line ${i + 1} is not a journal record; skipped`)
        continue
      }
      if (parsed.state === "process") {
        // Only while the command is still open: a process line after its exit changes nothing.
        if (this.entries.get(parsed.commandId)?.state === "started")
          this.entries.set(parsed.commandId, { state: "started", process: { pid: parsed.pid, since: parsed.since } })
        continue
      }
      this.entries.set(
        parsed.commandId,
        parsed.state === "exit" ? { state: "exit", exit: parsed.exit } : { state: "started" },
      )
    }
    this.fd = openSync(path, "a", 0o600)
    // A torn last line must not swallow the next record.
    if (text !== "" && !text.endsWith("\n")) writeSync(this.fd, "\n")
  }

  get(commandId: string): JournalEntry | undefined {
    return this.entries.get(commandId)
  }

  /** Commands that started and have no recorded outcome. */
  unfinished(): string[] {
    return [...this.entries].filter(([, e]) => e.state === "started").map(([id]) => id)
  }

  /** Appends and fsyncs: once this returns, a restart sees it. */
  started(commandId: string): void {
    this.append({ commandId, state: "started", at: new Date().toISOString() })
    this.entries.set(commandId, { state: "started" })
  }

  /** Records the process a started command runs as (not fsync'd: see the file's comment). */
  process(commandId: string, process: CommandProcess): void {
    if (this.entries.get(commandId)?.state !== "started") return
    this.append({ commandId, state: "process", at: new Date().toISOString(), ...process }, false)
    this.entries.set(commandId, { state: "started", process })
  }

  exited(exit: Commands.CommandExit): void {
    this.append({ commandId: exit.commandId, state: "exit", at: new Date().toISOString(), exit })
    this.entries.set(exit.commandId, { state: "exit", exit })
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }

  private append(line: JournalLine, sync = true): void {
    if (this.fd === undefined) throw new Error(`remote: ${this.path} is closed`)
    writeSync(this.fd, `${JSON.stringify(line)}\n`)
    if (sync) fsyncSync(this.fd)
  }
}
