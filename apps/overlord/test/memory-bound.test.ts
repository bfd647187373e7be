/**
 * Memory stays bounded whatever the input size: a 10 MB line (a base64 image) and a 375 MB session
 * file sync through `overlord start` with a peak RSS that does not follow the file size. Compared
 * with the same daemon on a 125 MB file (enough for the heaps to reach their working size), so the
 * assertion is about growth with the input, not about this machine.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterAll, describe, expect, it, onTestFinished } from "vitest"

const MB = 1024 * 1024

function record(sid: string, i: number, text: string): string {
  return JSON.stringify({
    type: "user",
    uuid: `${sid}-${i}`,
    parentUuid: i ? `${sid}-${i - 1}` : null,
    sessionId: sid,
    cwd: "/home/dev/big",
    timestamp: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    message: { role: "user", content: text },
  })
}

/** Writes `bytes` of ~2 KB lines without holding the file in memory; returns its line count. */
async function writeSession(path: string, sid: string, bytes: number): Promise<number> {
  const writer = Bun.file(path).writer()
  const filler = "lorem ipsum dolor sit amet ".repeat(70)
  let written = 0
  let lines = 0
  while (written < bytes) {
    const l = `${record(sid, lines, filler)}\n`
    writer.write(l)
    written += l.length
    lines += 1
    if (lines % 5000 === 0) await writer.flush()
  }
  await writer.end()
  return lines
}

async function syncAndMeasure(root: string, name: string, claudeDir: string) {
  const home = join(root, `home-${name}`)
  const daemon: ChildProcess = spawn(
    "bun",
    [OVERLORD_BIN, "--home", home, "start", "--foreground", "--claude-dir", claudeDir, "--port", "0"],
    { stdio: "ignore" },
  )
  const stop = () => daemon.kill("SIGTERM")
  try {
    const deadline = Date.now() + 240_000
    let peakKb = 0
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${name}: not synced in time`)
      const status = await readFile(`/proc/${daemon.pid}/status`, "utf8").catch(() => "")
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0))
      const state = JSON.parse(await readFile(join(home, "daemon-state.json"), "utf8").catch(() => "{}")) as {
        connected?: boolean
        bytesPending?: number
        filesTracked?: number
      }
      if (state.connected && state.bytesPending === 0 && (state.filesTracked ?? 0) > 0) break
      await Bun.sleep(200)
    }
    const creds = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as {
      serverUrl: string
      apiToken: string
    }
    return { peakMb: peakKb / 1024, creds, stop }
  } catch (error) {
    stop()
    throw error
  }
}

describe("memory is bounded by chunks, not by line or file size", () => {
  const roots: string[] = []
  afterAll(async () => {
    for (const r of roots) await rm(r, { recursive: true, force: true })
  })

  it("syncs a 10 MB line and a 375 MB file with a peak RSS that does not grow with them", async () => {
    const root = await mkdtemp(join(tmpdir(), "overlord-mem-"))
    roots.push(root)
    const small = join(root, "small", "projects", "-home-dev-big")
    const large = join(root, "large", "projects", "-home-dev-big")
    await mkdir(small, { recursive: true })
    await mkdir(large, { recursive: true })
    const s1 = "11111111-0000-0000-0000-000000000001"
    const s2 = "22222222-0000-0000-0000-000000000002"
    const s3 = "33333333-0000-0000-0000-000000000003"
    await writeSession(join(small, `${s1}.jsonl`), s1, 125 * MB)
    const bigLines = await writeSession(join(large, `${s2}.jsonl`), s2, 375 * MB)
    // A pasted screenshot: one 10 MB line of base64 inside an image block.
    const image = Buffer.alloc(7.5 * MB, 7).toString("base64")
    const hugeLine = JSON.stringify({
      type: "user",
      uuid: "img-1",
      parentUuid: null,
      sessionId: s3,
      timestamp: "2026-11-01T10:00:00.000Z",
      message: {
        role: "user",
        content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: image } }],
      },
    })
    await Bun.write(join(large, `${s3}.jsonl`), `${record(s3, 0, "before")}\n${hugeLine}\n${record(s3, 2, "after")}\n`)

    const baseline = await syncAndMeasure(root, "small", join(root, "small"))
    baseline.stop()
    const big = await syncAndMeasure(root, "large", join(root, "large"))
    onTestFinished(() => {
      big.stop()
    })

    // 260 MB more input: the peak may move with GC timing (more on a loaded machine, where the
    // suite runs files in parallel), but not with the input; and it stays well below the input's size.
    // Seen: +9 MB alone on a quiet machine, up to +90 MB under the full suite.
    const peaks = `peaks: ${baseline.peakMb.toFixed(0)} MB vs ${big.peakMb.toFixed(0)} MB`
    expect(big.peakMb - baseline.peakMb, peaks).toBeLessThan(150)
    // Below the input's 385 MB however busy the machine (a fixed 340 MB was crossed at 344-353 MB, by
    // the code before and after a change alike, with the load average at 5-8): what does not follow
    // the input is the difference above.
    expect(big.peakMb, peaks).toBeLessThan(385)

    const get = (path: string) =>
      fetch(`${big.creds.serverUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${big.creds.apiToken}` } })
    const exported = Buffer.from(await (await get(`/sessions/${s3}/export`)).arrayBuffer())
    expect(exported.equals(await readFile(join(large, `${s3}.jsonl`)))).toBe(true)
    const detail = (await (await get(`/sessions/${s2}`)).json()) as { files: { entryCount: number; bytes: number }[] }
    expect(detail.files[0]!.entryCount).toBe(bigLines)
    // Each line reached the store's line log once, the 10 MB one too, though it came in 1 MiB pieces.
    let sourceBytes = 0
    for (const f of await readdir(large)) sourceBytes += (await stat(join(large, f))).size
    expect((await stat(join(root, "home-large", "data", "overlord.db-lines"))).size).toBe(sourceBytes)
  }, 600_000)
})
