/**
 * Small record builders modelled on shared/reference/claude-code-jsonl.md, so the main suite runs
 * without the fixture corpus. Each returns one JSONL line.
 */

type Fields = Record<string, unknown>

const SESSION = "11111111-1111-4111-8111-111111111111"

const envelope = (uuid: string, parentUuid: string | null, timestamp: string, extra: Fields = {}) => ({
  parentUuid,
  isSidechain: false,
  userType: "external",
  cwd: "/Users/dev/app",
  sessionId: SESSION,
  version: "2.1.39",
  gitBranch: "main",
  uuid,
  timestamp,
  ...extra,
})

export const line = (value: unknown): string => JSON.stringify(value)

export function userLine(
  uuid: string,
  parentUuid: string | null,
  content: unknown,
  timestamp = "2026-02-01T10:00:00.000Z",
  extra: Fields = {},
): string {
  return line({ ...envelope(uuid, parentUuid, timestamp, extra), type: "user", message: { role: "user", content } })
}

export interface AssistantOptions {
  messageId?: string
  requestId?: string | null
  model?: string
  usage?: Fields
  extra?: Fields
}

export function assistantLine(
  uuid: string,
  parentUuid: string | null,
  block: Fields,
  timestamp = "2026-02-01T10:00:01.000Z",
  opts: AssistantOptions = {},
): string {
  const { messageId = `msg_${uuid}`, requestId = `req_${uuid}`, model = "claude-sonnet-4-5-20250929" } = opts
  const usage = opts.usage ?? {
    input_tokens: 10,
    output_tokens: 5,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  }
  return line({
    ...envelope(uuid, parentUuid, timestamp, opts.extra),
    ...(requestId === null ? {} : { requestId }),
    type: "assistant",
    message: {
      id: messageId,
      type: "message",
      role: "assistant",
      model,
      content: [block],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  })
}

export const text = (t: string) => ({ type: "text", text: t })
export const toolUse = (id: string, name: string, input: unknown) => ({ type: "tool_use", id, name, input })
export const toolResult = (toolUseId: string, content: unknown, isError?: boolean) => ({
  type: "tool_result",
  tool_use_id: toolUseId,
  content,
  ...(isError === undefined ? {} : { is_error: isError }),
})

export function systemLine(
  uuid: string,
  parentUuid: string | null,
  subtype: string | null,
  extra: Fields = {},
): string {
  return line({
    ...envelope(uuid, parentUuid, "2026-02-01T10:00:02.000Z"),
    type: "system",
    ...(subtype === null ? {} : { subtype }),
    content: "",
    level: "info",
    ...extra,
  })
}

export const SAMPLE_SESSION = SESSION
