/** The solver runs in its own process group, so a stop reaches everything it started. */
import { readdir, readFile } from 'node:fs/promises';

/** PIDs in process group `pgid` (Linux /proc); at least the leader itself. */
export async function processGroupMembers(pgid: number): Promise<number[]> {
  const members = new Set<number>([pgid]);
  try {
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
      // Fields after the command name (which may contain spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) members.add(Number(name));
    }
  } catch {
    // Not Linux: the leader is all we can name.
  }
  return [...members].sort((a, b) => a - b);
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Members of group `pgid` that are still running (zombies, dead but not yet reaped by
 * their parent, do not count). Not Linux: the leader's liveness stands for the group.
 */
export async function runningMembers(pgid: number): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return groupAlive(pgid) ? [pgid] : [];
  }
  const running: number[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') running.push(Number(name));
  }
  return running;
}
