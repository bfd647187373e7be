/**
 * Remote command latency: from `POST /api/v1/commands` to the command's first event arriving on the
 * dashboard's live socket (`watch-command`), over the real daemon bundle (`overlord start
 * --allow-remote`, embedded server) and the real Claude Code CLI against the fake Anthropic API. The
 * first event is the CLI's `system/init` line, so the CLI's own start-up (spawn to its first stdout
 * line) is most of it: it is measured separately, by spawning the CLI directly the same way.
 *
 *   bun scripts/bench/remote-latency.ts [--runs 20]
 *
 * Reports p50/p99 of both; asserts nothing. Needs the daemon bundle (`bun scripts/build-daemon.ts`).
 */
import { spawn } from "node:child_process"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api, Live } from "@overlord/protocol"
import { claudeBinary, claudeEnv, encodeProjectDir, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { startOverlord } from "@overlord/testkit/overlord-process"
import { slowStream } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const RUNS = arg("runs", 20)
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

const claude = await makeClaudeHome("overlord-bench-remote-")
const fake = startFakeAnthropic(slowStream(1)(claude.projectDir).script)
const sessions = join(claude.configDir, "projects", encodeProjectDir(claude.projectDir))
await mkdir(sessions, { recursive: true })
await writeFile(
  join(sessions, "00000000-0000-4000-8000-000000000003.jsonl"),
  `${JSON.stringify({ type: "user", uuid: "u", sessionId: "00000000-0000-4000-8000-000000000003", cwd: claude.projectDir, timestamp: new Date().toISOString(), message: { role: "user", content: "x" } })}\n`,
)
await mkdir(join(claude.configDir, "..", "tmp"), { recursive: true })
const claudePath = await claudeBinary()
const env = claudeEnv(claude.configDir, fake.url)
Object.assign(process.env, env, { OVERLORD_CLAUDE_PATH: claudePath })
const home = join(claude.configDir, "..", "overlord-home")
const daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
try {
  const creds = await daemon.credentials()
  const api = async <T>(path: string, body?: unknown) => {
    const res = await fetch(`${creds.serverUrl}/api/v1${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        authorization: `Bearer ${creds.apiToken}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return (await res.json()) as T
  }
  const machine = await waitFor(
    "the machine",
    async () => (await api<{ machines: Api.Machine[] }>("/machines")).machines.find((m) => m.acceptsCommands) ?? null,
  )
  await waitFor("the project", async () =>
    (await readFile(join(home, "remote", "projects.json"), "utf8").catch(() => "")).includes(claude.projectDir)
      ? true
      : null,
  )
  const ws = new WebSocket(`${creds.serverUrl.replace(/^http/, "ws")}/api/v1/live`, {
    headers: { authorization: `Bearer ${creds.apiToken}`, origin: creds.serverUrl },
  } as unknown as string[])
  await new Promise<void>((resolve) => {
    ws.onopen = () => resolve()
  })
  const firstEvent = new Map<string, number>()
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data)) as Live.LiveMessage
    if (m.type === "command-events" && !firstEvent.has(m.commandId)) firstEvent.set(m.commandId, performance.now())
  }

  const endToEnd: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    const { command } = await api<Api.CommandCreated>("/commands", {
      machineId: machine.machineId,
      projectDir: claude.projectDir,
      prompt: "Tell a long story.",
    })
    ws.send(JSON.stringify({ type: "watch-command", commandId: command.commandId, afterEventSeq: -1 }))
    await waitFor("the first event", () => firstEvent.has(command.commandId) || null, 60_000)
    endToEnd.push(firstEvent.get(command.commandId)! - t0)
    await waitFor(
      "the end",
      async () =>
        (await api<Api.CommandDetail>(`/commands/${command.commandId}`)).command.endedAt !== null ? true : null,
      120_000,
    )
  }
  ws.close()

  // The CLI alone: spawn to its first stdout line, as the runner starts it.
  const cliStart: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    const child = spawn(
      claudePath,
      ["-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"],
      { cwd: claude.projectDir, env, stdio: ["pipe", "pipe", "ignore"] },
    )
    child.stdin.write(`${JSON.stringify({ type: "user", message: { role: "user", content: "Tell a long story." } })}\n`)
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()))
    cliStart.push(performance.now() - t0)
    child.kill("SIGKILL")
    await new Promise((r) => child.once("exit", r))
  }
  const f = (x: number) => `${x.toFixed(0)} ms`
  console.log(`runs: ${RUNS}`)
  console.log(`POST -> first event on the live socket: p50 ${f(pct(endToEnd, 50))}, p99 ${f(pct(endToEnd, 99))}`)
  console.log(`CLI alone, spawn -> first stdout line: p50 ${f(pct(cliStart, 50))}, p99 ${f(pct(cliStart, 99))}`)
} finally {
  daemon.stop()
  await fake.stop()
  await claude.cleanup()
}
