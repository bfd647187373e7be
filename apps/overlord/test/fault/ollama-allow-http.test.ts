/**
 * Walkthrough-6's "still open": the warning for an Ollama on another host over plain http:// could not
 * be silenced on a network that is already encrypted (a WireGuard or Tailscale address, an SSH tunnel's
 * far end), while `overlord login` has `--allow-http` for the same thing. Now `"allowHttp": true` under
 * `"ollama"` in `<home>/config.json`, or `--ollama-allow-http` on `start`/`serve`/`doctor`, silences it
 * in the log, `overlord status`, doctor and `/api/v1/ai/status`; without it the warning says how.
 * And the warning, the embedded server's, was the machine's "last error" in the dashboard's overview
 * while nothing was wrong with the machine: it is listed by `overlord status`, not sent as that.
 * The bundle, detached daemon and embedded server; the other host is `ollama.invalid` (RFC 6761: never
 * resolves, nothing is sent).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ollamaInClearWarning } from "@overlord/ai"
import type { Api } from "@overlord/protocol"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { sessionFile, TOPICS } from "../../../server/test/support/ai-corpus.ts"
import { overlordIn, writeSessions } from "../support/local-ai.ts"

const REMOTE_OLLAMA = "http://ollama.invalid:11434"
const IN_CLEAR = "is plain http:// on another host"

describe("silencing the plain-http Ollama warning on an encrypted network", () => {
  let root: string
  const homes: string[] = []
  let claudeDir: string
  const api = async <T>(home: string, path: string): Promise<T> => {
    const creds = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as {
      serverUrl: string
      apiToken: string
    }
    const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
      headers: { authorization: `Bearer ${creds.apiToken}` },
    })
    return (await res.json()) as T
  }
  /** Started, and its server read its AI settings (the AI status names the Ollama). */
  const start = async (name: string, args: readonly string[], config?: unknown) => {
    const home = join(root, name)
    homes.push(home)
    if (config !== undefined) {
      await mkdir(home, { recursive: true, mode: 0o700 })
      await writeFile(join(home, "config.json"), JSON.stringify(config))
    }
    const started = await overlordIn(home, "start", "--claude-dir", claudeDir, "--port", "0", ...args)
    expect(started.code, started.err).toBe(0)
    const status = await waitFor("the server's AI status", async () => {
      const s = await api<Api.AiStatus>(home, "/ai/status").catch(() => null)
      return s?.ollamaUrl === REMOTE_OLLAMA ? s : null
    })
    return { home, status }
  }
  /** The machine once a status sent after its first scan arrived (every status carries its last error). */
  const machineAfterScan = (home: string) =>
    waitFor("the machine's status after its scan", async () => {
      const { machines } = await api<{ machines: Api.Machine[] }>(home, "/machines")
      return machines.find((m) => m.online && m.filesTracked >= 1) ?? null
    })
  const expectSilent = async (home: string, status: Api.AiStatus) => {
    expect(status.warning).toBeUndefined()
    expect((await overlordIn(home, "status")).out).not.toContain(IN_CLEAR)
    const doctor = await overlordIn(home, "doctor", "--claude-dir", claudeDir)
    expect(doctor.out).toContain("Ollama")
    expect(doctor.out).not.toContain("plain http")
    expect(await readFile(join(home, "logs", "overlord.log"), "utf8")).not.toContain(IN_CLEAR)
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-ollama-allow-http-"))
    claudeDir = join(root, "claude")
    await writeSessions(claudeDir, [sessionFile(TOPICS[0]!, 1, Date.UTC(2026, 9, 1, 9, 0))])
  }, 60_000)

  afterAll(async () => {
    for (const home of homes) await overlordIn(home, "stop")
    await rm(root, { recursive: true, force: true })
  })

  it("the warning says how to silence it, and allowHttp does", () => {
    const warning = ollamaInClearWarning(REMOTE_OLLAMA)
    expect(warning).toContain(IN_CLEAR)
    expect(warning).toContain('"allowHttp": true')
    expect(warning).toContain("--ollama-allow-http")
    expect(ollamaInClearWarning(REMOTE_OLLAMA, { allowHttp: true })).toBeNull()
  })

  it('"allowHttp": true beside the URL in config.json: nothing said anywhere', async () => {
    const { home, status } = await start("config-file", [], { ollama: { url: REMOTE_OLLAMA, allowHttp: true } })
    await expectSilent(home, status)
    // Doctor asked about that Ollama by name reads the same config file.
    const named = await overlordIn(home, "doctor", "--claude-dir", claudeDir, "--ollama-url", REMOTE_OLLAMA)
    expect(named.out).not.toContain("plain http")
  }, 120_000)

  it("--ollama-allow-http: nothing said anywhere", async () => {
    const { home, status } = await start("flag", ["--ollama-url", REMOTE_OLLAMA, "--ollama-allow-http"])
    await expectSilent(home, status)
    const named = await overlordIn(
      home,
      "doctor",
      "--claude-dir",
      claudeDir,
      "--ollama-url",
      REMOTE_OLLAMA,
      "--ollama-allow-http",
    )
    expect(named.out).not.toContain("plain http")
  }, 120_000)

  it("without it: warned in status and the AI status, not shown as the machine's last error", async () => {
    const { home, status } = await start("warned", ["--ollama-url", REMOTE_OLLAMA])
    expect(status.warning).toContain(IN_CLEAR)
    expect(status.warning).toContain("--ollama-allow-http")
    expect((await overlordIn(home, "status")).out).toContain(IN_CLEAR)
    // Nothing is wrong with the machine: the dashboard's overview shows no error for it.
    const machine = await machineAfterScan(home)
    expect(machine.lastError ?? "").not.toContain(IN_CLEAR)
    expect(machine.lastError).toBeNull()
  }, 120_000)
})
