// Login throughput: complete code flows (start → provider → callback →
// session) per second with CONCURRENCY browsers at once for SECONDS, and
// the server's CPU time per login (from /proc/PID/stat). Prints JSON.
//
//   node bench/login-throughput.mjs APP_URL SERVER_PID [SECONDS] [CONCURRENCY]

import { readFileSync } from 'node:fs';
import { signIn } from './fast-login.mjs';

const [appUrl, pid, seconds = '10', concurrency = '16'] = process.argv.slice(2);
const ticks = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
};
const TICKS_PER_SECOND = 100;

const deadline = Date.now() + Number(seconds) * 1000;
let done = 0;
const before = ticks();
const started = performance.now();
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (Date.now() < deadline) {
      await signIn(appUrl);
      done += 1;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;
const cpu = (ticks() - before) / TICKS_PER_SECOND;
console.log(JSON.stringify({ logins: done, perSecond: done / elapsed, cpuMsPerLogin: (cpu * 1000) / done }));
