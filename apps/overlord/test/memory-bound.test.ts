/**
 * Memory stays bounded whatever the input size: a 10 MB line (a base64 image) and a 375 MB session
 * file sync through `overlord start` with a peak RSS that does not follow the file size. Compared
 * with the same daemon on a 125 MB file (enough for the heaps to reach their working size), so the
 * assertion is about growth with the input, not about this machine.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it, onTestFinished } from "vitest"
import { MB, syncAndMeasure, userLine, writeShortLines } from "./support/memory-peak.ts"

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
    await writeShortLines(join(small, `${s1}.jsonl`), s1, 125 * MB)
    const bigLines = await writeShortLines(join(large, `${s2}.jsonl`), s2, 375 * MB)
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
    await Bun.write(
      join(large, `${s3}.jsonl`),
      `${userLine(s3, 0, "before")}\n${hugeLine}\n${userLine(s3, 2, "after")}\n`,
    )

    const baseline = await syncAndMeasure(join(root, "home-small"), join(root, "small"))
    baseline.stop()
    const big = await syncAndMeasure(join(root, "home-large"), join(root, "large"))
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

    const exported = Buffer.from(await (await big.get(`/sessions/${s3}/export`)).arrayBuffer())
    expect(exported.equals(await readFile(join(large, `${s3}.jsonl`)))).toBe(true)
    const detail = (await (await big.get(`/sessions/${s2}`)).json()) as {
      files: { entryCount: number; bytes: number }[]
    }
    expect(detail.files[0]!.entryCount).toBe(bigLines)
    // Each line reached the store's line log once, the 10 MB one too, though it came in 1 MiB pieces.
    let sourceBytes = 0
    for (const f of await readdir(large)) sourceBytes += (await stat(join(large, f))).size
    expect((await stat(join(root, "home-large", "data", "overlord.db-lines"))).size).toBe(sourceBytes)
  }, 600_000)
})
