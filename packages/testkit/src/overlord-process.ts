/**
 * `overlord start --foreground` as a subprocess for end-to-end tests: output captured for failure
 * messages, and the credentials it writes read back once its API answers.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { waitFor } from "./wait.ts"

/** What users run: the bundled CLI, built by the test suites' global setup (scripts/build-daemon.ts). */
export const OVERLORD_BIN = fileURLToPath(new URL("../../../apps/overlord/dist/bin.js", import.meta.url))
/** The same CLI from source, as a developer runs it (`bun apps/overlord/src/bin.ts`). */
export const OVERLORD_SOURCE_BIN = fileURLToPath(new URL("../../../apps/overlord/src/bin.ts", import.meta.url))

export interface OverlordCredentials {
  readonly serverUrl: string
  readonly apiToken: string
}

export interface OverlordProcess {
  readonly child: ChildProcess
  /** Everything it printed so far. */
  output(): string
  /** The credentials it wrote, once the API accepts them. */
  credentials(timeoutMs?: number): Promise<OverlordCredentials>
  /** The one-time sign-in link it printed (`Dashboard: <url>`), once it did. */
  dashboardLink(timeoutMs?: number): Promise<string>
  stop(): void
}

/** Starts the daemon with its embedded server on a free port. */
export function startOverlord(home: string, claudeDir: string, extraArgs: readonly string[] = []): OverlordProcess {
  const chunks: string[] = []
  const child = spawn(
    "bun",
    [OVERLORD_BIN, "--home", home, "start", "--foreground", "--claude-dir", claudeDir, "--port", "0", ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  )
  child.stdout?.on("data", (d) => chunks.push(String(d)))
  child.stderr?.on("data", (d) => chunks.push(String(d)))
  const output = () => chunks.join("")
  return {
    child,
    output,
    credentials: (timeoutMs = 60_000) =>
      waitFor(
        "the daemon's credentials",
        async () => {
          const c = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as OverlordCredentials
          const res = await fetch(`${c.serverUrl}/api/v1/machines`, {
            headers: { authorization: `Bearer ${c.apiToken}` },
          })
          return res.ok ? c : null
        },
        timeoutMs,
      ).catch((e) => {
        throw new Error(`${String(e)}\ndaemon output:\n${output()}`)
      }),
    dashboardLink: (timeoutMs = 60_000) =>
      waitFor("the printed dashboard link", async () => /Dashboard: (\S+)/.exec(output())?.[1], timeoutMs).catch(
        (e) => {
          throw new Error(`${String(e)}\ndaemon output:\n${output()}`)
        },
      ),
    stop: () => {
      child.kill("SIGTERM")
    },
  }
}
