import type { Api } from "@overlord/protocol"
import { createElement } from "react"
import { renderToString } from "react-dom/server"
import { describe, expect, it } from "vitest"
import { EntryView } from "../src/components/EntryView.tsx"
import { TranscriptContext } from "../src/components/transcript-context.ts"
import { pairTools } from "../src/pairing.ts"
import { readLine as parseLine } from "../src/records.ts"

const env = {
  parentUuid: null,
  isSidechain: false,
  sessionId: "s1",
  cwd: "/repo",
  version: "2.1.114",
  timestamp: "2026-01-01T10:00:00.000Z",
}
const line = (record: object): string => JSON.stringify({ ...env, uuid: crypto.randomUUID(), ...record })

const entries = (lines: readonly string[]): Api.Entry[] =>
  lines.map((l, i) => ({ seq: i + 1, fileKey: "main", agentId: null, lineNo: i, byteOffset: 0, kind: "x", line: l }))

/** Renders a whole transcript the way SessionView does (shared pairing), minus virtualization. */
const render = (lines: readonly string[]): string => {
  const list = entries(lines)
  const rows = list.map((entry) => ({ entry, record: parseLine(entry.line) }))
  const pairs = pairTools(rows.map((r) => ({ seq: r.entry.seq, record: r.record })))
  const ctx = { sessionId: "s1", pairs, onAgentEntries: () => () => undefined, depth: 0, showBookkeeping: false }
  const html = renderToString(
    createElement(
      TranscriptContext.Provider,
      { value: ctx },
      rows.map((r) => createElement(EntryView, { key: r.entry.seq, entry: r.entry, record: r.record })),
    ),
  )
  // React separates adjacent text nodes with empty comments; they are noise for text assertions.
  return html.replaceAll("<!-- -->", "")
}

const toolUse = (id: string, name: string, input: object) =>
  line({
    type: "assistant",
    message: {
      id: `msg_${id}`,
      role: "assistant",
      model: "claude-opus-4-6",
      content: [{ type: "tool_use", id, name, input }],
    },
  })
const toolResult = (id: string, content: unknown, toolUseResult?: unknown, isError = false) =>
  line({
    type: "user",
    message: {
      role: "user",
      content: [{ type: "tool_result", tool_use_id: id, content, ...(isError ? { is_error: true } : {}) }],
    },
    ...(toolUseResult === undefined ? {} : { toolUseResult }),
  })

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

describe("entry renderers", () => {
  it("wraps every entry with testid, seq, kind and a deep-link anchor", () => {
    const html = render([line({ type: "user", message: { role: "user", content: "hello" } })])
    expect(html).toContain('data-testid="entry"')
    expect(html).toContain('data-seq="1"')
    expect(html).toContain('data-kind="user"')
    expect(html).toContain('href="#/sessions/s1?seq=1"')
    expect(html).toContain('id="entry-1"')
  })

  it("renders user and assistant text as markdown, never as live HTML", () => {
    const html = render([
      line({ type: "user", message: { role: "user", content: "Run **this** <script>alert(1)</script>" } }),
      line({
        type: "assistant",
        message: {
          role: "assistant",
          model: "claude-opus-4-6",
          content: [{ type: "text", text: '# Done\n<img src=x onerror="alert(1)">' }],
        },
      }),
    ])
    expect(html).toContain("<strong>this</strong>")
    expect(html).toContain("<h1>Done</h1>")
    expect(html).not.toContain("<script")
    expect(html).not.toMatch(/<img[^>]*onerror/)
    expect(html).toContain("claude-opus-4-6")
  })

  it("collapses thinking", () => {
    const html = render([
      line({
        type: "assistant",
        message: { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "x" }] },
      }),
    ])
    expect(html).toMatch(/<details[^>]*data-testid="thinking"/)
    expect(html).not.toMatch(/data-testid="thinking"[^>]*open/)
    expect(html).toContain("hmm")
  })

  it("pairs a Bash call with its result across entries and renders ANSI colours", () => {
    const html = render([
      toolUse("toolu_1", "Bash", { command: "ls --color", description: "List files" }),
      toolResult("toolu_1", "a\nb", { stdout: "\u001b[31mred.txt\u001b[0m plain", stderr: "", interrupted: false }),
    ])
    const call = html.indexOf('data-testid="tool-call"')
    const result = html.indexOf('data-testid="tool-result"')
    expect(call).toBeGreaterThan(-1)
    expect(result).toBeGreaterThan(call)
    expect(html).toContain('data-tool="Bash"')
    expect(html).toContain('<span class="ansi-red-fg">red.txt</span>')
    expect(html).not.toContain("\u001b")
    // The result entry itself only points back to the call.
    expect(html).toContain("shown with its call")
  })

  it("shows an orphan result (call on an earlier page) standalone", () => {
    const html = render([toolResult("toolu_gone", "output text")])
    expect(html).toContain('data-testid="tool-result"')
    expect(html).toContain("output text")
    expect(html).not.toContain('data-testid="tool-call"')
  })

  it("renders Edit as a diff from structuredPatch", () => {
    const html = render([
      toolUse("toolu_e", "Edit", { file_path: "/repo/a.ts", old_string: "x", new_string: "y" }),
      toolResult("toolu_e", "ok", {
        filePath: "/repo/a.ts",
        structuredPatch: [
          { oldStart: 3, oldLines: 1, newStart: 3, newLines: 1, lines: ["-const a = 1", "+const a = 2"] },
        ],
      }),
    ])
    expect(html).toContain('data-testid="diff"')
    expect(html).toContain("@@ -3,1 +3,1 @@")
    expect(html).toContain('class="diff-del"')
    expect(html).toContain("const a = 2")
    expect(html).toContain("/repo/a.ts")
  })

  it("renders Edit from old/new strings when there is no patch", () => {
    const html = render([toolUse("toolu_e2", "Edit", { file_path: "/f", old_string: "old", new_string: "new" })])
    expect(html).toContain('data-testid="diff"')
    expect(html).toContain("running…")
  })

  it("renders Write and Read as file views", () => {
    const html = render([
      toolUse("toolu_w", "Write", { file_path: "/repo/new.py", content: "print('hi')\n" }),
      toolResult("toolu_w", "File created", {
        type: "create",
        filePath: "/repo/new.py",
        content: "print('hi')\n",
        structuredPatch: [],
      }),
      toolUse("toolu_r", "Read", { file_path: "/repo/b.txt" }),
      toolResult("toolu_r", "     1→one", {
        type: "text",
        file: { filePath: "/repo/b.txt", content: "one\ntwo", numLines: 2, startLine: 1, totalLines: 2 },
      }),
    ])
    expect(html).toContain("/repo/new.py")
    expect(html).toContain("print(&#39;hi&#39;)")
    expect(html).toContain("lines 1–2 of 2")
    expect(html).toMatch(/class="gutter"[^>]*>1\n2</)
  })

  it("renders TodoWrite as a checklist", () => {
    const html = render([
      toolUse("toolu_t", "TodoWrite", {
        todos: [
          { content: "Write tests", status: "completed", activeForm: "Writing tests" },
          { content: "Ship", status: "in_progress", activeForm: "Shipping" },
        ],
      }),
    ])
    expect(html).toContain('class="todos"')
    expect(html).toMatch(/<input type="checkbox"[^>]*checked=""/)
    expect(html).toContain("Shipping")
  })

  it("renders a Task/Agent call with an expandable subagent transcript", () => {
    const html = render([
      toolUse("toolu_a", "Agent", { description: "Explore repo", prompt: "Look around", subagent_type: "Explore" }),
      toolResult("toolu_a", [{ type: "text", text: "Found **3** files" }], {
        status: "completed",
        agentId: "a6c06884a23d0f4d3",
        totalTokens: 1200,
        totalDurationMs: 4000,
        totalToolUseCount: 3,
      }),
    ])
    expect(html).toContain('data-testid="subagent"')
    expect(html).toContain('data-agent-id="a6c06884a23d0f4d3"')
    expect(html).toContain("<strong>3</strong>")
  })

  it("renders images from user blocks and from tool_result content", () => {
    const html = render([
      line({
        type: "user",
        message: {
          role: "user",
          content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: PNG } }],
        },
      }),
      toolUse("toolu_s", "mcp__browser__screenshot", {}),
      toolResult("toolu_s", [{ type: "image", source: { type: "base64", media_type: "image/png", data: PNG } }]),
    ])
    expect(html.match(/data-testid="image"/g)).toHaveLength(2)
    expect(html).toContain(`src="data:image/png;base64,${PNG}"`)
  })

  it("refuses non-image data URLs", () => {
    const html = render([
      line({
        type: "user",
        message: {
          content: [{ type: "image", source: { type: "base64", media_type: "text/html", data: "PHNjcmlwdD4=" } }],
        },
      }),
    ])
    expect(html).not.toContain("data:text/html")
  })

  it("renders compaction boundaries and collapsed compact summaries", () => {
    const html = render([
      line({
        type: "system",
        subtype: "compact_boundary",
        content: "Conversation compacted",
        compactMetadata: { trigger: "auto", preTokens: 155000 },
      }),
      line({
        type: "user",
        isCompactSummary: true,
        isVisibleInTranscriptOnly: true,
        message: {
          role: "user",
          content: "This session is being continued from a previous conversation that ran out of context.",
        },
      }),
    ])
    expect(html).toContain('data-testid="compact-boundary"')
    expect(html).toContain("155.0k tokens")
    expect(html).toMatch(/<details[^>]*data-testid="compact-summary"/)
  })

  it("renders API errors (assistant and system)", () => {
    const html = render([
      line({
        type: "assistant",
        isApiErrorMessage: true,
        apiErrorStatus: 429,
        message: {
          role: "assistant",
          model: "<synthetic>",
          content: [{ type: "text", text: "API Error: rate limited" }],
        },
      }),
      line({
        type: "system",
        subtype: "api_error",
        level: "error",
        error: { cause: { code: "FailedToOpenSocket" } },
        retryAttempt: 2,
        maxRetries: 10,
        retryInMs: 1200,
      }),
    ])
    expect(html.match(/data-testid="api-error"/g)).toHaveLength(2)
    expect(html).toContain("API error 429")
    expect(html).toContain("FailedToOpenSocket")
    expect(html).toContain("retry 2/10")
  })

  it("renders local commands and their stdout", () => {
    const html = render([
      line({
        type: "user",
        message: {
          role: "user",
          content:
            "<command-name>/cost</command-name>\n<command-message>cost</command-message>\n<command-args></command-args>",
        },
      }),
      line({
        type: "user",
        message: {
          role: "user",
          content: "<local-command-stdout>Total cost: \u001b[1m$0.12\u001b[22m</local-command-stdout>",
        },
      }),
      line({
        type: "system",
        subtype: "local_command",
        level: "info",
        content: "<local-command-stdout>Compacted</local-command-stdout>",
      }),
    ])
    expect(html).toContain('data-testid="local-command"')
    expect(html).toContain("/cost")
    expect(html).toContain('<span class="ansi-bold">$0.12</span>')
    expect(html).toContain("Compacted")
  })

  it("renders hook output (system notices and hook attachments)", () => {
    const html = render([
      line({ type: "system", content: "Running \u001b[1mPostToolUse:Bash\u001b[22m...", level: "info" }),
      line({
        type: "attachment",
        attachment: {
          type: "hook_success",
          hookName: "PostToolUse:Edit",
          hookEvent: "PostToolUse",
          stdout: "formatted 2 files",
          stderr: "",
          exitCode: 0,
        },
      }),
    ])
    expect(html.match(/data-testid="hook-output"/g)).toHaveLength(2)
    expect(html).toContain("PostToolUse:Edit")
    expect(html).toContain("formatted 2 files")
  })

  it("renders metadata records (titles, summary, snapshot, queue) as one-liners", () => {
    const html = render([
      JSON.stringify({ type: "custom-title", customTitle: "Fix the parser", sessionId: "s1" }),
      JSON.stringify({ type: "ai-title", aiTitle: "Parser work", sessionId: "s1" }),
      JSON.stringify({ type: "summary", summary: "Old summary", leafUuid: "x" }),
      JSON.stringify({
        type: "file-history-snapshot",
        messageId: "m",
        snapshot: { trackedFileBackups: { "a.ts": {}, "b.ts": {} } },
      }),
      JSON.stringify({ type: "queue-operation", operation: "enqueue", content: "next prompt", sessionId: "s1" }),
    ])
    expect(html).toContain("Fix the parser")
    expect(html).toContain("Parser work")
    expect(html).toContain("Old summary")
    expect(html).toContain("2 tracked file(s)")
    expect(html).toContain("next prompt")
    expect(html).toContain('data-kind="custom-title"')
  })

  it("shows malformed and unknown records raw and collapsed, never hidden", () => {
    const html = render([
      '{"type":"pr-link","sessionId":"x","prNu{"parentUuid"',
      "42",
      JSON.stringify({ type: "brand-new-kind", foo: "bar" }),
    ])
    expect(html.match(/data-testid="entry"/g)).toHaveLength(3)
    expect(html.match(/data-kind="malformed"/g)).toHaveLength(2)
    // Flagged, so nobody mistakes them for records the dashboard understood.
    expect(html.match(/data-testid="unrecognised"/g)).toHaveLength(3)
    expect(html).toContain('data-kind="brand-new-kind"')
    expect(html).toContain("prNu{")
    expect(html).toMatch(/<details class="raw"/)
    expect(html).toContain("bar")
  })

  it("renders interrupts, meta injections and progress records", () => {
    const html = render([
      line({
        type: "user",
        message: { role: "user", content: [{ type: "text", text: "[Request interrupted by user]" }] },
      }),
      line({
        type: "user",
        isMeta: true,
        message: { role: "user", content: "<system-reminder>be careful</system-reminder>" },
      }),
      line({
        type: "progress",
        data: {
          type: "bash_progress",
          output: "\u001b[32mok\u001b[0m",
          fullOutput: "\u001b[32mok\u001b[0m",
          elapsedTimeSeconds: 3,
        },
      }),
    ])
    expect(html).toContain('class="interrupt"')
    expect(html).toContain("System reminder")
    expect(html).toContain('<span class="ansi-green-fg">ok</span>')
  })
})
