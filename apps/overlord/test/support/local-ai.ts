/**
 * What the CLI's local-AI tests (`ai-cli.test.ts`, `fault/ollama-*.test.ts`) share: the bundled CLI run to
 * its end without blocking this process (the fake Ollama answers from it while a command runs), the
 * AI corpus's session files written where Claude Code keeps them, and the daemon's `/api/v1/ai/status`.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import type { Api } from "@overlord/protocol"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import type { GeneratedSession } from "../../../server/test/support/ai-corpus.ts"

/**
 * `overlord --home <home> …args` to its end: exit code, stdout, stderr. `OLLAMA_HOST` is emptied: the
 * machine's own Ollama must not be what a command finds when the test gives it none.
 */
export async function overlordIn(home: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(["bun", OVERLORD_BIN, "--home", home, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, OLLAMA_HOST: "" },
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, out, err }
}

/** Each session file at its place under `<claudeDir>/projects`. */
export async function writeSessions(claudeDir: string, sessions: readonly GeneratedSession[]): Promise<void> {
  for (const s of sessions) {
    const path = join(claudeDir, "projects", s.fileKey)
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, s.text)
  }
}

/** `/api/v1/ai/status` of the server the daemon at `home` started, as its own token; throws until it answers. */
export async function aiStatusOf(home: string): Promise<Api.AiStatus> {
  const creds = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as {
    serverUrl: string
    apiToken: string
  }
  const res = await fetch(`${creds.serverUrl}/api/v1/ai/status`, {
    headers: { authorization: `Bearer ${creds.apiToken}` },
  })
  if (!res.ok) throw new Error(`/ai/status answered ${res.status}`)
  return (await res.json()) as Api.AiStatus
}
