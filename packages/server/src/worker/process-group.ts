/** The solver runs in its own process group, so a stop reaches everything it started. */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

export interface GroupMember {
  pid: number;
  /**
   * The program's file name (Linux: argv[0] from /proc/<pid>/cmdline, e.g. SPEOSHPC.x), else
   * the kernel's name for it (comm). Not comm first: programs rename their main thread
   * (Node 24 calls it "MainThread"), which says nothing to the person who stopped the job.
   */
  name: string;
}

async function programName(pid: string, comm: string): Promise<string> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const argv0 = cmdline.split('\0')[0] ?? '';
  return argv0 ? (argv0.split('/').pop() ?? argv0) : comm;
}

/** The processes in process group `pgid` (Linux /proc); at least the leader itself. */
export async function processGroupMembers(pgid: number, leaderName = 'solver'): Promise<GroupMember[]> {
  const members = new Map<number, string>([[pgid, leaderName]]);
  try {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      // "pid (comm) state ppid pgrp …": comm may contain spaces and ')', so split at the last ')'.
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (Number(fields[2]) === pgid) {
        members.set(Number(entry), await programName(entry, stat.slice(stat.indexOf('(') + 1, close)));
      }
    }
  } catch {
    // Not Linux: the leader is all we can name.
  }
  return [...members].map(([pid, name]) => ({ pid, name })).sort((a, b) => a.pid - b.pid);
}

/** Whether a process still runs (a zombie waiting to be reaped has ended). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc: signal 0 is all we can ask
  }
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
