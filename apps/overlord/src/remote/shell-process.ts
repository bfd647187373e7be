/**
 * One allowlisted program run for a `shell` command: argv as given (no shell, so nothing in it is
 * interpreted), in the project's directory, in a process group of its own; stdout and stderr are
 * streamed as text.
 */
import type { Commands } from "@overlord/protocol"
import { type ChildExit, EventQueue, endProcessTree, onText, spawnGroupLeader } from "./child-process.ts"

export class ShellProcess {
  readonly pid: number | undefined
  readonly events: AsyncIterable<Commands.CommandEventBody>
  /** The program itself has exited; its output may still be draining. */
  readonly exited: Promise<ChildExit>
  /** Stops reading output still held open (by something that outlived the program) and ends `events`. */
  readonly closeOutput: () => void

  private constructor(argv: readonly string[], cwd: string, env: Readonly<Record<string, string | undefined>>) {
    const { child, exited } = spawnGroupLeader(argv, cwd, env)
    const queue = new EventQueue<Commands.CommandEventBody>()
    this.pid = child.pid
    this.events = queue
    this.closeOutput = () => {
      child.stdout?.destroy()
      child.stderr?.destroy()
      queue.end()
    }
    this.exited = exited.then((exit) => {
      if (exit.spawnError) this.closeOutput()
      return exit
    })
    child.stdin?.end()
    let streams = 2
    const streamEnded = () => {
      streams -= 1
      if (streams === 0) queue.end()
    }
    if (child.stdout && child.stderr) {
      onText(child.stdout, (text) => queue.push({ kind: "stdout", text }), streamEnded)
      onText(child.stderr, (text) => queue.push({ kind: "stderr", text }), streamEnded)
    } else queue.end()
  }

  static start(argv: readonly string[], cwd: string, env: Readonly<Record<string, string | undefined>>): ShellProcess {
    return new ShellProcess(argv, cwd, env)
  }

  /** Ends the program's process group, and any its descendants started. */
  async kill(): Promise<void> {
    if (this.pid !== undefined) await endProcessTree(this.pid)
  }
}
