/**
 * tracejob-runner: runs one node job (see cli-args.ts for the flags). Reads the command line and
 * the environment once, wires signals (SIGTERM/SIGINT = stop, SIGUSR1 = cancel) to the run, and
 * exits with a RUNNER_EXIT code.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { RUNNER_EXIT } from '../../contracts/index.ts';
import { validateParams } from '../../bpf/gadgets/index.ts';
import { parseRunnerCommand, RUNNER_USAGE, UsageError, type RunnerCommand } from './cli-args.ts';
import { preloadGadgetAddon } from '../../bpf/src/gadget-session.ts';
import { runNodeTrace } from './node-trace-run.ts';
import { StopRequests } from './stop-requests.ts';

/**
 * `--await-job` (a warm runner, started ahead of its trace by the local backend): everything is
 * loaded, then one line on stdin brings the job's own command line as a JSON array of strings, e.g.
 * ["--spec","/…/spec.json","--out","/…/out"]. stdin ending first means the runner is not needed.
 */
async function awaitJobArgv(): Promise<string[] | undefined> {
  await preloadGadgetAddon();
  let text = '';
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    text += chunk.toString();
    const nl = text.indexOf('\n');
    if (nl >= 0) {
      process.stdin.destroy();
      const argv: unknown = JSON.parse(text.slice(0, nl));
      if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new UsageError('--await-job: stdin must bring a JSON array of strings');
      return argv as string[];
    }
  }
  return undefined;
}

async function main(): Promise<number> {
  let argv = process.argv.slice(2);
  if (argv.length === 1 && argv[0] === '--await-job') {
    const job = await awaitJobArgv();
    if (!job) return RUNNER_EXIT.ok;
    argv = job;
  }
  let command: RunnerCommand;
  try {
    command = parseRunnerCommand({
      argv,
      env: process.env,
      readFile: (path) => readFileSync(path, 'utf8'),
      stderrIsTTY: process.stderr.isTTY === true,
    });
    if (command.kind === 'run') {
      const check = validateParams(command.spec.gadget, command.spec.params);
      if (!check.ok) {
        const problems = check.errors.map((e) => `${e.field ? `params.${e.field}` : 'params'}: ${e.message}`).join('; ');
        throw new UsageError(`invalid params for gadget ${command.spec.gadget}: ${problems}`);
      }
      command.spec.params = check.params;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`tracejob-runner: ${err.message}\nRun tracejob-runner --help for the flags.\n`);
      return RUNNER_EXIT.usage;
    }
    throw err;
  }
  if (command.kind === 'help') {
    process.stdout.write(`${RUNNER_USAGE}\n`);
    return RUNNER_EXIT.ok;
  }
  const { spec, options } = command;
  const log = pino(
    { base: { traceId: spec.traceId, node: spec.node, component: 'runner' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
  const stop = new StopRequests();
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ step: 'signal', signal }, `received ${signal}`);
    stop.request(signal === 'SIGUSR1' ? 'cancelled' : 'signal');
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGUSR1', onSignal);
  const early = (globalThis as Record<symbol, unknown>)[Symbol.for('tracejob.runner.earlySignals')] as { take(): NodeJS.Signals[] } | undefined;
  for (const signal of early?.take() ?? []) onSignal(signal);
  log.info({ step: 'start', gadget: spec.gadget, durationSeconds: spec.durationSeconds, maxEvents: spec.maxEvents, targets: spec.targets, outDir: options.outDir }, 'runner starting');
  const progress = options.progress
    ? (line: string) => process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`)
    : undefined;
  const outcome = await runNodeTrace(spec, options, { log, stop, ...(progress ? { progress } : {}) });
  if (progress && process.stderr.isTTY) process.stderr.write('\n');
  // maxRSS (KiB) covers the whole run: the figure the storm bench holds against its memory target
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  log.info({ step: 'exit', exitCode: outcome.exitCode, stopReason: outcome.summary.stopReason, events: outcome.summary.events, maxRssBytes }, 'runner done');
  return outcome.exitCode;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`tracejob-runner: ${err.stack ?? err.message}\n`);
    process.exit(RUNNER_EXIT.failure);
  },
);
