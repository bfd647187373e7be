/**
 * What the Claude Code runner and the shell runner share: a child started in a process group of its
 * own (so ending a command ends everything it started), its output cut into lines or text, and an
 * event queue a single reader drains with `for await`.
 */
import { type ChildProcess, spawn } from "node:child_process"

export interface ChildExit {
  /** null when the child was ended by a signal or never started. */
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  /** Set when the program could not be started (e.g. ENOENT); its cause is kept. */
  readonly spawnError?: Error
}

/**
 * Starts `argv` as the leader of a new process group (`detached`: setsid), so `killGroup(pid)`
 * reaches the CLI's own children too (Bash tool commands, MCP servers).
 */
export function spawnGroupLeader(
  argv: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string | undefined>>,
): { readonly child: ChildProcess; readonly exited: Promise<ChildExit> } {
  const [program, ...args] = argv
  if (program === undefined) throw new Error("spawnGroupLeader: empty argv")
  const child = spawn(program, args, { cwd, env: { ...env }, detached: true, stdio: ["pipe", "pipe", "pipe"] })
  const exited = new Promise<ChildExit>((resolve) => {
    let spawnError: Error | undefined
    child.once("error", (error) => {
      spawnError = error
      // A child that never started emits no `close` on every runtime: settle here too.
      if (child.pid === undefined) resolve({ exitCode: null, signal: null, spawnError: error })
    })
    child.once("close", (exitCode, signal) =>
      resolve(spawnError ? { exitCode, signal, spawnError } : { exitCode, signal }),
    )
  })
  // Writes after the child has gone fail with EPIPE; the exit tells the story, not the write.
  child.stdin?.on("error", () => {})
  return { child, exited }
}

/** Signals every process of the group `pgid`; false when none is left (ESRCH). */
export function killGroup(pgid: number, signal: NodeJS.Signals | 0 = "SIGTERM"): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false
    throw error
  }
}

/** True while any process of the group `pgid` is alive. */
export function groupAlive(pgid: number): boolean {
  return killGroup(pgid, 0)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Ends the group: SIGTERM, then SIGKILL to whatever is still there after `termGraceMs`. Resolves
 * once the group is gone (or after the SIGKILL, which cannot be refused).
 */
export async function endGroup(pgid: number, termGraceMs = 2000): Promise<void> {
  if (!killGroup(pgid, "SIGTERM")) return
  for (let waited = 0; waited < termGraceMs; waited += 50) {
    await sleep(50)
    if (!groupAlive(pgid)) return
  }
  killGroup(pgid, "SIGKILL")
  // A SIGKILLed process still needs its parent to reap it; zombies count as alive for kill(0).
  for (let waited = 0; waited < 2000 && groupAlive(pgid); waited += 50) await sleep(50)
}

/** Resolves with the promise's value, or with `undefined` after `ms`. */
export const within = <T>(promise: Promise<T>, ms: number): Promise<T | undefined> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      () => {
        clearTimeout(timer)
        resolve(undefined)
      },
    )
  })

/** An unbounded queue with one reader; `end()` finishes the reader's loop once it has drained. */
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = []
  private ended = false
  private wake: (() => void) | undefined

  push(item: T): void {
    if (this.ended) return
    this.items.push(item)
    this.wake?.()
  }

  end(): void {
    this.ended = true
    this.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift()
      if (item !== undefined) {
        yield item
        continue
      }
      if (this.ended) return
      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
      this.wake = undefined
    }
  }
}

/** Cuts a byte stream into lines ("\n"), decoding UTF-8 across chunk boundaries. */
export function onLines(stream: NodeJS.ReadableStream, line: (text: string) => void, end: () => void): void {
  const decoder = new TextDecoder()
  let pending = ""
  stream.on("data", (chunk: Uint8Array) => {
    pending += decoder.decode(chunk, { stream: true })
    let newline = pending.indexOf("\n")
    while (newline >= 0) {
      line(pending.slice(0, newline))
      pending = pending.slice(newline + 1)
      newline = pending.indexOf("\n")
    }
  })
  stream.on("end", () => {
    pending += decoder.decode()
    if (pending !== "") line(pending)
    end()
  })
}

/** Decodes a byte stream as UTF-8 text chunks. */
export function onText(stream: NodeJS.ReadableStream, text: (chunk: string) => void, end: () => void): void {
  const decoder = new TextDecoder()
  stream.on("data", (chunk: Uint8Array) => {
    const s = decoder.decode(chunk, { stream: true })
    if (s !== "") text(s)
  })
  stream.on("end", () => {
    const s = decoder.decode()
    if (s !== "") text(s)
    end()
  })
}
