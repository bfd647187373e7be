import { execFileSync } from "node:child_process"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { deflateSync } from "node:zlib"
import { type ClaudeHome, type ClaudeRun, makeClaudeHome, runClaude } from "./claude-cli.ts"
import {
  type FakeAnthropic,
  type Script,
  type ScriptBlock,
  type ScriptTurn,
  scriptTotals,
  startFakeAnthropic,
  type TokenUsage,
} from "./fake-anthropic.ts"

export interface Scenario {
  readonly name: string
  /** The first prompt starts a session; each later one `--resume`s it. */
  readonly prompts: readonly string[]
  readonly script: Script
  /** Deduplicated token totals a correct usage counter must report for all files of the session. */
  readonly expected: TokenUsage
  /** Prepares the project dir before the first run (e.g. files the script reads). */
  readonly setup?: (projectDir: string) => Promise<void>
}

/** Scenarios name files by absolute path (Read/Write/Edit require it), so they are built per project dir. */
export type ScenarioFactory = (projectDir: string) => Scenario

// Distinct, recognisable numbers per turn so a wrong dedup (double count, dropped record) shows in the totals.
const usage = (n: number): TokenUsage => ({
  input: 100 * n + 3,
  output: 10 * n + 7,
  cacheWrite: 1000 * n + 11,
  cacheRead: 10_000 * n + 13,
})

const turn = (n: number, blocks: readonly ScriptBlock[], delayMs?: number): ScriptTurn =>
  delayMs === undefined ? { blocks, usage: usage(n) } : { blocks, usage: usage(n), delayMs }

const scenario = (
  name: string,
  prompts: readonly string[],
  script: Script,
  setup?: (dir: string) => Promise<void>,
): Scenario => ({
  name,
  prompts,
  script,
  expected: scriptTotals(script),
  ...(setup ? { setup } : {}),
})

export const NOTES_ORIGINAL = "alpha\nbeta\ngamma\n"
export const NOTES_EDITED = "alpha\nBETA (edited)\ngamma\n"

/** Thinking, text, Bash with ANSI colour, Write, Read, Edit, TodoWrite, and a final answer. */
export const toolTour: ScenarioFactory = (dir) => {
  const notes = join(dir, "notes.txt")
  return scenario("toolTour", ["Take the tool tour."], {
    main: [
      // Three blocks in one response: the same message.id lands on three records (the dedup case).
      turn(1, [
        { type: "thinking", thinking: "The user wants a tour. I will start with Bash, then files." },
        { type: "text", text: "Starting the tour with a coloured shell command." },
        {
          type: "tool_use",
          name: "Bash",
          input: {
            command: "printf '\\033[32mgreen\\033[0m and \\033[1;31mbold red\\033[0m\\n'; echo tour-ok",
            description: "Print coloured text",
          },
        },
      ]),
      turn(2, [{ type: "tool_use", name: "Write", input: { file_path: notes, content: NOTES_ORIGINAL } }]),
      turn(3, [{ type: "tool_use", name: "Read", input: { file_path: notes } }]),
      turn(4, [
        { type: "text", text: "Now an edit." },
        {
          type: "tool_use",
          name: "Edit",
          input: { file_path: notes, old_string: "beta", new_string: "BETA (edited)" },
        },
      ]),
      // TodoWrite is a deferred tool: its schema must be loaded before the call validates.
      turn(5, [{ type: "tool_use", name: "ToolSearch", input: { query: "select:TodoWrite", max_results: 1 } }]),
      turn(6, [
        {
          type: "tool_use",
          name: "TodoWrite",
          input: {
            todos: [
              { content: "Run a shell command", status: "completed", activeForm: "Running a shell command" },
              { content: "Edit notes.txt", status: "completed", activeForm: "Editing notes.txt" },
              { content: "Summarise the tour", status: "in_progress", activeForm: "Summarising the tour" },
            ],
          },
        },
      ]),
      turn(7, [{ type: "text", text: "Tour complete: Bash, Write, Read, Edit and TodoWrite all ran." }]),
    ],
  })
}

export const SUBAGENT_MARKER = "SUBAGENT-TASK-7f3a"

/** An Agent tool call whose subagent runs Bash and answers; produces `<sid>/subagents/agent-*.jsonl`. */
export const subagent: ScenarioFactory = () =>
  scenario("subagent", ["Delegate a look around to a subagent."], {
    main: [
      turn(1, [
        { type: "text", text: "I'll ask a subagent." },
        {
          type: "tool_use",
          name: "Agent",
          input: {
            description: "Look around",
            prompt: `${SUBAGENT_MARKER}: list the project directory and report.`,
            subagent_type: "general-purpose",
            // Agents default to background runs; a synchronous one keeps the main script linear and gives the
            // tool result the completed shape (agentId, content, usage).
            run_in_background: false,
          },
        },
      ]),
      turn(2, [{ type: "text", text: "The subagent reported back: the directory is listed." }]),
    ],
    agents: [
      {
        marker: SUBAGENT_MARKER,
        turns: [
          turn(3, [
            {
              type: "tool_use",
              name: "Bash",
              input: { command: "ls -la && echo agent-ok", description: "List files" },
            },
          ]),
          turn(4, [{ type: "text", text: "The directory holds a few files; agent-ok." }]),
        ],
      },
    ],
  })

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
const crc32 = (buf: Uint8Array): number => {
  let c = 0xffffffff
  for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** A small valid RGB PNG (a colour gradient), generated so the repo needs no binary fixtures. */
export function makePng(width = 16, height = 16): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const td = Buffer.concat([Buffer.from(type, "ascii"), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(td))
    return Buffer.concat([len, td, crc])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1)
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = (x * 255) / (width - 1)
      raw[row + 2 + x * 3] = (y * 255) / (height - 1)
      raw[row + 3 + x * 3] = 128
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ])
}

/** Read of a PNG: the tool result carries a base64 image block. */
export const image: ScenarioFactory = (dir) => {
  const png = join(dir, "pixel.png")
  return scenario(
    "image",
    ["Look at pixel.png."],
    {
      main: [
        turn(1, [{ type: "tool_use", name: "Read", input: { file_path: png } }]),
        turn(2, [{ type: "text", text: "It is a small gradient." }]),
      ],
    },
    (d) => writeFile(join(d, "pixel.png"), makePng()),
  )
}

/** Two prompts: the second `--resume`s the first session, so the same file grows. */
export const resume: ScenarioFactory = () =>
  scenario("resume", ["First prompt: say hello.", "Second prompt: run a command."], {
    main: [
      turn(1, [{ type: "text", text: "Hello from the first run." }]),
      turn(2, [{ type: "tool_use", name: "Bash", input: { command: "echo resumed-ok", description: "Echo" } }]),
      turn(3, [{ type: "text", text: "The resumed run finished." }]),
    ],
  })

/** `turns` Bash turns, each answered after `delayMs`, so the file grows over several seconds. */
export const slow =
  (turns = 4, delayMs = 800): ScenarioFactory =>
  () =>
    scenario("slow", ["Count slowly."], {
      main: [
        ...Array.from({ length: turns }, (_, i) =>
          turn(
            i + 1,
            [
              { type: "text", text: `Step ${i + 1}.` },
              {
                type: "tool_use",
                name: "Bash",
                input: { command: `echo step-${i + 1}`, description: `Step ${i + 1}` },
              },
            ],
            delayMs,
          ),
        ),
        turn(turns + 1, [{ type: "text", text: "Done counting." }], delayMs),
      ],
    })

export const REMOTE_FILE = "remote.txt"
export const REMOTE_FILE_CONTENT = "written from afar\n"

/** A Write that Claude Code asks permission for (in the `default` permission mode), then a closing answer. */
export const permissionWrite: ScenarioFactory = (dir) =>
  scenario("permissionWrite", ["Write remote.txt."], {
    main: [
      turn(1, [
        { type: "text", text: "Writing the file." },
        { type: "tool_use", name: "Write", input: { file_path: join(dir, REMOTE_FILE), content: REMOTE_FILE_CONTENT } },
      ]),
      turn(2, [{ type: "text", text: "Finished with remote.txt." }]),
    ],
  })

export const FOLLOW_UP_ANSWER = "FOLLOW-UP-ANSWER"

/** A first answer that takes `delayMs`, so a follow-up can arrive mid-run, then the follow-up's answer. */
export const followUp =
  (delayMs = 2500): ScenarioFactory =>
  () =>
    scenario("followUp", ["Think slowly.", "And a follow-up."], {
      main: [
        turn(1, [{ type: "text", text: "A slow first answer." }], delayMs),
        turn(2, [{ type: "text", text: FOLLOW_UP_ANSWER }]),
      ],
    })

/** `slowStream`'s answer is this, `seconds * 10` times: one text delta (24 characters) each. */
export const SLOW_STREAM_SENTENCE = "Once upon a time, again."

/** One long answer streamed over about `seconds` (24 characters every 100 ms): still arriving when a test cancels it. */

export const slowStream =
  (seconds = 30): ScenarioFactory =>
  () =>
    scenario("slowStream", ["Tell a long story."], {
      main: [{ ...turn(1, [{ type: "text", text: SLOW_STREAM_SENTENCE.repeat(seconds * 10) }]), eventDelayMs: 100 }],
    })

/** A Bash call that sleeps `seconds`, then an answer: a run with a child process to end on cancel. */
export const longBash =
  (seconds = 60): ScenarioFactory =>
  () =>
    scenario("longBash", ["Wait a while in the shell."], {
      main: [
        turn(1, [
          {
            type: "tool_use",
            name: "Bash",
            input: { command: `echo waiting; sleep ${seconds}; echo waited`, description: "Wait" },
          },
        ]),
        turn(2, [{ type: "text", text: "Done waiting." }]),
      ],
    })

/** No turn scripted: for commands the daemon refuses before any CLI runs. */
export const noTurns: ScenarioFactory = () => scenario("noTurns", [], { main: [] })

/** `factory`'s scenario with its main turns played `times` over (one command each). */
export const repeated =
  (factory: ScenarioFactory, times: number): ScenarioFactory =>
  (dir) => {
    const s = factory(dir)
    return { ...s, script: { ...s.script, main: Array.from({ length: times }, () => s.script.main).flat() } }
  }

/** Whether `longBash(seconds)`'s `sleep` runs on this machine (give each test its own `seconds`). */
export const longBashSleeping = (seconds: number): boolean => {
  try {
    return execFileSync("pgrep", ["-f", `sleep ${seconds}`], { encoding: "utf8" }).trim() !== ""
  } catch {
    return false
  }
}

export const scenarios = { toolTour, subagent, image, resume, slow: slow() } as const

/** Expected deduplicated totals per scenario (they do not depend on the project dir). */
export const EXPECTED_TOTALS: Readonly<Record<keyof typeof scenarios, TokenUsage>> = {
  toolTour: toolTour("/").expected,
  subagent: subagent("/").expected,
  image: image("/").expected,
  resume: resume("/").expected,
  slow: slow()("/").expected,
}

export interface ScenarioRun {
  readonly scenario: Scenario
  readonly home: ClaudeHome
  readonly fake: FakeAnthropic
  readonly runs: readonly ClaudeRun[]
  readonly sessionId: string | undefined
  /** `<sessionsDir>/<sessionId>.jsonl` */
  readonly sessionFile: string | undefined
  /** Stops the fake and deletes the temp dirs. */
  readonly dispose: () => Promise<void>
}

export interface RunScenarioOptions {
  readonly home?: ClaudeHome
  readonly timeoutMs?: number
  readonly verbose?: boolean
  /** Called once the fake is up, before the CLI starts: live tests use it to watch the session as it grows. */
  readonly onStarted?: (started: {
    readonly scenario: Scenario
    readonly home: ClaudeHome
    readonly fake: FakeAnthropic
  }) => void
  /** Called after each prompt's run; e.g. to snapshot the file between a run and its resume. */
  readonly afterRun?: (run: ClaudeRun, index: number) => void | Promise<void>
}

/** Runs every prompt of a scenario with the real CLI against a fresh fake API. */
export async function runScenario(factory: ScenarioFactory, options: RunScenarioOptions = {}): Promise<ScenarioRun> {
  const home = options.home ?? (await makeClaudeHome())
  const sc = factory(home.projectDir)
  await sc.setup?.(home.projectDir)
  const fake = startFakeAnthropic(sc.script, options.verbose ? { verbose: true } : {})
  options.onStarted?.({ scenario: sc, home, fake })
  const runs: ClaudeRun[] = []
  let sessionId: string | undefined
  for (const [i, prompt] of sc.prompts.entries()) {
    const run = await runClaude({
      cwd: home.projectDir,
      configDir: home.configDir,
      baseUrl: fake.url,
      prompt,
      ...(sessionId ? { resume: sessionId } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    })
    runs.push(run)
    await options.afterRun?.(run, i)
    sessionId ??= run.sessionId
    if (run.exitCode !== 0) break
  }
  return {
    scenario: sc,
    home,
    fake,
    runs,
    sessionId,
    sessionFile: sessionId ? join(home.sessionsDir, `${sessionId}.jsonl`) : undefined,
    dispose: async () => {
      await fake.stop()
      if (!options.home) await home.cleanup()
    },
  }
}

/** One answer held back `delayMs` (a minute): a run still waiting on the API when a test cancels or stops it. */
export const unansweredScript = (delayMs = 60_000): Script => ({
  main: [
    {
      blocks: [{ type: "text", text: "too late" }],
      usage: { input: 1, output: 1, cacheWrite: 0, cacheRead: 0 },
      delayMs,
    },
  ],
})

/**
 * The sandbox runs' two turns: a Bash call that writes `content` (one line) to `file` in the project,
 * then `answer`, each counting `usage`.
 */
export const bashWriteTurns = (file: string, content: string, answer: string, usage: TokenUsage): ScriptTurn[] => [
  {
    blocks: [
      {
        type: "tool_use",
        name: "Bash",
        input: { command: `printf '${content.trim()}\\n' > ${file}`, description: "Write" },
      },
    ],
    usage,
  },
  { blocks: [{ type: "text", text: answer }], usage },
]
