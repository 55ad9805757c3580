// How Debian's Chromium is started for tests and the bench on these machines: headless,
// as root (no sandbox), and without its background network traffic — this workplace
// refuses connections to Google's hosts, many at a time, which slows every start.
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
