/**
 * The files that make the daemon start at login and come back after a crash: a systemd user unit
 * (Linux) and a launchd agent (macOS). Pure text from the command line to run, so the tests check
 * them byte for byte; `service-manager.ts` writes them and tells the service manager.
 */

/** The unit is `<name>.service`; tests install theirs under another name beside a real one. */
export const SYSTEMD_NAME = "overlord"
export const LAUNCHD_LABEL = "dev.overlord.daemon"

/**
 * One word of an ExecStart= line (systemd.service(5), "Command lines"). systemd expands `%`
 * specifiers and `$VAR` everywhere in the line, quoted or not, so those are doubled; a word with
 * a space, a quote or a backslash goes in double quotes, inside which backslash and `"` are
 * escaped C-style (a tab or newline too: a path may hold one).
 */
export function systemdWord(word: string): string {
  const literal = word.replaceAll("%", "%%").replaceAll("$", "$$$$")
  if (literal !== "" && !/[\s"'\\;]/.test(literal)) return literal
  const escaped = literal
    .replaceAll("\\", "\\\\")
    .replaceAll('"', '\\"')
    .replaceAll("\n", "\\n")
    .replaceAll("\t", "\\t")
    .replaceAll("\r", "\\r")
  return `"${escaped}"`
}

/** `command`: absolute program path first, then its arguments (`start --foreground ...`). */
export function systemdUnit(command: readonly string[]): string {
  return `[Unit]
Description=Overlord: syncs Claude Code sessions (overlord start --foreground)

[Service]
Type=simple
ExecStart=${command.map(systemdWord).join(" ")}
# Back after a crash, not after \`overlord stop\` (a clean exit); 2 s apart, so a daemon that
# cannot start does not use up systemd's start limit (5 in 10 s) at once.
Restart=on-failure
RestartSec=2

[Install]
WantedBy=default.target
`
}

const xml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")

/**
 * `logFile` gets the daemon's stdout and stderr (its own log stays in `<home>/logs/overlord.log`).
 * Arguments are one <string> each: no shell reads them, so a space needs no quoting, only XML's
 * five characters escaping (four: `'` never needs it in element text).
 */
export function launchdPlist(command: readonly string[], logFile: string, label = LAUNCHD_LABEL): string {
  const args = command.map((a) => `    <string>${xml(a)}</string>`).join("\n")
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${xml(label)}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>StandardOutPath</key>
  <string>${xml(logFile)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(logFile)}</string>
</dict>
</plist>
`
}
