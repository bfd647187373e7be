/** Claude Code-shaped session lines for tests (the shapes of shared/reference/claude-code-jsonl.md). */
import type { SessionLine } from "../src/session-digest.ts"

let clock = Date.parse("2026-11-02T10:00:00Z")
const stamp = () => {
  clock += 1_000
  return new Date(clock).toISOString()
}
const envelope = (type: string, extra: Record<string, unknown>) =>
  JSON.stringify({ type, uuid: crypto.randomUUID(), sessionId: "s", timestamp: stamp(), ...extra })

export const userPrompt = (text: string) => envelope("user", { message: { role: "user", content: text } })

export const assistant = (text: string, tools: readonly { name: string; input: Record<string, unknown> }[] = []) =>
  envelope("assistant", {
    message: {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "private reasoning that stays out", signature: "x" },
        ...(text === "" ? [] : [{ type: "text", text }]),
        ...tools.map((t, i) => ({ type: "tool_use", id: `toolu_${i}`, name: t.name, input: t.input })),
      ],
    },
  })

export const toolResult = (output: string) =>
  envelope("user", {
    message: { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_0", content: output }] },
  })

export const metaPrompt = (text: string) => envelope("user", { isMeta: true, message: { role: "user", content: text } })

export const sidechainPrompt = (text: string) =>
  envelope("user", { isSidechain: true, message: { role: "user", content: text } })

/** Lines numbered from `firstSeq`. */
export const numbered = (lines: readonly string[], firstSeq = 1): SessionLine[] =>
  lines.map((line, i) => ({ seq: firstSeq + i, line }))

/** A session about fixing a flaky upload test. */
export const uploadSession = (): string[] => [
  userPrompt("The upload test is flaky on CI: it fails about one run in five. Can you fix the flaky upload test?"),
  assistant("Let me look at the upload test and the upload handler.", [
    { name: "Read", input: { file_path: "test/upload.test.ts" } },
  ]),
  toolResult("1 import { upload } from '../src/upload'\n2 test('upload', async () => { ... })"),
  assistant("The upload test races the file watcher; it must wait for the upload to finish.", [
    { name: "Edit", input: { file_path: "test/upload.test.ts", old_string: "a", new_string: "b" } },
    { name: "Bash", input: { command: "bun test test/upload.test.ts --repeat 50" } },
  ]),
  toolResult("50 pass"),
  assistant("The upload test passed 50 runs in a row: the flaky failure is fixed."),
]

/** A session about documentation. */
export const readmeSession = (): string[] => [
  userPrompt("Update the README's install section: the install steps still mention npm instead of bun."),
  assistant("I will rewrite the install section of the README.", [{ name: "Edit", input: { file_path: "README.md" } }]),
  assistant("The README now documents installing with bun."),
]

/** A session about a database migration. */
export const migrationSession = (): string[] => [
  userPrompt("Add a database migration that creates an index on the sessions table by project and date."),
  assistant("I added migration 7 with the index and ran the migrations.", [
    { name: "Bash", input: { command: "bun run migrate" } },
  ]),
]
