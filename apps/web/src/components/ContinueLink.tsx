/**
 * "Continue this session…" on a session's page. A session of one's own machine continues there, in its
 * `cwd`. A Daytona sandbox's session (its machine is a child of the laptop that ran it) continues
 * through that laptop, in the sandbox again, in the laptop's project folder — which the sandbox's
 * `cwd` is not — as the command that produced the session named it.
 */
import { commandsApi } from "../commands.ts"
import { useAsync } from "../hooks.ts"
import { useMachines } from "../machines.ts"
import { runHref } from "../router.ts"

export const ContinueLink = ({
  sessionId,
  machineId,
  cwd,
}: {
  readonly sessionId: string
  readonly machineId: string
  readonly cwd: string | null
}) => {
  const machines = useMachines()
  const parent = machines.list?.find((m) => m.machineId === machineId)?.parent
  const laptopProject = useAsync(
    async (signal) =>
      parent ? ((await commandsApi.list({ sessionId, limit: 1 }, signal)).commands[0]?.projectDir ?? null) : null,
    [parent?.machineId, sessionId],
  )
  // Only on a machine of one's own: a session shared with me is read-only (issue #11 §5).
  if (!machines.names.has(machineId)) return null
  const href = parent
    ? runHref({
        machine: parent.machineId,
        project: laptopProject.state === "ok" ? laptopProject.value : null,
        resume: sessionId,
        where: "sandbox",
      })
    : runHref({ machine: machineId, project: cwd, resume: sessionId })
  return (
    <a href={href} data-testid="session-continue" data-where={parent ? "sandbox" : "local"}>
      Continue this session{parent ? " in its sandbox" : ""}…
    </a>
  )
}
