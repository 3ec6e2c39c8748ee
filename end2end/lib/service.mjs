// What the project's local services (the identity provider, the fake
// GitHub) share: settings from the environment with clear errors, and a
// lifetime bound to the process that started them.

/** Prints `name: message` and exits 1. */
export function failWith(name) {
  return (message) => {
    console.error(`${name}: ${message}`);
    process.exit(1);
  };
}

/** An integer setting from the environment, or `fallback`. */
export function integerEnv(fail, name, fallback, min, max) {
  const raw = process.env[name] || String(fallback);
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    fail(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/**
 * Calls `shutdown` on SIGINT, SIGTERM or SIGHUP, and within about 500 ms
 * once the process `parentPid` is gone (re-parented, or no such pid).
 */
export function stopWithParent(parentPid, shutdown) {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, shutdown);
  setInterval(() => {
    if (process.ppid !== parentPid) shutdown();
    try {
      process.kill(parentPid, 0);
    } catch (error) {
      if (error.code === 'ESRCH') shutdown();
    }
  }, 500).unref();
}
