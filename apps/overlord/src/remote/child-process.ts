/**
 * What the Claude Code runner and the shell runner share: a child started in a process group of its
 * own (so ending a command ends everything it started), its output cut into lines or text, and an
 * event queue a single reader drains with `for await`.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { promisify } from "node:util"

const execFileAsync = promisify(execFile)

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
      // A child that never started emits no `exit`: settle here.
      if (child.pid === undefined) resolve({ exitCode: null, signal: null, spawnError: error })
    })
    // `exit`, not `close`: a descendant that outlives the leader may hold its stdout open for hours.
    child.once("exit", (exitCode, signal) =>
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

/**
 * When process `pid` started, as an opaque string that a later process given the same pid does not
 * share; undefined when there is no such process. Linux: the start time in clock ticks since boot
 * (field 22 of /proc/<pid>/stat, a read of ~0.05 ms); elsewhere `ps -o lstart=` (to the second).
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after `(comm)`, which may itself hold spaces: state is the first, starttime the 20th.
    return `linux:${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`
  } catch (error) {
    if (process.platform === "linux" || (error as NodeJS.ErrnoException).code !== "ENOENT") return undefined
  }
  try {
    const out = execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8" }).trim()
    return out === "" ? undefined : `ps:${out}`
  } catch {
    return undefined
  }
}

/** True while any process of the group `pgid` is alive. */
export function groupAlive(pgid: number): boolean {
  return killGroup(pgid, 0)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Ends the groups: SIGTERM, then SIGKILL to whatever is still there after `termGraceMs`. Resolves
 * once every group is gone, or 2 s after the SIGKILL (which cannot be refused: what remains then is a
 * zombie waiting for init to reap it).
 */
export async function endGroups(pgids: readonly number[], termGraceMs = 2000): Promise<void> {
  let alive = pgids.filter((g) => killGroup(g, "SIGTERM"))
  for (let waited = 0; alive.length > 0 && waited < termGraceMs; waited += 50) {
    await sleep(50)
    alive = alive.filter(groupAlive)
  }
  alive = alive.filter((g) => killGroup(g, "SIGKILL"))
  for (let waited = 0; alive.length > 0 && waited < 2000; waited += 50) {
    await sleep(50)
    alive = alive.filter(groupAlive)
  }
}

/**
 * The process groups of `pid`'s descendants. Claude Code starts each Bash tool command in a session
 * (and group) of its own (seen with 2.1.330: `bash -c ...` with its own sid), which a kill of the
 * CLI's group does not reach, and which outlives a CLI that is SIGKILLed. Read with `ps`, which
 * Linux and macOS both have, before anything is killed (an orphan's parent becomes init).
 */
export async function descendantGroups(pid: number): Promise<number[]> {
  let table: string
  try {
    table = (await execFileAsync("ps", ["-A", "-o", "pid=,ppid=,pgid="], { encoding: "utf8" })).stdout
  } catch {
    return []
  }
  const children = new Map<number, number[]>()
  const groupOf = new Map<number, number>()
  for (const line of table.split("\n")) {
    const [p, parent, group] = line.trim().split(/\s+/).map(Number)
    if (!p || parent === undefined || group === undefined) continue
    groupOf.set(p, group)
    children.set(parent, [...(children.get(parent) ?? []), p])
  }
  const own = groupOf.get(process.pid)
  const groups = new Set<number>()
  const queue = [...(children.get(pid) ?? [])]
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const group = groupOf.get(next)
    if (group !== undefined && group !== own && group !== pid) groups.add(group)
    queue.push(...(children.get(next) ?? []))
  }
  return [...groups]
}

/** Ends `pid`'s process group and the groups its descendants started (see `descendantGroups`). */
export async function endProcessTree(pid: number, termGraceMs?: number): Promise<void> {
  await endGroups([pid, ...(await descendantGroups(pid))], termGraceMs)
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
