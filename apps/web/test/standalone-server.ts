/**
 * What the account and pairing browser tests run, all of it the real bundled CLI as child processes:
 * `overlord serve` (on the suite's MariaDB when the CLI takes `--database-url`, else SQLite), the
 * setup link it prints, `overlord login`, `overlord start` against the paired server, `overlord status`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { testMariaDb } from "@overlord/testkit/mariadb"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"

export interface CliProcess {
  readonly child: ChildProcess
  output(): string
  /** Resolves with the exit code once it exits. */
  readonly exited: Promise<number | null>
  stop(): void
}

export function runCli(home: string, args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const chunks: string[] = []
  const child = spawn("bun", [OVERLORD_BIN, "--home", home, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  })
  child.stdout?.on("data", (d) => chunks.push(String(d)))
  child.stderr?.on("data", (d) => chunks.push(String(d)))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return {
    child,
    output: () => chunks.join(""),
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    },
  }
}

/** Runs a CLI command to its end; fails with its output if it does not end within `timeoutMs`. */
export async function cli(
  home: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; output: string }> {
  const p = runCli(home, args)
  const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs)
  const code = await p.exited
  clearTimeout(timer)
  return { code, output: p.output() }
}

export interface StandaloneServer {
  readonly url: string
  /** `mariadb` or `sqlite`: what the server stores in, for the report. */
  readonly database: "mariadb" | "sqlite"
  readonly proc: CliProcess
  /** The one-time link `overlord serve` printed to create the first admin. */
  readonly setupUrl: string
  readonly dir: string
  stop(): Promise<void>
}

/** Whether this build of the CLI's `serve` takes `--database-url` (the MySQL/MariaDB store). */
export async function serveTakesDatabaseUrl(home: string): Promise<boolean> {
  const help = await cli(home, ["serve", "--help"])
  return help.output.includes("--database-url")
}

export async function startStandaloneServer(prefix: string): Promise<StandaloneServer> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const home = join(dir, "server-home")
  const useMariaDb = await serveTakesDatabaseUrl(home)
  const dbArgs = useMariaDb
    ? [
        "--database-url",
        await (async () => {
          const db = testMariaDb()
          return db.url(await db.createDatabase())
        })(),
      ]
    : ["--database", join(dir, "server.db")]
  const proc = runCli(home, ["serve", "--port", "0", ...dbArgs])
  const describe = () => `server output:\n${proc.output()}`
  const url = await waitFor(
    "the server's address",
    () => /Overlord server on (http:\/\/\S+?),?\s/.exec(proc.output())?.[1]?.replace(/\/$/, ""),
    60_000,
  ).catch((e) => {
    throw new Error(`${String(e)}\n${describe()}`)
  })
  const setupUrl = await waitFor(
    "the printed setup link",
    () => /(https?:\/\/\S+\/setup\/[^\s"']+)/.exec(proc.output())?.[1],
    30_000,
  ).catch((e) => {
    throw new Error(`${String(e)}\n${describe()}`)
  })
  return {
    url,
    database: useMariaDb ? "mariadb" : "sqlite",
    proc,
    setupUrl,
    dir,
    stop: async () => {
      proc.stop()
      await proc.exited
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** `overlord status --json`, parsed; the raw text too, for failure messages. */
export async function statusOf(home: string): Promise<{ json: Record<string, unknown> | null; text: string }> {
  const r = await cli(home, ["status", "--json"])
  try {
    return { json: JSON.parse(r.output) as Record<string, unknown>, text: r.output }
  } catch {
    return { json: null, text: r.output }
  }
}
