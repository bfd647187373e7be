/**
 * The Daytona SDK, loaded on first use (it is large: the idle daemon must not pay for it), and a
 * client configured only from what is passed in: never from DAYTONA_* variables or a `.env` file.
 */
import type * as Sdk from "@daytonaio/sdk"

/** Where Daytona is and the key to it: configured on the laptop, never sent to the Overlord server. */
export interface DaytonaConnection {
  readonly apiUrl: string
  readonly apiKey: string
  /** Daytona region. */
  readonly target?: string
  /** Waits for states by polling instead of Socket.IO (the SDK's deprecated option; tests use it). */
  readonly statePolling?: boolean
}

let sdkModule: Promise<typeof Sdk> | undefined

export const loadDaytonaSdk = (): Promise<typeof Sdk> => {
  sdkModule ??= import("@daytonaio/sdk")
  return sdkModule
}

export async function openDaytona(connection: DaytonaConnection): Promise<Sdk.Daytona> {
  const sdk = await loadDaytonaSdk()
  return new sdk.Daytona({
    apiKey: connection.apiKey,
    // Always explicit: without it 0.218 reads DAYTONA_API_URL and a CWD `.env` (and may throw).
    apiUrl: connection.apiUrl,
    ...(connection.target ? { target: connection.target } : {}),
    ...(connection.statePolling ? { useDeprecatedPolling: true } : {}),
  })
}
