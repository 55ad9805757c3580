/** Which build of the command-line tool fits the visitor, and the commands to start with it. */

export type VisitorOs = 'windows' | 'linux' | 'macos';

export interface CliDownload {
  name: string;
  os: VisitorOs | 'any';
  arch: string;
  kind: 'executable' | 'npm';
  size: number;
  url: string;
}

/** From the browser's user agent; anything unrecognised is treated as Linux. */
export function detectOs(userAgent: string): VisitorOs {
  if (/Windows/i.test(userAgent)) return 'windows';
  if (/Macintosh|Mac OS X/i.test(userAgent)) return 'macos';
  return 'linux';
}

/** The executable for this OS when the portal has one, else the npm package (any OS with Node). */
export function pickDownload(files: CliDownload[], os: VisitorOs): CliDownload | undefined {
  return files.find((f) => f.kind === 'executable' && f.os === os) ?? files.find((f) => f.kind === 'npm');
}

/**
 * Commands to run after downloading `file` on `os` (PowerShell on Windows, a POSIX shell
 * elsewhere), and to point the tool at `server`; `login` when the portal has company sign-in.
 */
export function firstCommands(
  file: CliDownload,
  server: string,
  os: VisitorOs,
  login: boolean,
): { first: string[]; connect: string[] } {
  const windows = os === 'windows';
  const program = file.kind === 'npm' ? 'speos-portal' : windows ? `.\\${file.name}` : `./${file.name}`;
  const install = file.kind === 'npm' ? [`npm install -g ./${file.name}`] : windows ? [] : [`chmod +x ${file.name}`];
  const first = [
    ...install,
    `${program} --help`,
    `${program} upload model.speos --job-name headlamp`,
    `${program} tasks list`,
  ];
  const connect = windows
    ? [`$env:SPEOS_PORTAL_URL = "${server}"`, '$env:SPEOS_PORTAL_TOKEN = "<token>"', `${program} tasks list`]
    : [`export SPEOS_PORTAL_URL=${server}`, 'export SPEOS_PORTAL_TOKEN=<token>', `${program} tasks list`];
  return { first, connect: login ? [...connect, `${program} login --server ${server}`] : connect };
}
