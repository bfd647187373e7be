/**
 * The PlanetScale bridge in a process of its own, for the benchmarks. Real PlanetScale is remote: its
 * work (HTTP, JSON, the MySQL client) costs the client's machine nothing, while a bridge inside the
 * benchmark's process competes for the client's CPU (engines-e2e measured 1.1-1.6 s of bridge CPU per
 * 100 MB on 2 cores). In its own process it still shares the machine, but not the client's event loop.
 *
 * Run as a program: `bun planetscale-bridge-process.ts '<PlanetScaleBridgeOptions as JSON>'` prints
 * `{"url","port"}` as one line, then answers each `count` line on stdin with the request count, and stops
 * when stdin closes (so it never outlives its parent).
 */
import { type PlanetScaleBridgeOptions, startPlanetScaleBridge } from "./planetscale-bridge.ts"

export interface PlanetScaleBridgeProcess {
  readonly url: string
  readonly port: number
  readonly pid: number
  /** HTTP requests the bridge received so far, of every route. */
  readonly requestCount: () => Promise<number>
  readonly stop: () => Promise<void>
}

/** Starts the bridge in a child process (Bun only: the benchmarks run under Bun). */
export async function startPlanetScaleBridgeProcess(
  options: PlanetScaleBridgeOptions,
): Promise<PlanetScaleBridgeProcess> {
  const child = Bun.spawn(["bun", import.meta.path, JSON.stringify(options)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  })
  const reader = child.stdout.getReader()
  const decoder = new TextDecoder()
  let buffered = ""
  const readLine = async (): Promise<string> => {
    for (;;) {
      const nl = buffered.indexOf("\n")
      if (nl >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        return line
      }
      const { value, done } = await reader.read()
      if (done) throw new Error(`the PlanetScale bridge process exited (code ${await child.exited})`)
      buffered += decoder.decode(value, { stream: true })
    }
  }
  const started = JSON.parse(await readLine()) as { url: string; port: number }
  // One question at a time: answers come back in order on one pipe.
  let queue: Promise<unknown> = Promise.resolve()
  const requestCount = (): Promise<number> => {
    const answer = queue.then(async () => {
      child.stdin.write("count\n")
      child.stdin.flush()
      return Number(await readLine())
    })
    queue = answer.catch(() => undefined)
    return answer
  }
  return {
    url: started.url,
    port: started.port,
    pid: child.pid,
    requestCount,
    stop: async () => {
      child.stdin.end()
      await child.exited
    },
  }
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? "") as PlanetScaleBridgeOptions
  const bridge = await startPlanetScaleBridge(options)
  process.stdout.write(`${JSON.stringify({ url: bridge.url, port: bridge.port })}\n`)
  let pending = ""
  process.stdin.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8")
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const command = pending.slice(0, nl).trim()
      pending = pending.slice(nl + 1)
      if (command === "count") process.stdout.write(`${bridge.requestCount()}\n`)
    }
  })
  process.stdin.on("end", () => {
    void bridge.stop().then(() => process.exit(0))
  })
}
