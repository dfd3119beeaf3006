/*
 * Preloaded into the service under test (NODE_OPTIONS=--require) by the concurrent-readers
 * family, never by the service itself: on SIGWINCH (Nest's shutdown hooks take SIGUSR2) it writes this process's CPU time and the
 * event-loop delay since the previous signal (perf_hooks.monitorEventLoopDelay) to
 * STRONGROOM_PROBE_FILE, then starts a new window. CPU time is less sensitive than wall
 * latency to what else runs on a shared machine, and the event-loop delay shows synchronous
 * stretches (a SQLite backup's reads) that stall every request at once. With
 * STRONGROOM_PROBE_CPU_PROFILE=1 it also records a V8 CPU profile of each window
 * (`<file>.cpuprofile`, open it in Chrome DevTools): `--cpu-prof` would be written only at a
 * clean exit, which a SIGTERM'd Nest app does not make.
 */
'use strict';
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { writeFileSync, renameSync } = require('node:fs');

const file = process.env.STRONGROOM_PROBE_FILE;
if (file) {
  // The histogram records the time between two of its timer's ticks, so an idle loop reads as
  // the resolution itself: what is reported is the excess over it (the delay a request sees).
  const RESOLUTION_MS = 10;
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  const ms = (ns) => Math.max(0, Math.round(ns / 1e4 - RESOLUTION_MS * 100) / 100);
  process.on('SIGWINCH', () => {
    const cpu = process.cpuUsage();
    const out = {
      at: Date.now(),
      cpuUserMicros: cpu.user,
      cpuSystemMicros: cpu.system,
      eventLoopDelayMs: h.count
        ? {
            p50: ms(h.percentile(50)),
            p99: ms(h.percentile(99)),
            max: ms(h.max),
            mean: Math.round(ms(h.mean) * 100) / 100,
            samples: h.count,
          }
        : null,
    };
    h.reset();
    const publish = () => {
      writeFileSync(`${file}.tmp`, JSON.stringify(out));
      renameSync(`${file}.tmp`, file);
    };
    if (!session) return publish();
    // The profile of the window that just ended is written before the stats, so a reader that
    // waits for the stats finds the profile too.
    session.post('Profiler.stop', (err, res) => {
      if (!err && res && res.profile) writeFileSync(`${file}.cpuprofile`, JSON.stringify(res.profile));
      session.post('Profiler.start', () => publish());
    });
  });
  let session = null;
  if (process.env.STRONGROOM_PROBE_CPU_PROFILE === '1') {
    const inspector = require('node:inspector');
    session = new inspector.Session();
    session.connect();
    session.post('Profiler.enable', () => session.post('Profiler.start'));
  }
}
