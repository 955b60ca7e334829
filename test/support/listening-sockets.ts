/**
 * The TCP sockets a group of processes listens on, read from Linux's /proc: the LISTEN rows of
 * /proc/net/tcp and /proc/net/tcp6, matched to the processes by the socket inodes in their
 * /proc/<pid>/fd. Reads only; sends nothing anywhere.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ListeningSocket {
  /** The local address as written by the kernel, decoded: `127.0.0.1`, `::1`, `::`, `0.0.0.0`... */
  address: string;
  port: number;
  family: 4 | 6;
  pid: number;
  /** The process's command line, for the failure message. */
  command: string;
}

const LISTEN = '0A';

/** The process and all its descendants (by parent pid), alive now. */
export function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // the process ended meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  }
  return tree.filter((pid) => parents.has(pid));
}

/** Every listening TCP socket of these processes. */
export function listeningSockets(pids: readonly number[]): ListeningSocket[] {
  const owners = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode) owners.set(inode, pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  const sockets: ListeningSocket[] = [];
  for (const [file, family] of [
    ['/proc/net/tcp', 4],
    ['/proc/net/tcp6', 6],
  ] as const) {
    const rows = readFileSync(file, 'utf8').split('\n').slice(1);
    for (const row of rows) {
      const columns = row.trim().split(/\s+/);
      const [local, state, inode] = [columns[1], columns[3], columns[9]];
      if (!local || state !== LISTEN || !inode) continue;
      const pid = owners.get(inode);
      if (pid === undefined) continue;
      const [hexAddress, hexPort] = local.split(':') as [string, string];
      sockets.push({
        address: family === 4 ? ipv4(hexAddress) : ipv6(hexAddress),
        port: parseInt(hexPort, 16),
        family,
        pid,
        command: commandOf(pid),
      });
    }
  }
  return sockets;
}

/** 127.0.0.0/8, ::1, or an IPv4-mapped loopback address (`::ffff:7f00:1` for 127.0.0.1). */
export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:7f[0-9a-f]{2}:/.test(address);
}

/** The kernel writes an IPv4 address as one 32-bit word in host (little-endian) order. */
function ipv4(hex: string): string {
  return (hex.match(/../g) ?? [])
    .reverse()
    .map((byte) => parseInt(byte, 16))
    .join('.');
}

/** Four 32-bit words, each in host order; written back in the usual (URL) notation. */
function ipv6(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((word) => (word.match(/../g) ?? []).reverse());
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(`${bytes[i]}${bytes[i + 1]}`);
  return new URL(`http://[${groups.join(':')}]`).hostname.replace(/^\[|\]$/g, '');
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}
