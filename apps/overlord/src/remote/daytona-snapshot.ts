/**
 * `overlord daytona snapshot`: builds the snapshot sandboxes start from, from the image definition
 * in `daytona-image.ts`, through the SDK (`daytona.snapshot.create` with an `Image`).
 */
import { type DaytonaConnection, loadDaytonaSdk, openDaytona } from "./daytona-client.ts"
import { toDaytonaError } from "./daytona-errors.ts"
import { DEFAULT_SNAPSHOT, sandboxImage } from "./daytona-image.ts"

export interface SnapshotBuild {
  readonly name: string
  readonly state: string
  /** False when a snapshot of that name existed already (nothing was built). */
  readonly created: boolean
  /** The Dockerfile sent to Daytona. */
  readonly dockerfile: string
}

export interface SnapshotBuildOptions {
  readonly name?: string
  /** Build log lines as Daytona streams them. */
  readonly onLogs?: (line: string) => void
  /** Seconds the build may take; default 30 minutes (Claude Code's install dominates). */
  readonly timeoutSeconds?: number
}

export async function buildSandboxSnapshot(
  connection: DaytonaConnection,
  options: SnapshotBuildOptions = {},
): Promise<SnapshotBuild> {
  const sdk = await loadDaytonaSdk()
  const daytona = await openDaytona(connection)
  const name = options.name ?? DEFAULT_SNAPSHOT
  const image = sandboxImage(sdk.Image)
  try {
    const existing = await daytona.snapshot.get(name).catch((e: unknown) => {
      if (e instanceof sdk.DaytonaNotFoundError) return undefined
      throw e
    })
    if (existing) return { name, state: String(existing.state), created: false, dockerfile: image.dockerfile }
    const snapshot = await daytona.snapshot.create(
      { name, image },
      { timeout: options.timeoutSeconds ?? 30 * 60, ...(options.onLogs ? { onLogs: options.onLogs } : {}) },
    )
    return { name, state: String(snapshot.state), created: true, dockerfile: image.dockerfile }
  } catch (e) {
    throw toDaytonaError(sdk, "sandbox", e, { apiUrl: connection.apiUrl, what: `snapshot ${name}` })
  }
}
