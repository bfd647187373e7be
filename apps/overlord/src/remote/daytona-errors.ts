/**
 * What a Daytona failure means to the user, decided from the SDK's error classes and the step that
 * failed (never from a message): each reason has a sentence the dashboard can show as it is, and
 * the SDK's error stays the cause.
 */
import type * as Sdk from "@daytonaio/sdk"

export type DaytonaFailureReason =
  /** The API key was refused (401). */
  | "auth"
  /** The sandbox (or what was asked of it) does not exist (404). */
  | "not-found"
  /** Daytona refused a new sandbox: the organization's CPU/memory/disk quota or rate limit (403/429 on create). */
  | "quota"
  /** The sandbox did not reach `started` in time. */
  | "start-timeout"
  /** The sandbox could not clone the project's remote at the laptop's commit. */
  | "clone-failed"
  /** The working tree to upload is over the size limit. */
  | "too-large"
  /** Daytona could not be reached at all. */
  | "unreachable"
  /** No Daytona key or Anthropic key is configured on this machine. */
  | "not-configured"
  /** Anything else Daytona or the sandbox reported. */
  | "daytona"

export class DaytonaSandboxError extends Error {
  override readonly name = "DaytonaSandboxError"
  constructor(
    readonly reason: DaytonaFailureReason,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The steps whose failures read differently (a 404 while cloning is the remote, not the sandbox). */
export type DaytonaStep = "find" | "create" | "start" | "clone" | "sandbox"

const statusOf = (e: unknown): number | undefined => {
  const s = typeof e === "object" && e !== null ? (e as { statusCode?: unknown }).statusCode : undefined
  return typeof s === "number" ? s : undefined
}

const capitalized = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1)

const detail = (e: unknown): string => {
  const text = e instanceof Error ? e.message : String(e)
  return text.trim().split("\n")[0] ?? ""
}

/**
 * `scheme://user:secret@host` → `scheme://***@host`, wherever in `text`: a git remote may carry a token
 * in its URL (`https://x-access-token:<token>@github.com/…`), and a message is the command's error,
 * stored on the server and shown on the dashboard. The sandbox itself still gets the URL as it is.
 */
export const withoutUrlCredentials = (text: string): string =>
  text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"]+@/gi, "$1***@")

/**
 * Maps an error thrown by the SDK during `step` to a `DaytonaSandboxError`. `sdk` is the lazily
 * imported SDK module, for its error classes; `what` names the sandbox or remote in the message.
 */
export function toDaytonaError(
  sdk: typeof Sdk,
  step: DaytonaStep,
  error: unknown,
  context: { readonly apiUrl: string; readonly what?: string; readonly startTimeoutSeconds?: number },
): DaytonaSandboxError {
  if (error instanceof DaytonaSandboxError) return error
  const status = statusOf(error)
  const what = context.what ?? "the sandbox"
  // Clone failures first: the daemon reports a missing remote or refused git credentials as 404/401,
  // which elsewhere would mean the sandbox or the API key.
  if (step === "clone" && error instanceof sdk.DaytonaError && !(error instanceof sdk.DaytonaConnectionError)) {
    return new DaytonaSandboxError(
      "clone-failed",
      withoutUrlCredentials(
        `The sandbox could not clone ${what}: ${detail(error)}. Is the commit pushed, and can the sandbox reach the remote?`,
      ),
      { cause: error },
    )
  }
  if (error instanceof sdk.DaytonaAuthenticationError) {
    return new DaytonaSandboxError(
      "auth",
      `Daytona refused the API key (401) at ${context.apiUrl}: check the Daytona API key configured on this machine.`,
      { cause: error },
    )
  }
  if (step === "create" && (error instanceof sdk.DaytonaForbiddenError || error instanceof sdk.DaytonaRateLimitError)) {
    return new DaytonaSandboxError(
      "quota",
      `Daytona refused to create a sandbox (${status ?? "?"}): ${detail(error)} Stop or remove other sandboxes (\`overlord sandboxes list\`), or raise the organization's limits.`,
      { cause: error },
    )
  }
  if (error instanceof sdk.DaytonaTimeoutError && (step === "create" || step === "start")) {
    const seconds = context.startTimeoutSeconds
    return new DaytonaSandboxError(
      "start-timeout",
      `${capitalized(what)} did not start${seconds === undefined ? "" : ` within ${seconds} s`}; try again, or check it in the Daytona dashboard.`,
      { cause: error },
    )
  }
  if (error instanceof sdk.DaytonaNotFoundError) {
    return new DaytonaSandboxError(
      "not-found",
      // Without a name, the failure came from inside a run (the toolbox): the project's sandbox went away.
      context.what === undefined
        ? `The sandbox is gone from Daytona (404): it may have been removed. ${detail(error)}`.trim()
        : `Daytona has no ${what} (404): it may have been removed. ${detail(error)}`.trim(),
      { cause: error },
    )
  }
  if (error instanceof sdk.DaytonaConnectionError) {
    return new DaytonaSandboxError("unreachable", `Cannot reach Daytona at ${context.apiUrl}: ${detail(error)}`, {
      cause: error,
    })
  }
  return new DaytonaSandboxError(
    "daytona",
    `Daytona failed (${step}${status ? `, ${status}` : ""}): ${detail(error)}`,
    {
      cause: error,
    },
  )
}
