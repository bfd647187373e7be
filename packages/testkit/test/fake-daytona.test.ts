/**
 * The fake Daytona's wire format, checked with plain fetch and WebSocket (the SDK-level tests live in
 * apps/overlord/test/remote): bearer auth, the log stream's 3-byte markers, the bulk-download
 * multipart, state transitions and the injected faults.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type FakeDaytona, startFakeDaytona } from "../src/fake-daytona.ts"
import { waitFor } from "../src/wait.ts"

describe("fake Daytona", () => {
  let fake: FakeDaytona
  const auth = () => ({ authorization: `Bearer ${fake.apiKey}`, "content-type": "application/json" })
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${fake.apiUrl}${path}`, { ...init, headers: { ...auth(), ...(init.headers ?? {}) } })

  const createStarted = async (body: Record<string, unknown>) => {
    const res = await api("/sandbox", { method: "POST", body: JSON.stringify(body) })
    expect(res.status).toBe(200)
    const dto = (await res.json()) as { id: string; toolboxProxyUrl: string; state: string }
    await waitFor("the sandbox to start", async () => {
      const s = (await (await api(`/sandbox/${dto.id}`)).json()) as { state: string }
      return s.state === "started"
    })
    return dto
  }

  beforeAll(async () => {
    fake = await startFakeDaytona()
  })
  afterAll(async () => {
    await fake.stop()
  })

  it("answers a wrong key with 401 and an unknown sandbox with 404", async () => {
    const wrong = await fetch(`${fake.apiUrl}/sandbox`, { headers: { authorization: "Bearer nope" } })
    expect(wrong.status).toBe(401)
    const missing = await api("/sandbox/does-not-exist")
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as { message: string }).message).toContain("does-not-exist")
  })

  it("creates, lists by labels, stops, starts and deletes", async () => {
    const dto = await createStarted({ name: "lifecycle", labels: { team: "a" }, autoStopInterval: 9 })
    expect(dto.toolboxProxyUrl).toBe(`http://127.0.0.1:${fake.port}/toolbox`)
    const list = async (labels: Record<string, string>) =>
      (
        (await (await api(`/sandbox?labels=${encodeURIComponent(JSON.stringify(labels))}`)).json()) as {
          items: { id: string; env?: unknown }[]
        }
      ).items
    expect((await list({ team: "a" })).map((s) => s.id)).toEqual([dto.id])
    expect(await list({ team: "b" })).toEqual([])
    expect((await list({ team: "a" }))[0]).not.toHaveProperty("env")
    expect(
      (await (await api(`/sandbox/${dto.id}/stop?force=false`, { method: "POST" })).json()) as object,
    ).toMatchObject({
      state: "stopped",
    })
    expect(((await (await api(`/sandbox/lifecycle`)).json()) as { state: string }).state).toBe("stopped")
    await api(`/sandbox/${dto.id}/start`, { method: "POST" })
    await waitFor(
      "restart",
      async () => ((await (await api(`/sandbox/${dto.id}`)).json()) as { state: string }).state === "started",
    )
    await api(`/sandbox/${dto.id}/autostop/3`, { method: "POST" })
    expect(fake.sandboxes.get(dto.id)?.autoStopInterval).toBe(3)
    expect((await api(`/sandbox/${dto.id}`, { method: "DELETE" })).status).toBe(200)
    expect((await api(`/sandbox/${dto.id}`)).status).toBe(404)
  })

  it("streams a session command's stdout and stderr with their markers, then its exit code", async () => {
    const dto = await createStarted({ name: "stream" })
    const tb = `${dto.toolboxProxyUrl}/${dto.id}`
    expect(
      (await fetch(`${tb}/process/session`, { method: "POST", headers: auth(), body: '{"sessionId":"s"}' })).status,
    ).toBe(201)
    const exec = await fetch(`${tb}/process/session/s/exec`, {
      method: "POST",
      headers: auth(),
      body: JSON.stringify({ command: "echo out1; echo err1 >&2; sleep 0.2; echo out2; exit 7", runAsync: true }),
    })
    expect(exec.status).toBe(202)
    const { cmdId } = (await exec.json()) as { cmdId: string }
    const frames: Uint8Array[] = []
    const ws = new WebSocket(`${tb.replace(/^http/, "ws")}/process/session/s/command/${cmdId}/logs?follow=true`, {
      headers: auth(),
    } as unknown as string[])
    ws.binaryType = "arraybuffer"
    const closed = new Promise<number>((resolve) => {
      ws.onmessage = (e) => frames.push(new Uint8Array(e.data as ArrayBuffer))
      ws.onclose = (e) => resolve(e.code)
    })
    expect(await closed).toBe(1000)
    // Demultiplex as the SDK does: each chunk starts with 01 01 01 (stdout) or 02 02 02 (stderr).
    const streams = { out: "", err: "" }
    for (const f of frames) {
      let at = 0
      while (at < f.length) {
        const mark = f[at]
        expect([1, 2]).toContain(mark)
        expect([f[at + 1], f[at + 2]]).toEqual([mark, mark])
        let end = at + 3
        while (end < f.length && !(f[end] === f[end + 1] && f[end] === f[end + 2] && (f[end] === 1 || f[end] === 2)))
          end++
        streams[mark === 1 ? "out" : "err"] += new TextDecoder().decode(f.subarray(at + 3, end))
        at = end
      }
    }
    expect(streams).toEqual({ out: "out1\nout2\n", err: "err1\n" })
    const cmd = (await (await fetch(`${tb}/process/session/s/command/${cmdId}`, { headers: auth() })).json()) as {
      exitCode: number
    }
    expect(cmd.exitCode).toBe(7)
  })

  it("uploads with multipart and downloads as DAYTONA-FILE-BOUNDARY parts, missing files as error parts", async () => {
    const dto = await createStarted({ name: "files" })
    const tb = `${dto.toolboxProxyUrl}/${dto.id}`
    const form = new FormData()
    form.append("files[0].path", "dir/a.bin")
    form.append("files[0].file", new Blob([new Uint8Array([0, 1, 2, 255])]), "dir/a.bin")
    const up = await fetch(`${tb}/files/bulk-upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.apiKey}` },
      body: form,
    })
    expect(up.status).toBe(200)
    const home = fake.sandboxes.get(dto.id)!.home
    expect([...(await readFile(join(home, "dir/a.bin")))]).toEqual([0, 1, 2, 255])
    const down = await fetch(`${tb}/files/bulk-download`, {
      method: "POST",
      headers: auth(),
      body: JSON.stringify({ paths: [join(home, "dir/a.bin"), "missing.txt"] }),
    })
    expect(down.headers.get("content-type")).toBe("multipart/form-data; boundary=DAYTONA-FILE-BOUNDARY")
    const body = Buffer.from(await down.arrayBuffer()).toString("latin1")
    expect(body).toContain(`name="file"; filename="${join(home, "dir/a.bin")}"`)
    expect(body).toContain("\x00\x01\x02\xff")
    expect(body).toContain('name="error"; filename="missing.txt"')
    expect(body).toContain('"code":"FILE_NOT_FOUND"')
    const outside = await fetch(`${tb}/files/bulk-download`, {
      method: "POST",
      headers: auth(),
      body: JSON.stringify({ paths: ["/etc/passwd"] }),
    })
    expect(outside.status).toBe(400)
  })

  it("injects the quota, start-timeout and clone faults", async () => {
    fake.faults.quotaExceeded = true
    const quota = await api("/sandbox", { method: "POST", body: "{}" })
    fake.faults.quotaExceeded = false
    expect(quota.status).toBe(403)
    expect(((await quota.json()) as { message: string }).message).toContain("Total CPU limit exceeded")

    fake.faults.neverStart = true
    const stuck = (await (await api("/sandbox", { method: "POST", body: '{"name":"stuck"}' })).json()) as { id: string }
    fake.faults.neverStart = false
    await Bun.sleep(100)
    expect(fake.sandboxes.get(stuck.id)?.state).toBe("creating")

    const dto = await createStarted({ name: "clone" })
    fake.faults.gitCloneFails = true
    const clone = await fetch(`${dto.toolboxProxyUrl}/${dto.id}/git/clone`, {
      method: "POST",
      headers: auth(),
      body: JSON.stringify({ url: "file:///nowhere.git", path: "repo" }),
    })
    fake.faults.gitCloneFails = false
    expect(clone.status).toBe(404)
    expect(fake.errors).toEqual([])
    expect(fake.requests.some((r) => r.plane === "toolbox" && r.path === "/git/clone" && r.status === 404)).toBe(true)
  })
})
