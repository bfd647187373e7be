import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

/** Path of the `claude` executable shipped by the `@anthropic-ai/claude-code` dependency. */
export async function claudeBinary(): Promise<string> {
  const require = createRequire(import.meta.url)
  const pkgPath = require.resolve("@anthropic-ai/claude-code/package.json")
  const pkg: unknown = JSON.parse(await readFile(pkgPath, "utf8"))
  const bin = typeof pkg === "object" && pkg !== null && "bin" in pkg ? pkg.bin : undefined
  const rel =
    typeof bin === "string"
      ? bin
      : typeof bin === "object" && bin !== null && "claude" in bin && typeof bin.claude === "string"
        ? bin.claude
        : "bin/claude.exe"
  return join(dirname(pkgPath), rel)
}

export interface ClaudeHome {
  /** CLAUDE_CONFIG_DIR: session files land in `<configDir>/projects/<encoded cwd>/`. */
  readonly configDir: string
  /** A fresh, realpath'd working directory for the session. */
  readonly projectDir: string
  /** `<configDir>/projects/<encodeProjectDir(projectDir)>`. */
  readonly sessionsDir: string
  readonly cleanup: () => Promise<void>
}

/** Claude Code's project directory name for a cwd (short paths; long ones get a hash suffix we don't need). */
export const encodeProjectDir = (cwd: string): string => cwd.replace(/[^a-zA-Z0-9]/g, "-")

export async function makeClaudeHome(prefix = "overlord-claude-"): Promise<ClaudeHome> {
  // realpath because Claude Code canonicalises the cwd before naming the project dir.
  const root = await realpath(await mkdtemp(join(tmpdir(), prefix)))
  const configDir = join(root, "config")
  const projectDir = join(root, "project")
  await mkdir(configDir, { recursive: true })
  await mkdir(projectDir, { recursive: true })
  // Marks onboarding, trust and migrations as done so no interactive step can block a run.
  await writeFile(
    join(configDir, ".claude.json"),
    JSON.stringify({
      hasCompletedOnboarding: true,
      lastOnboardingVersion: "2.1.330",
      bypassPermissionsModeAccepted: true,
      autoUpdates: false,
      projects: { [projectDir]: { hasTrustDialogAccepted: true, hasCompletedProjectOnboarding: true } },
    }),
  )
  await writeFile(
    join(configDir, "settings.json"),
    JSON.stringify({
      cleanupPeriodDays: 3650,
      includeCoAuthoredBy: false,
      permissions: { defaultMode: "bypassPermissions" },
    }),
  )
  return {
    configDir,
    projectDir,
    sessionsDir: join(configDir, "projects", encodeProjectDir(projectDir)),
    cleanup: () => rm(root, { recursive: true, force: true }),
  }
}

export interface RunClaudeOptions {
  readonly cwd: string
  readonly configDir: string
  readonly baseUrl: string
  readonly prompt: string
  readonly resume?: string
  readonly args?: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  readonly timeoutMs?: number
}

export interface ClaudeRun {
  readonly exitCode: number
  readonly timedOut: boolean
  /** stream-json lines from stdout, parsed; lines that are not JSON are kept as strings. */
  readonly messages: readonly unknown[]
  readonly stdout: string
  readonly stderr: string
  /** `session_id` from the stream (init or result message). */
  readonly sessionId: string | undefined
  /** The final `{"type":"result"}` message, if one was printed. */
  readonly result: Readonly<Record<string, unknown>> | undefined
}

/** Environment for a hermetic, non-interactive run against a fake API. */
export function claudeEnv(configDir: string, baseUrl: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    // Keeps the run away from the real ~/.claude* and shell rc files.
    HOME: dirname(configDir),
    TERM: "dumb",
    CLAUDE_CONFIG_DIR: configDir,
    ANTHROPIC_BASE_URL: baseUrl,
    ANTHROPIC_API_KEY: "sk-ant-test-overlord-0000000000000000",
    DISABLE_TELEMETRY: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_ERROR_REPORTING: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    // Claude Code refuses --dangerously-skip-permissions as root unless it believes it is sandboxed.
    IS_SANDBOX: "1",
    // 2.1.330 replaced TodoWrite with Task* tools for new models; these two bring TodoWrite back (deferred,
    // so scripts load it with ToolSearch first).
    CLAUDE_CODE_ENABLE_TASKS: "false",
    CLAUDE_CODE_ENABLE_TODO_TOOLS: "1",
    SHELL: "/bin/bash",
    // Task output files would otherwise pile up in the shared /tmp/claude-<uid>.
    CLAUDE_CODE_TMPDIR: join(dirname(configDir), "tmp"),
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

export async function runClaude(options: RunClaudeOptions): Promise<ClaudeRun> {
  const bin = await claudeBinary()
  await mkdir(join(dirname(options.configDir), "tmp"), { recursive: true })
  const argv = [
    bin,
    "-p",
    options.prompt,
    "--output-format",
    "stream-json",
    "--verbose",
    "--dangerously-skip-permissions",
    ...(options.resume ? ["--resume", options.resume] : []),
    ...(options.args ?? []),
  ]
  const proc = Bun.spawn(argv, {
    cwd: options.cwd,
    env: { ...claudeEnv(options.configDir, options.baseUrl), ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    proc.kill("SIGKILL")
  }, options.timeoutMs ?? 45_000)
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearTimeout(timer)
  const messages = stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l): unknown => {
      try {
        return JSON.parse(l)
      } catch {
        return l
      }
    })
  const records = messages.filter(isRecord)
  const sessionId = records.map((m) => m.session_id).find((s): s is string => typeof s === "string")
  const result = records.findLast((m) => m.type === "result")
  return { exitCode, timedOut, messages, stdout, stderr, sessionId, result }
}
