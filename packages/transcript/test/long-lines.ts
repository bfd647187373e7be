/** Long lines of every shape whose facts read something (shared by the facts and elision tests). */

/** Text long enough to be emptied, with the escapes a real tool output has. */
export const long = (seed: string, n = 6000) =>
  `${seed} "quoted" \\ back\tslash\n line é ✓ 😀 `.repeat(Math.ceil(n / 40)).slice(0, n)

/** Lines of every shape whose facts read something, each long enough for the fast path. */
export const longLines = (): string[] => [
  // A prompt typed as text blocks, and one as a plain string: both kept whole.
  JSON.stringify({
    type: "user",
    uuid: "u1",
    sessionId: "s1",
    timestamp: "2026-11-01T10:00:00.000Z",
    message: { role: "user", content: [{ type: "text", text: `  fix this ${long("p")}` }] },
  }),
  JSON.stringify({ type: "user", uuid: "u2", message: { role: "user", content: long("plain prompt") } }),
  // `type` after `message`: the text blocks are kept until the type is known.
  JSON.stringify({ message: { content: [{ type: "text", text: long("late type") }] }, type: "user", uuid: "u3" }),
  // Tool results, one an error, with long nested content.
  JSON.stringify({
    type: "user",
    uuid: "u4",
    toolUseResult: { stdout: long("out"), stderr: "" },
    message: {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "toolu_1", is_error: true, content: long("boom") },
        { type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: long("nested") }] },
      ],
    },
  }),
  JSON.stringify({
    type: "assistant",
    uuid: "a1",
    requestId: "req_1",
    isSidechain: true,
    message: {
      id: "msg_1",
      model: "claude-opus-5-5",
      content: [
        { type: "thinking", thinking: long("think"), signature: long("sig") },
        { type: "text", text: long("answer") },
        { type: "tool_use", id: "toolu_3", name: "Bash", input: { command: long("cmd") } },
      ],
      usage: { input_tokens: 5, output_tokens: 9, cache_creation: { ephemeral_1h_input_tokens: 40 } },
    },
  }),
  JSON.stringify({ type: "attachment", attachment: { type: "deferred_tools", tools: [{ description: long("d") }] } }),
  // A subtype is read whatever its length: a long `attachment.type` or `data.type` is kept.
  JSON.stringify({ type: "attachment", attachment: { type: `a-kind-${"k".repeat(100)}`, content: long("c") } }),
  JSON.stringify({ type: "progress", data: { type: `p-kind-${"k".repeat(100)}`, output: long("o") } }),
  JSON.stringify({ type: "summary", summary: long("summary"), leafUuid: "a1" }),
  JSON.stringify({ type: "custom-title", customTitle: long("title"), sessionId: "s1" }),
  JSON.stringify({ type: "brand-new", deep: { deeper: { deepest: [long("x")] } } }),
  // Depth, arrays of arrays, numbers and literals the scanner must step over.
  JSON.stringify({ type: "progress", data: { type: "x", a: [[[[long("deep"), 1.5e-3, true, null]]]] } }),
]
