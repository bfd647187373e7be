/**
 * The sandbox image: slim Debian with Node, git and Claude Code, pinned to the version the test kit
 * runs. Kept as code for the SDK's `Image` builder, so `overlord daytona snapshot` sends exactly this
 * Dockerfile (`image.dockerfile`) and nothing from the local disk.
 */
import type * as Sdk from "@daytonaio/sdk"

export const CLAUDE_CODE_VERSION = "2.1.330"

/** The snapshot name `overlord daytona snapshot` builds and sandboxes start from by default. */
export const DEFAULT_SNAPSHOT = `overlord-claude-code-${CLAUDE_CODE_VERSION}`

/** Claude Code's own state: onboarding done, so `claude -p` never waits for an interactive step. */
const CLAUDE_STATE = JSON.stringify({
  hasCompletedOnboarding: true,
  lastOnboardingVersion: CLAUDE_CODE_VERSION,
  bypassPermissionsModeAccepted: true,
  autoUpdates: false,
})

export function sandboxImage(image: typeof Sdk.Image): Sdk.Image {
  return image
    .base("node:22-bookworm-slim")
    .runCommands(
      "apt-get update && apt-get install -y --no-install-recommends git ca-certificates openssh-client ripgrep && rm -rf /var/lib/apt/lists/*",
      `npm install -g @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} && npm cache clean --force`,
      // Daytona runs commands as `daytona` by default.
      "id -u daytona >/dev/null 2>&1 || useradd -m -s /bin/bash daytona",
      `printf '%s' '${CLAUDE_STATE}' > /home/daytona/.claude.json && chown daytona:daytona /home/daytona/.claude.json`,
    )
    .env({ DISABLE_AUTOUPDATER: "1", IS_SANDBOX: "1" })
    .workdir("/home/daytona")
    .entrypoint(["sleep", "infinity"])
}
