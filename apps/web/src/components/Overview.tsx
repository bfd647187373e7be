/** Landing page: which machines sync, which projects exist, what happened recently. */
import { api } from "../api.ts"
import { ALLOW_REMOTE_HINT, RESTART_ALLOW_REMOTE_HINT } from "../commands.ts"
import { formatAgo, formatBytes, formatInt, projectLabel } from "../format.ts"
import { useAsync, useHealth, useNow } from "../hooks.ts"
import { machineNamesOf } from "../machines.ts"
import { hrefWith, runHref } from "../router.ts"
import { PairLaptopHint } from "./PairLaptopHint.tsx"
import { SessionRow } from "./SessionList.tsx"

export const Overview = () => {
  const now = useNow()
  const health = useHealth()
  const machinesRes = useAsync((s) => api.machines(s), [])
  const projects = useAsync((s) => api.projects(s), [])
  const recent = useAsync((s) => api.sessions({}, null, 15, s), [])
  // Live health wins over the first REST snapshot so online/offline flips without a reload.
  const restMachines = machinesRes.state === "ok" ? machinesRes.value.machines : null
  const machines = health?.machines ?? restMachines
  const names = machineNamesOf(restMachines, health?.machines)

  return (
    <div className="page overview">
      <section>
        <h2>Machines</h2>
        {machinesRes.state === "error" && !health && <div className="error">{machinesRes.error}</div>}
        {machines && machines.length === 0 && (
          <div className="muted" data-testid="no-machine">
            No machine has synced yet. <PairLaptopHint />
          </div>
        )}
        {machines && machines.length > 0 && (
          <table className="grid" data-testid="machines">
            <thead>
              <tr>
                <th>Machine</th>
                <th>Status</th>
                <th>Last seen</th>
                <th className="num">Files</th>
                <th className="num">Pending</th>
                <th>Last error</th>
                <th>Commands</th>
              </tr>
            </thead>
            <tbody>
              {machines.map((m) => (
                <tr key={m.machineId} data-testid="machine-row" data-online={m.online ? "true" : "false"}>
                  <td>
                    <a href={hrefWith("/sessions", { machine: m.machineId })}>{m.name}</a>
                    {m.parent && (
                      <span
                        className="badge"
                        data-testid="machine-sandbox"
                        title={`Daytona sandbox run by ${names.get(m.parent.machineId) ?? m.parent.machineId}; its sessions sync through that machine`}
                      >
                        sandbox
                      </span>
                    )}
                  </td>
                  <td>
                    <span className={`live-dot ${m.online ? "live-on" : "live-off"}`}>
                      {m.online ? "online" : "offline"}
                    </span>
                  </td>
                  <td>{formatAgo(m.lastSeenAt, now)}</td>
                  <td className="num">{formatInt(m.filesTracked)}</td>
                  <td className="num">{m.bytesPending > 0 ? formatBytes(m.bytesPending) : "in sync"}</td>
                  <td className="error small">{m.lastError ?? ""}</td>
                  <td>
                    {m.parent ? (
                      <a href={runHref({ machine: m.parent.machineId })} data-testid="machine-run-parent">
                        via {names.get(m.parent.machineId) ?? m.parent.machineId}
                      </a>
                    ) : (
                      <a
                        href={runHref({ machine: m.machineId })}
                        data-testid="machine-run"
                        data-accepts={m.acceptsCommands ? "true" : "false"}
                        title={
                          m.acceptsCommands
                            ? "Run Claude Code here"
                            : `Not accepting commands: ${m.online ? RESTART_ALLOW_REMOTE_HINT : ALLOW_REMOTE_HINT}`
                        }
                      >
                        {m.acceptsCommands ? "Run…" : "history"}
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h2>Recent sessions</h2>
        {recent.state === "error" && <div className="error">{recent.error}</div>}
        {recent.state === "ok" && (
          <div className="recent">
            {recent.value.sessions.map((s) => (
              <SessionRow key={s.sessionId} s={s} now={now} machines={names} />
            ))}
            {recent.value.sessions.length === 0 ? (
              <div className="muted">No sessions yet: they appear here as soon as a laptop syncs them.</div>
            ) : (
              <a href="#/sessions">All sessions →</a>
            )}
          </div>
        )}
      </section>
      <section>
        <h2>Projects</h2>
        {projects.state === "error" && <div className="error">{projects.error}</div>}
        {projects.state === "ok" && projects.value.projects.length === 0 && (
          <div className="muted">No projects yet: each folder Claude Code works in becomes one.</div>
        )}
        {projects.state === "ok" && projects.value.projects.length > 0 && (
          <table className="grid" data-testid="projects">
            <thead>
              <tr>
                <th>Project</th>
                <th className="num">Sessions</th>
                <th>Last activity</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {projects.value.projects.map((p) => (
                <tr key={p.projectDir} data-testid="project-row">
                  <td title={p.projectDir}>
                    <a href={hrefWith("/sessions", { project: p.projectDir })}>{projectLabel(p.cwd, p.projectDir)}</a>
                    {p.cwd && (
                      <div className="muted small project-path" data-testid="project-cwd">
                        {p.cwd}
                      </div>
                    )}
                  </td>
                  <td className="num">{formatInt(p.sessionCount)}</td>
                  <td>{formatAgo(p.lastActivityAt, now)}</td>
                  <td>
                    {p.cwd && (
                      <a href={runHref({ project: p.cwd })} data-testid="project-run">
                        Run…
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  )
}
