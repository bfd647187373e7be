/**
 * Remote command latency, and what Overlord adds to the CLI's own start-up.
 *
 * Whole path: `POST /api/v1/commands` → the command's first event on the dashboard's live socket
 * (`watch-command`), over the real daemon bundle (`overlord start --allow-remote`, embedded server) and
 * the real Claude Code CLI against the fake Anthropic API. That first event is the CLI's `system`/`init`
 * line, which the Run panel draws as its first output, so the CLI's start-up is most of it.
 *
 * CLI alone: the CLI started exactly as the daemon starts it — the daemon's own `ClaudeProcess` (same
 * binary, same arguments from `claudeArgs`, a process group of its own, the same first user message
 * on stdin), with the daemon's environment (this process's, which the daemon inherits), in the same
 * project directory, against the same fake API — timed from spawn to its first event, the same
 * `system`/`init` line. Each CLI run goes to its end, as a command's does.
 *
 * The two are interleaved pair by pair (alternating which goes first), after one unrecorded warm-up
 * pair, so load on the shared machine falls on both alike. The live socket's `command` messages split
 * the whole path into POST → delivered (the daemon's ack, after its journal's fsync, just before the
 * spawn) and delivered → first event (spawn, start-up, the relay back); the event's store time splits
 * off the server's fan-out to the live socket.
 *
 * The real CLI's start-up varies by hundreds of ms from one run to the next on a busy machine, which
 * swamps a per-pair difference at p99. So a second daemon then runs a stand-in CLI (a shell script
 * that prints its `init` line at once and ends its turn when given the prompt) the same way, and the
 * whole path through it less the stand-in alone is Overlord's own part, with little noise.
 *
 *   bun scripts/bench/remote-latency.ts [--runs 30] [--serve]
 *
 * `--serve`: the server is `overlord serve` (SQLite) in a process of its own and each daemon is paired
 * with it by a pairing key (`overlord login --key`), as a laptop is in production.
 *
 * Prints p50/p99 and appends a record to `.artifacts/bench/results.jsonl`; asserts nothing.
 */
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api, Live } from "@overlord/protocol"
import { claudeBinary, claudeEnv, makeClaudeHome } from "@overlord/testkit/claude-cli"
import { startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { startOverlord } from "@overlord/testkit/overlord-process"
import { bearerApi, daemonKnowsProjects, machineAccepting, remoteClaudeEnv } from "@overlord/testkit/remote-commands"
import {
  pairWithKey,
  runCli,
  type ServerAdmin,
  type StandaloneServer,
  setUpAdmin,
  startStandaloneServer,
} from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { ClaudeProcess } from "../../apps/overlord/src/remote/claude-process.ts"
import { percentile, record } from "./lib.ts"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const RUNS = arg("runs", 30)
/** Through `overlord serve` (SQLite) and a daemon paired with it, instead of the daemon's embedded server. */
const SERVE = process.argv.includes("--serve")
const PROMPT = "Say done."
const STAND_IN_SESSION = "00000000-0000-4000-8000-00000000005a"
const loadavg = async () => (await readFile("/proc/loadavg", "utf8")).split(" ").slice(0, 3).join(" ")

const claude = await makeClaudeHome("overlord-bench-remote-")
// One short answer per run, whoever asks: both paths start new sessions, which take the next turn.
const fake = startFakeAnthropic({
  main: Array.from({ length: 2 * (RUNS + 1) + 4 }, () => ({
    blocks: [{ type: "text" as const, text: "Done." }],
    usage: { input: 10, output: 2, cacheWrite: 0, cacheRead: 0 },
  })),
})
// A session file in the project, so the daemon knows the project (commands run only in known ones); the
// CLI's tmp dir. The environment is set per phase below, with the phase's program.
await remoteClaudeEnv(claude, fake.url, "00000000-0000-4000-8000-000000000003")
const claudePath = await claudeBinary()
const home = join(claude.configDir, "..", "overlord-home")

/**
 * A stand-in for the CLI that says its `system`/`init` line at once and, given the prompt, ends its
 * turn (the replayed user message and a `result`, on which the runner closes stdin): the whole path
 * through it, less its own spawn-to-first-line, is Overlord's part alone, without the real CLI's
 * start-up (which varies by hundreds of ms from run to run on a busy machine) in the difference.
 */
const standIn = join(claude.configDir, "..", "stand-in-claude.sh")
const line = (o: unknown) => `'${JSON.stringify(o)}'`
await writeFile(
  standIn,
  [
    "#!/bin/sh",
    `printf '%s\\n' ${line({ type: "system", subtype: "init", session_id: STAND_IN_SESSION, cwd: claude.projectDir })}`,
    "IFS= read -r prompt",
    `printf '%s\\n' ${line({ type: "user", isReplay: true, session_id: STAND_IN_SESSION, message: { role: "user", content: PROMPT } })}`,
    `printf '%s\\n' ${line({ type: "result", subtype: "success", is_error: false, session_id: STAND_IN_SESSION })}`,
    "cat >/dev/null",
    "",
  ].join("\n"),
  { mode: 0o755 },
)

/** First-event label: what the browser is shown first. */
const describeEvent = (e: { kind: string; message?: unknown }) =>
  e.kind === "cli"
    ? `cli ${String((e.message as { type?: unknown }).type)}/${String((e.message as { subtype?: unknown }).subtype ?? "")}`
    : e.kind
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return { p50: Math.round(percentile(s, 50)), p99: Math.round(percentile(s, 99)) }
}

/** One daemon whose commands run `program`; `runs` interleaved pairs of the whole path and `program` alone. */
/** The daemon with its embedded server, or (`--serve`) paired by pairing key with `overlord serve` on SQLite. */
async function startTopology(): Promise<{
  readonly creds: { readonly serverUrl: string; readonly apiToken: string }
  readonly home: string
  readonly stop: () => Promise<void>
}> {
  if (!SERVE) {
    const daemon = startOverlord(home, claude.configDir, ["--allow-remote"])
    return {
      creds: await daemon.credentials(),
      home,
      stop: async () => {
        daemon.stop()
        await new Promise((r) => daemon.child.once("exit", r))
      },
    }
  }
  server ??= await startStandaloneServer("overlord-bench-remote-serve-", { database: "sqlite" })
  const admin = await setUpAdminOnce(server)
  const laptop = join(server.dir, `laptop-${laptops++}`)
  await pairWithKey(server, admin, laptop)
  const daemon = runCli(laptop, ["start", "--foreground", "--claude-dir", claude.configDir, "--allow-remote"])
  return {
    creds: { serverUrl: server.url, apiToken: admin.apiToken },
    home: laptop,
    stop: async () => {
      daemon.stop()
      await daemon.exited
    },
  }
}
let server: StandaloneServer | undefined
let serverAdmin: ServerAdmin | undefined
let laptops = 0
const setUpAdminOnce = async (s: StandaloneServer) => {
  serverAdmin ??= await setUpAdmin(s)
  return serverAdmin
}

async function measure(program: string, runs: number) {
  // The daemon inherits this environment and hands it to the CLI as it is (`CommandRunner`'s default).
  Object.assign(process.env, claudeEnv(claude.configDir, fake.url), { OVERLORD_CLAUDE_PATH: program })
  const topology = await startTopology()
  const { creds, home } = topology
  // This daemon's own machine (with --serve, the earlier phase's machine is still listed, offline).
  const { machineId } = JSON.parse(await readFile(join(home, "machine.json"), "utf8")) as { machineId: string }
  const loadBefore = await loadavg()
  try {
    const bearer = bearerApi(creds.serverUrl, creds.apiToken)
    const api = async <T>(path: string, body?: unknown) => (await bearer<T>(path, body)).body
    const machine = await machineAccepting<Api.Machine>(bearer, (m) => m.machineId === machineId && m.online)
    await daemonKnowsProjects(home, [claude.projectDir])
    const ws = new WebSocket(`${creds.serverUrl.replace(/^http/, "ws")}/api/v1/live`, {
      headers: { authorization: `Bearer ${creds.apiToken}`, origin: creds.serverUrl },
    } as unknown as string[])
    await new Promise<void>((resolve) => {
      ws.onopen = () => resolve()
    })
    const firstEvent = new Map<string, { at: number; what: string; storedToLiveMs: number }>()
    const delivered = new Map<string, number>()
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as Live.LiveMessage
      const at = performance.now()
      if (m.type === "command-events" && !firstEvent.has(m.commandId) && m.events[0])
        firstEvent.set(m.commandId, {
          at,
          what: describeEvent(m.events[0].event),
          // The server's store time of the event (ms resolution, same clock) to its arrival here.
          storedToLiveMs: Date.now() - Date.parse(m.events[0].at),
        })
      if (m.type === "command" && m.command.status !== "queued" && !delivered.has(m.command.commandId))
        delivered.set(m.command.commandId, at)
    }

    const wholePath = async () => {
      const t0 = performance.now()
      const { command } = await api<Api.CommandCreated>("/commands", {
        machineId: machine.machineId,
        projectDir: claude.projectDir,
        prompt: PROMPT,
      })
      ws.send(JSON.stringify({ type: "watch-command", commandId: command.commandId, afterEventSeq: -1 }))
      const first = await waitFor("the first event", () => firstEvent.get(command.commandId) ?? null, 60_000, 5)
      await waitFor(
        "the end",
        async () =>
          (await api<Api.CommandDetail>(`/commands/${command.commandId}`)).command.endedAt !== null ? true : null,
        120_000,
        20,
      )
      return {
        ms: first.at - t0,
        toDelivered: (delivered.get(command.commandId) ?? Number.NaN) - t0,
        storedToLive: first.storedToLiveMs,
        what: first.what,
      }
    }
    const alone = async () => {
      const t0 = performance.now()
      const proc = ClaudeProcess.start({
        claudePath: program,
        cwd: claude.projectDir,
        prompt: PROMPT,
        env: process.env,
      })
      let first: { ms: number; what: string } | undefined
      for await (const event of proc.events) first ??= { ms: performance.now() - t0, what: describeEvent(event) }
      await proc.exited
      if (!first) throw new Error(`${program} said nothing`)
      return first
    }

    const rows: Array<{
      whole: number
      toDelivered: number
      storedToLive: number
      alone: number
      first: string
      aloneFirst: string
    }> = []
    for (let i = 0; i <= runs; i++) {
      const pair =
        i % 2 === 0
          ? { whole: await wholePath(), alone: await alone() }
          : await (async () => {
              const first = await alone()
              return { alone: first, whole: await wholePath() }
            })()
      // The first pair warms the page cache, the daemon's and the server's code paths: not recorded.
      if (i > 0)
        rows.push({
          whole: pair.whole.ms,
          toDelivered: pair.whole.toDelivered,
          storedToLive: pair.whole.storedToLive,
          alone: pair.alone.ms,
          first: pair.whole.what,
          aloneFirst: pair.alone.what,
        })
    }
    ws.close()
    return {
      runs: rows.length,
      loadavgBefore: loadBefore,
      loadavgAfter: await loadavg(),
      firstEvents: [...new Set(rows.map((r) => r.first))],
      aloneFirstEvents: [...new Set(rows.map((r) => r.aloneFirst))],
      wholePathMs: stats(rows.map((r) => r.whole)),
      aloneMs: stats(rows.map((r) => r.alone)),
      addedPerPairMs: stats(rows.map((r) => r.whole - r.alone)),
      postToDeliveredMs: stats(rows.map((r) => r.toDelivered)),
      deliveredToFirstEventMs: stats(rows.map((r) => r.whole - r.toDelivered)),
      storedToLiveMs: stats(rows.map((r) => r.storedToLive)),
      samples: rows.map((r) => ({ whole: Math.round(r.whole), alone: Math.round(r.alone) })),
    }
  } finally {
    await topology.stop()
  }
}

try {
  const f = (s: { p50: number; p99: number }) => `p50 ${s.p50} ms, p99 ${s.p99} ms`
  const real = await measure(claudePath, RUNS)
  const stand = await measure(standIn, RUNS)
  record("remote-latency", {
    topology: SERVE ? "overlord serve (SQLite) + paired daemon" : "embedded",
    realCli: real,
    standIn: stand,
  })
  console.log(SERVE ? "overlord serve (SQLite), daemons paired by pairing key" : "the daemon's embedded server")
  console.log(
    `real Claude CLI: ${real.runs} pairs after one warm-up pair; load average ${real.loadavgBefore} -> ${real.loadavgAfter}`,
  )
  console.log(
    `  first event seen: whole path ${real.firstEvents.join(", ")}; CLI alone ${real.aloneFirstEvents.join(", ")}`,
  )
  console.log(`  POST -> first event on the live socket: ${f(real.wholePathMs)}`)
  console.log(`  CLI alone, spawn -> first event (as the daemon spawns it): ${f(real.aloneMs)}`)
  console.log(`  whole - CLI alone, per pair: ${f(real.addedPerPairMs)}`)
  console.log(`  POST -> delivered (the daemon's ack, just before the spawn): ${f(real.postToDeliveredMs)}`)
  console.log(`  delivered -> first event on the live socket: ${f(real.deliveredToFirstEventMs)}`)
  console.log(`  first event stored by the server -> on the live socket: ${f(real.storedToLiveMs)}`)
  console.log(`stand-in CLI: ${stand.runs} pairs; load average ${stand.loadavgBefore} -> ${stand.loadavgAfter}`)
  console.log(`  POST -> first event on the live socket: ${f(stand.wholePathMs)}`)
  console.log(`  stand-in alone, spawn -> first event: ${f(stand.aloneMs)}`)
  console.log(`  Overlord's own part (whole - stand-in alone, per pair): ${f(stand.addedPerPairMs)}`)
  console.log(`  POST -> delivered: ${f(stand.postToDeliveredMs)}; stored -> live socket: ${f(stand.storedToLiveMs)}`)
  if (fake.errors.length > 0) console.log(`fake API problems: ${fake.errors.join("; ")}`)
} finally {
  await server?.stop()
  await fake.stop()
  await claude.cleanup()
}
