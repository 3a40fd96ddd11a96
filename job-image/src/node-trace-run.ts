/**
 * One node's trace, start to end: resolve the targets' cgroups, start the gadget session, write
 * events as they arrive, stop on the first of deadline / event cap / byte cap / signal / cancel,
 * write summary.json and upload the result. Returns the exit code; never throws for a fault it can
 * describe in the summary.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RUNNER_EXIT, type ContainerStart, type NodeJobSpec, type NodeSummary, type StopReason, type TargetNotFound, type TraceEvent } from '../../contracts/index.ts';
import { GadgetSession } from '../../bpf/src/gadget-session.ts';
import { ringBufferBytesFor } from '../../bpf/src/ring-buffer-size.ts';
import { getGadget } from '../../bpf/gadgets/index.ts';
import type { RunnerOptions } from './cli-args.ts';
import { findCgroupV2Root, ownCgroupV2Mount } from './cgroup/cgroup-mount.ts';
import { CgroupResolver, type CgroupAttribution } from './cgroup/target-resolver.ts';
import { EventWriter } from './event-writer.ts';
import { resolveStartupParents, StartupWatch } from './startup/startup-watch.ts';
import { ensureKernelFilesystems } from './kernel-fs-mounts.ts';
import { LossWatch, type LossChange } from './loss-watch.ts';
import type { StopRequests } from './stop-requests.ts';
import { buildNodeSummary } from './summary/build-node-summary.ts';
import { EventTally } from './summary/event-tally.ts';
import { ProgressReporter } from './upload/progress-reporter.ts';
import { UploadFailedError, uploadResult } from './upload/result-uploader.ts';

export const EVENTS_FILE = 'events.ndjson';
export const SUMMARY_FILE = 'summary.json';

export interface NodeTraceIO {
  log: Logger;
  stop: StopRequests;
  /** Called about once a second with the progress line, when progress is on. */
  progress?(line: string): void;
}

export interface NodeTraceOutcome {
  exitCode: number;
  summary: NodeSummary;
  eventsPath: string;
  summaryPath: string;
}

export async function runNodeTrace(spec: NodeJobSpec, options: RunnerOptions, io: NodeTraceIO): Promise<NodeTraceOutcome> {
  const { log, stop } = io;
  mkdirSync(options.outDir, { recursive: true });
  const eventsPath = join(options.outDir, EVENTS_FILE);
  const summaryPath = join(options.outDir, SUMMARY_FILE);
  const gadget = getGadget(spec.gadget);
  const tally = new EventTally(gadget?.topFields ?? ['comm'], undefined, gadget?.countField);
  const gadgetTally = gadget?.summaryExtension?.(spec.params);
  const writer = new EventWriter(eventsPath, {
    ...(spec.maxResultBytes !== undefined ? { maxBytes: spec.maxResultBytes } : {}),
    onWriteError(err) {
      log.error({ step: 'write', err: err.message, path: eventsPath }, `cannot write ${eventsPath}: ${err.message}`);
      stop.request('error');
    },
  });
  let startedAt = new Date();
  let error: string | undefined;
  let exitCode: number = RUNNER_EXIT.ok;
  let dropped = 0;
  let lost = 0;
  let session: GadgetSession | undefined;
  let resolver: CgroupResolver | undefined;
  let reporter: ProgressReporter | undefined;
  let startup: StartupWatch | undefined;
  let startupNotFound: TargetNotFound[] = [];
  const timers: NodeJS.Timeout[] = [];
  /** Set once the startup wait is armed; the first event of a new cgroup calls it. */
  let startupSeen: (start: ContainerStart) => void = () => undefined;
  const lossWatch = new LossWatch();
  const logLoss = (change: LossChange | undefined): void => {
    if (change?.kind === 'started') {
      log.warn({ step: 'loss', ...change }, `events are being lost: ${change.lostEvents} so far (the kernel found the ring buffer or a table full)`);
    } else if (change?.kind === 'stopped') {
      log.warn({ step: 'loss', ...change }, `events no longer lost: ${change.lostInEpisode} lost in ${(change.episodeMs / 1000).toFixed(1)}s, ${change.lostEvents} in all`);
    }
  };

  try {
    for (const fs of ensureKernelFilesystems()) {
      if (fs.action === 'failed') log.warn({ step: 'kernel-fs', ...fs }, `could not mount ${fs.fs} at ${fs.mountPoint}: ${fs.error}`);
      else log.info({ step: 'kernel-fs', ...fs }, `${fs.fs} ${fs.action} at ${fs.mountPoint}`);
    }

    const root = findCgroupV2Root(options.cgroupRoot);
    const ownMount = ownCgroupV2Mount();
    // A startup trace filters on its targets' own cgroups (with the ancestor check) instead of
    // the containers found now, so the resolver gets no targets.
    resolver = new CgroupResolver(spec.targets.startup ? {} : spec.targets, { root, ...(ownMount ? { ownMount } : {}) });
    let found = resolver.scan();
    let notFound = resolver.targetsNotFound();
    if (spec.targets.startup) {
      const named = resolveStartupParents(spec.targets, root);
      startup = new StartupWatch(named.parents, spec.targets.startup.timeoutSeconds);
      found = named.parents.map((p) => ({ id: p.id, path: p.path, target: p.target, attribution: p.attribution }));
      notFound = startupNotFound = named.notFound;
    }
    log.info(
      { step: 'targets', cgroupRoot: root, cgroups: found.map((c) => ({ id: c.id, path: c.path, target: c.target })), targetsNotFound: notFound },
      `resolved ${found.length} cgroup(s) under ${root}; ${notFound.length} target(s) not found`,
    );
    for (const nf of notFound) log.warn({ step: 'targets', target: nf.target }, `target not found: ${nf.target}: ${nf.reason}`);
    const traceAll = spec.targets.allCgroups === true;
    if (found.length === 0 && !traceAll) {
      error = `no target found on node ${spec.node}: ${notFound.map((n) => `${n.target} (${n.reason})`).join('; ') || 'no targets given'}`;
      exitCode = RUNNER_EXIT.noTargets;
      log.error({ step: 'targets', err: error }, error);
      stop.request('error');
    } else if (stop.reason) {
      log.info({ step: 'session', stopReason: stop.reason }, `stopped (${stop.reason}) before the gadget was loaded`);
    } else {
      const attribution = resolver;
      const watch = startup;
      const node = spec.node;
      const maxEvents = spec.maxEvents;
      let accepted = 0;
      watch?.snapshot();
      const ringBufferBytes = ringBufferBytesFor({ cpus: cpus().length, bytesPerCpu: options.ringBufferBytesPerCpu });
      session = await GadgetSession.start({
        gadget: spec.gadget,
        params: spec.params,
        cgroupIds: traceAll ? 'all' : found.map((c) => c.id),
        ...(watch ? { ancestorLevels: watch.ancestorLevels } : {}),
        ringBufferBytes,
        // records past the cap are only counted: the spool (in outDir) stays bounded
        maxRecords: maxEvents,
        spoolDir: options.outDir,
        liveDecodeShare: options.liveDecodeShare,
        onEvents(events) {
          for (const event of events) {
            if (watch && watch.observe(event, (start) => startupSeen(start)) === 'skip') continue;
            if (stop.reason === 'max-events' || stop.reason === 'max-bytes' || accepted >= maxEvents) {
              dropped += 1;
              continue;
            }
            // in place: the decoded event is ours, and copying with a spread costs ~18x more per event
            const enriched = event as TraceEvent;
            enriched.node = node;
            const known = attribution.attributionOf(event.cgroupId) ?? watch?.attributionOf(event.cgroupId);
            if (known) {
              if (known.namespace !== undefined) enriched.namespace = known.namespace;
              if (known.pod !== undefined) enriched.pod = known.pod;
              if (known.container !== undefined) enriched.container = known.container;
            }
            if (!writer.append(enriched)) {
              dropped += 1;
              stop.request(writer.writeError ? 'error' : 'max-bytes');
              continue;
            }
            accepted += 1;
            tally.add(enriched);
            gadgetTally?.add(enriched);
            if (accepted >= maxEvents) stop.request('max-events');
          }
        },
        onError(err) {
          log.warn({ step: 'decode', err: err.message }, `event dropped: ${err.message}`);
        },
      });
      startedAt = new Date();
      const ids = session.cgroupIds();
      const counted = session;
      timers.push(setInterval(() => logLoss(lossWatch.observe(counted.lostEvents(), Date.now())), 1000));
      const deadline = () => timers.push(setTimeout(() => stop.request('deadline'), Math.max(0, spec.durationSeconds * 1000)));
      if (watch) {
        const waitMs = watch.timeoutSeconds * 1000;
        log.info({ step: 'startup', cgroupIds: ids, ancestorLevels: watch.ancestorLevels, timeoutSeconds: watch.timeoutSeconds }, `waiting up to ${watch.timeoutSeconds}s for a container to start`);
        const timeout = setTimeout(() => {
          if (watch.start) return;
          watch.timedOut();
          error = `no container started below the target${watch.parents.length === 1 ? '' : 's'} within ${watch.timeoutSeconds}s`;
          exitCode = RUNNER_EXIT.failure;
          log.error({ step: 'startup', err: error }, error);
          stop.request('deadline');
        }, waitMs);
        timers.push(timeout);
        startupSeen = (start) => {
          clearTimeout(timeout);
          log.info({ step: 'startup', start }, `container start seen (cgroup ${start.cgroupPath ?? start.cgroupId}, pid ${start.pid} ${start.comm}): tracing for ${spec.durationSeconds}s`);
          deadline();
        };
      } else {
        log.info(
          { step: 'session', gadget: spec.gadget, cgroupIds: ids, durationSeconds: spec.durationSeconds, ringBufferBytes },
          `tracing ${spec.gadget} for ${spec.durationSeconds}s`,
        );
        deadline();
      }
      if (spec.upload?.progressUrl) {
        reporter = new ProgressReporter({
          url: spec.upload.progressUrl,
          token: spec.upload.token,
          onCancelRequested() {
            if (!stop.reason) log.info({ step: 'cancel' }, 'the API says the trace was cancelled');
            stop.request('cancelled');
          },
          onFailure: (reason) => log.warn({ step: 'progress', err: reason }, `progress report failed: ${reason}`),
        });
        const live = reporter;
        const running = session;
        const tracingSince = startedAt.toISOString();
        const report = () => void live.report({ tracingSince, events: accepted, lostEvents: running.lostEvents() });
        report();
        timers.push(setInterval(report, options.progressIntervalMs));
      }
      if (options.rescanIntervalMs > 0 && resolver.wantsRescan) {
        const running = session;
        const watched = resolver;
        timers.push(
          setInterval(() => {
            if (stop.reason || !watched.wantsRescan) return;
            try {
              for (const c of watched.scan()) {
                running.addCgroup(c.id);
                log.info({ step: 'rescan', cgroupId: c.id, path: c.path, target: c.target }, `now tracing ${c.path} (${c.target})`);
              }
            } catch (err) {
              log.error({ step: 'rescan', err: (err as Error).message }, `rescan failed: ${(err as Error).message}`);
            }
          }, options.rescanIntervalMs),
        );
      }
      if (io.progress) {
        const report = io.progress;
        const running = session;
        timers.push(
          setInterval(() => {
            const elapsed = (Date.now() - startedAt.getTime()) / 1000;
            report(`elapsed ${elapsed.toFixed(1)}s/${spec.durationSeconds}s  events ${accepted}  lost ${running.lostEvents()}`);
          }, 1000),
        );
      }
    }
  } catch (err) {
    error = `${(err as Error).name}: ${(err as Error).message}`;
    exitCode = RUNNER_EXIT.failure;
    log.error({ step: 'session', err: (err as Error).message }, `trace failed: ${(err as Error).message}`);
    stop.request('error');
  }

  const stopReason: StopReason = await stop.wait();
  for (const t of timers) clearTimeout(t);
  if (session) {
    try {
      const backlog = session.stats().pending;
      if (backlog > 0) log.info({ step: 'stopping', pending: backlog }, `decoding the ${backlog} event(s) read but not decoded yet`);
      await session.finish();
      lost = session.lostEvents();
      dropped += session.stats().overCap;
      for (const change of lossWatch.end(lost, Date.now())) logLoss(change);
    } catch (err) {
      error ??= `stopping the session failed: ${(err as Error).message}`;
      exitCode = RUNNER_EXIT.failure;
    }
  }
  writer.close();
  await reporter?.settle();
  if (writer.writeError) {
    error ??= `writing ${eventsPath} failed (${writer.writeError.message}); ${writer.unwrittenLines + dropped} event(s) not written`;
    exitCode = RUNNER_EXIT.failure;
  }
  const stoppedAt = new Date();
  log.info({ step: 'stopped', stopReason, events: writer.lines, lostEvents: lost, dropped }, `stopped (${stopReason}): ${writer.lines} events, ${lost} lost`);

  const attributionMap = new Map<number, CgroupAttribution>();
  for (const c of resolver?.cgroups() ?? []) attributionMap.set(c.id, c.attribution);
  for (const p of startup?.parents ?? []) attributionMap.set(p.id, p.attribution);
  const startCgroup = startup?.start?.cgroupId;
  const startAttribution = startCgroup !== undefined ? startup?.attributionOf(startCgroup) : undefined;
  if (startCgroup !== undefined && startAttribution) {
    const { namespace, pod, container } = startAttribution;
    attributionMap.set(startCgroup, { ...(namespace ? { namespace } : {}), ...(pod ? { pod } : {}), ...(container ? { container } : {}) });
  }
  const summary = buildNodeSummary(tally.state, {
    traceId: spec.traceId,
    node: spec.node,
    gadget: spec.gadget,
    startedAt,
    stoppedAt,
    stopReason,
    lostEvents: lost,
    truncated: dropped > 0 || writer.full,
    targetsNotFound: startup ? startupNotFound : (resolver?.targetsNotFound() ?? []),
    cgroupIds: startup ? [...startup.parentCgroupIds, ...(startCgroup !== undefined ? [startCgroup] : [])] : (resolver?.cgroups() ?? []).map((c) => c.id),
    attribution: attributionMap,
    ...(error !== undefined ? { error } : {}),
    versions: { node: process.version, kernel: release() },
    ...(startup ? { startup: startup.observation() } : {}),
  });
  if (gadgetTally) Object.assign(summary, gadgetTally.result());
  writeFileSync(`${summaryPath}.tmp`, `${JSON.stringify(summary, null, 2)}\n`);
  renameSync(`${summaryPath}.tmp`, summaryPath);
  log.info({ step: 'summary', path: summaryPath }, `wrote ${summaryPath}`);

  if (spec.upload) {
    try {
      const result = await uploadResult({
        url: spec.upload.url,
        token: spec.upload.token,
        files: [eventsPath, summaryPath],
        attempts: options.uploadAttempts,
        backoffMs: options.uploadBackoffMs,
        onRetry: ({ attempt, delayMs, reason }) =>
          log.warn({ step: 'upload', attempt, delayMs, reason }, `upload attempt ${attempt} failed (${reason}); retrying in ${delayMs} ms`),
      });
      log.info({ step: 'upload', status: result.status, attempts: result.attempts, bytes: result.bytes }, `uploaded ${result.bytes} bytes`);
    } catch (err) {
      const reason = err instanceof UploadFailedError ? err.message : `upload failed: ${(err as Error).message}`;
      log.error({ step: 'upload', err: reason, kept: [eventsPath, summaryPath] }, `${reason}; the result stays in ${options.outDir}`);
      if (exitCode === RUNNER_EXIT.ok) exitCode = RUNNER_EXIT.uploadFailed;
    }
  }
  return { exitCode, summary, eventsPath, summaryPath };
}
