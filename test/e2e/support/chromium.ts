/**
 * Debian's Chromium, as the e2e tests launch it: headless, never downloading a browser of its own,
 * and with the background traffic that this machine's closed network would refuse switched off.
 */
export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
