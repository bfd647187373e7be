/**
 * The Run panel's pieces rendered (react-dom/server): a real CLI run's output through the transcript's
 * renderers, permission prompts (a Bash command as a command, an Edit as a diff, a Write as the file),
 * and every refusal reason the server or the daemon can give, each with its message.
 */
import type { Api } from "@overlord/protocol"
import { runScenario, toolTour } from "@overlord/testkit/scenarios"
import { createElement } from "react"
import { renderToString } from "react-dom/server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { outputItems, REASON_TITLES } from "../src/commands.ts"
import { CommandOutput, RefusalNotice } from "../src/components/CommandView.tsx"
import { PermissionPrompt } from "../src/components/PermissionPrompt.tsx"

type CliMessage = Extract<Api.CommandEventDto["event"], { kind: "cli" }>["message"]
const at = "2026-12-06T12:00:00.000Z"
const html = (el: Parameters<typeof renderToString>[0]) => renderToString(el).replaceAll("<!-- -->", "")

describe("a real run's output, rendered", () => {
  let events: Api.CommandEventDto[] = []
  let dispose: () => Promise<void> = async () => {}
  beforeAll(async () => {
    const run = await runScenario(toolTour, { timeoutMs: 90_000 })
    dispose = run.dispose
    events = (run.runs[0]?.messages ?? [])
      .filter((m): m is CliMessage => typeof m === "object" && m !== null && !Array.isArray(m))
      .map((message, eventSeq) => ({ eventSeq, at, event: { kind: "cli", message } }))
  }, 120_000)
  afterAll(() => dispose())

  it("shows tool calls with their results, the Edit as a diff, ANSI output coloured, and no raw JSON", () => {
    const out = html(createElement(CommandOutput, { items: outputItems(events, new Map(), true), sessionId: "s" }))
    for (const tool of ["Bash", "Write", "Read", "Edit", "TodoWrite"]) expect(out).toContain(`data-tool="${tool}"`)
    // Each call shows its result (paired across events), none is left "running…".
    expect(out).not.toContain("running…")
    // Results show under their calls; the user messages that carried them are not repeated as pointers.
    expect(out).not.toContain("shown with its call")
    expect(out).toContain('data-testid="diff"')
    expect(out).toContain("BETA (edited)")
    expect(out).toContain("ansi-green-fg")
    expect(out).toContain("Tour complete")
    expect(out).toContain('data-kind="result"')
    expect(out).not.toContain("&quot;type&quot;:&quot;assistant&quot;")
  })
})

describe("permission prompts", () => {
  const prompt = (toolName: string, input: CliMessage, state: "pending" | "denied" = "pending") =>
    html(
      createElement(PermissionPrompt, {
        request: { kind: "permission-request", requestId: "r1", toolName, input },
        state,
        onAnswer: async () => {},
      }),
    )

  it("asks a Bash call as its command, an Edit as a diff, a Write as the file, with Allow and Deny", () => {
    const bash = prompt("Bash", { command: "rm -rf build && make" })
    expect(bash).toContain('data-testid="permission-command"')
    expect(bash).toContain("rm -rf build &amp;&amp; make")
    expect(bash).toContain('data-testid="permission-allow"')
    expect(bash).toContain('data-testid="permission-deny"')
    const edit = prompt("Edit", { file_path: "/p/a.txt", old_string: "one\ntwo", new_string: "one\nTWO" })
    expect(edit).toMatch(/class="diff-del".*two/s)
    expect(edit).toMatch(/class="diff-add".*TWO/s)
    const write = prompt("Write", { file_path: "/p/new.txt", content: "hello file" })
    expect(write).toContain("/p/new.txt")
    expect(write).toContain("hello file")
    const other = prompt("WebFetch", { url: "https://example.com" })
    expect(other).toContain("https://example.com")
  })

  it("an answered prompt says so and offers no buttons", () => {
    const denied = prompt("Bash", { command: "ls" }, "denied")
    expect(denied).toContain('data-state="denied"')
    expect(denied).not.toContain("permission-allow")
  })
})

describe("refusals", () => {
  it("names every reason and shows its message", () => {
    const reasons = Object.keys(REASON_TITLES) as Api.CommandErrorReason[]
    expect(reasons).toEqual(
      expect.arrayContaining([
        "remote-disabled",
        "unknown-project",
        "path-escape",
        "prompt-too-long",
        "concurrency-limit",
        "machine-not-found",
      ]),
    )
    for (const reason of reasons) {
      const out = html(createElement(RefusalNotice, { reason, message: `the message for ${reason}` }))
      expect(out).toContain(`data-reason="${reason}"`)
      expect(out).toContain('role="alert"')
      expect(out).toContain(REASON_TITLES[reason])
      expect(out).toContain(`the message for ${reason}`)
    }
  })
})
