/**
 * The sync-and-measure harness of the memory tests (memory-bound, fault/long-line-memory): session
 * files of a given size written without holding them in memory, and a real `overlord start` syncing
 * a Claude dir while its peak RSS (VmHWM, which the kernel keeps, so the poll interval does not bound
 * it) is read.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"

export const MB = 1024 * 1024

/** One user line of session `sid`, the `i`th, chained to the one before, in `/home/dev/big`. */
export function userLine(sid: string, i: number, content: unknown): string {
  return JSON.stringify({
    type: "user",
    uuid: `${sid}-${i}`,
    parentUuid: i ? `${sid}-${i - 1}` : null,
    sessionId: sid,
    cwd: "/home/dev/big",
    timestamp: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    message: { role: "user", content },
  })
}

/** Writes `bytes` of ~2 KB lines without holding the file in memory; returns its line count. */
export async function writeShortLines(path: string, sid: string, bytes: number): Promise<number> {
  const writer = Bun.file(path).writer()
  const filler = "lorem ipsum dolor sit amet ".repeat(70)
  let written = 0
  let lines = 0
  while (written < bytes) {
    const l = `${userLine(sid, lines, filler)}\n`
    writer.write(l)
    written += l.length
    lines += 1
    if (lines % 5000 === 0) await writer.flush()
  }
  await writer.end()
  return lines
}

export interface MeasuredDaemon {
  /** The daemon's peak RSS until it had synced everything (and, with `indexed`, searched it). */
  readonly peakMb: number
  /** `GET /api/v1<path>` on the daemon's embedded server, with its token. */
  readonly get: (path: string) => Promise<Response>
  readonly stop: () => void
}

/**
 * `overlord start` at `home` over `claudeDir` until it has synced every byte (and, with `indexed`,
 * until the search indexer has caught up, which reads every stored line again); its peak RSS then.
 * Left running for the caller's checks: `stop` it.
 */
export async function syncAndMeasure(
  home: string,
  claudeDir: string,
  options: { readonly indexed?: boolean } = {},
): Promise<MeasuredDaemon> {
  const daemon: ChildProcess = spawn(
    "bun",
    [OVERLORD_BIN, "--home", home, "start", "--foreground", "--claude-dir", claudeDir, "--port", "0"],
    { stdio: "ignore" },
  )
  const stop = () => daemon.kill("SIGTERM")
  const peak = async (kb: number) => {
    const status = await readFile(`/proc/${daemon.pid}/status`, "utf8").catch(() => "")
    return Math.max(kb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))
  }
  try {
    const deadline = Date.now() + 240_000
    let peakKb = 0
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${home}: not synced in time`)
      peakKb = await peak(peakKb)
      const state = JSON.parse(await readFile(join(home, "daemon-state.json"), "utf8").catch(() => "{}")) as {
        connected?: boolean
        bytesPending?: number
        filesTracked?: number
      }
      if (state.connected && state.bytesPending === 0 && (state.filesTracked ?? 0) > 0) break
      await Bun.sleep(100)
    }
    const creds = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as {
      serverUrl: string
      apiToken: string
    }
    const get = (path: string) =>
      fetch(`${creds.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${creds.apiToken}` } })
    // The search indexer reads every line after it is stored: wait until it has caught up.
    while (options.indexed) {
      if (Date.now() > deadline) throw new Error(`${home}: search not indexed in time`)
      peakKb = await peak(peakKb)
      const found = (await (await get("/search?q=before")).json()) as { indexLag?: number }
      if (found.indexLag === 0) break
      await Bun.sleep(100)
    }
    peakKb = await peak(peakKb)
    return { peakMb: peakKb / 1024, get, stop }
  } catch (error) {
    stop()
    throw error
  }
}
