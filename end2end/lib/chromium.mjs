// How the browser tests and the benchmarks start Debian's Chromium
// (Playwright's own browser download is not used). The flags keep it off
// the network: this machine's closed network refuses its background
// connections.
export const chromiumLaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};
