/**
 * Keeps the Agents Playground on loopback. Its CLI (@microsoft/m365agentsplayground 0.2.28) has
 * no host option: it calls `server.listen(port, callback)`, which listens on every interface, so
 * anyone on the network could reach the Playground and, through it, the sandbox bot. Its code is
 * bundled (dist/index.js), so nothing can be passed in; instead this module is preloaded into the
 * CLI's process (`node --require`), where it makes every TCP listen without a host, or with a
 * wildcard one, listen on 127.0.0.1. Listens that name a host, a pipe or a handle are unchanged.
 *
 * It is source text, written next to the Playground's log, because the CLI's process must load it
 * as plain JavaScript whether the sandbox runs from the build or from TypeScript (tests).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const PRELOAD = `'use strict';
const net = require('node:net');
const LOOPBACK = '127.0.0.1';
const WILDCARDS = new Set(['', '0.0.0.0', '::']);
const listen = net.Server.prototype.listen;

function onLoopback(args) {
  const [first, second] = args;
  if (first !== null && typeof first === 'object') {
    // listen(options[, callback]): a path, file descriptor or handle is not a TCP address.
    if ('path' in first || 'fd' in first || 'handle' in first || '_handle' in first) return args;
    if (!WILDCARDS.has(first.host ?? '')) return args;
    return [{ ...first, host: LOOPBACK }, ...args.slice(1)];
  }
  if (typeof first === 'string' && !/^\\d*$/.test(first)) return args; // a pipe or socket path
  if (args.length === 0 || typeof first === 'function') return [0, LOOPBACK, ...args];
  if (typeof second === 'string' && !WILDCARDS.has(second)) return args; // a host was named
  if (typeof second === 'string' || second === undefined || second === null) {
    return [first, LOOPBACK, ...args.slice(2)]; // listen(port, host[, backlog][, callback])
  }
  return [first, LOOPBACK, ...args.slice(1)]; // listen(port[, backlog][, callback])
}

net.Server.prototype.listen = function listenOnLoopback(...args) {
  return listen.apply(this, onLoopback(args));
};
`;

/** Writes the preload into `dir`; returns the `node` arguments that load it. */
export function loopbackPreload(dir: string): string[] {
  const file = path.join(dir, 'listen-on-loopback.cjs');
  writeFileSync(file, PRELOAD);
  return ['--require', file];
}
