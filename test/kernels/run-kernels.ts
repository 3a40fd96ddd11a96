/**
 * The CO-RE suite (npm run test:kernels): runs the gadget tests (bpf/gadgets/<name>/<name>.test.ts)
 * on the host's kernel and, in QEMU guests (TCG, no KVM), on Debian's packaged kernels fetched by
 * fetch-kernels.sh; prints a table gadget × kernel and exits non-zero when a test failed anywhere.
 *
 * A guest boots the packaged vmlinuz with a tiny initramfs (busybox, the kernel's own virtio/9p
 * modules, initramfs-init.sh) that mounts the host's root filesystem read-only over 9p and runs
 * guest-run.sh from it: the guest runs the very same checkout, node and tools as the host, only
 * its kernel differs. Results come back through a second, writable 9p share.
 *
 *   npm run test:kernels                       # host + every fetched kernel
 *   npm run test:kernels -- --kernels 6.1      # a subset (matched against the release)
 *   npm run test:kernels -- --gadgets exec,mount --json
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { release as hostRelease } from 'node:os';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { build } from 'esbuild';
import { parseArgs } from 'node:util';
import { writeCpio, type CpioEntry } from './cpio.ts';

const checkout = join(import.meta.dirname, '..', '..');
const cacheDir = join(process.env.TRACEJOB_CACHE ?? '/var/cache/tracejob', 'kernels');
/** The tree the runs use: a snapshot of the checkout (see snapshotCheckout). */
let repo = checkout;
const inRepo = (path: string) => join(repo, 'test/kernels', path);

/**
 * A copy of the checkout (without node_modules, which is linked) for the runs: the guests read it
 * read-only for many minutes, and edits to the checkout meanwhile must not reach them. It lives
 * outside /tmp, which the guests mount over.
 */
function snapshotCheckout(work: string): string {
  const tree = join(work, 'tree');
  mkdirSync(tree);
  execFileSync('bash', ['-c', `tar -C "$0" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$1" -xf -`, checkout, tree]);
  symlinkSync(join(checkout, 'node_modules'), join(tree, 'node_modules'));
  return tree;
}

interface TestResult {
  file?: string;
  /** The top-level suite, `<gadget> decoder` or `<gadget> in the kernel`: it says the gadget (the file is the bundle). */
  suite: string;
  name: string;
  status: 'pass' | 'fail' | 'skip' | 'todo';
  message?: string;
}

interface KernelRun {
  kernel: string;
  results: (TestResult & { gadget: string })[];
  seconds: number;
  /** Why the run as a whole failed (no boot, timeout, test runner exit without results). */
  error?: string;
}

const { values: opts } = parseArgs({
  options: {
    kernels: { type: 'string' },
    gadgets: { type: 'string' },
    'no-host': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'timeout-minutes': { type: 'string', default: '25' },
    memory: { type: 'string', default: '2048' },
  },
});

/**
 * The test files bundled into one ES module (esbuild, which tsx brings): the guests run it in one
 * node process without a TypeScript loader. Under TCG, starting node costs about a minute and each
 * of the hundreds of module files read over 9p adds to it; one file of plain JS avoids both.
 */
async function bundleTests(files: string[]): Promise<string> {
  const entry = inRepo('.gadget-tests.ts');
  const bundle = inRepo('.gadget-tests.mjs');
  writeFileSync(entry, files.map((f) => `import '../../${f}';\n`).join(''));
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    outfile: bundle,
    // CommonJS dependencies inside an ES module bundle still call require
    banner: { js: "import { createRequire as __tjRequire } from 'node:module'; const require = __tjRequire(import.meta.url);" },
    plugins: [
      {
        // each source file keeps its own import.meta.dirname/filename (tests find files beside them)
        name: 'own-dirname',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, async (args) => ({
            loader: 'ts',
            contents: (await readFile(args.path, 'utf8'))
              .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
              .replaceAll('import.meta.filename', JSON.stringify(args.path)),
          }));
        },
      },
    ],
  });
  return bundle;
}

function gadgetTestFiles(): string[] {
  const wanted = opts.gadgets?.split(',');
  return readdirSync(join(repo, 'bpf/gadgets'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(repo, 'bpf/gadgets', d.name, `${d.name}.test.ts`)))
    .map((d) => d.name)
    .filter((name) => !wanted || wanted.includes(name))
    .sort()
    .map((name) => `bpf/gadgets/${name}/${name}.test.ts`);
}

/** `6.1` of `6.1.0-57-amd64`. */
const majorMinor = (release: string) => release.split('.').slice(0, 2).join('.');

interface GuestKernel {
  pkg: string;
  release: string;
  dir: string;
}

function fetchKernels(): GuestKernel[] {
  const out = execFileSync('bash', [inRepo('fetch-kernels.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const wanted = opts.kernels?.split(',');
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const [pkg = '', release = '', dir = ''] = line.split(' ');
      return { pkg, release, dir };
    })
    .filter((k) => !wanted || wanted.some((w) => majorMinor(k.release) === w || k.pkg === w));
}

/** modules.dep of a kernel: module name → its file and the files it needs. */
function moduleDeps(modulesDir: string): Map<string, { file: string; deps: string[] }> {
  const deps = new Map<string, { file: string; deps: string[] }>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const [file, rest] = line.split(':');
    if (!file || rest === undefined) continue;
    deps.set(moduleName(file), { file, deps: rest.trim().split(/\s+/).filter(Boolean) });
  }
  return deps;
}

const moduleName = (file: string) => basename(file).replace(/\.ko(\.xz|\.zst|\.gz)?$/, '').replace(/-/g, '_');

/** What stage 1 loads: 9p over virtio and what those need, dependencies first. */
const INITRAMFS_MODULES = ['virtio_pci', '9pnet_virtio', '9p'];

function decompressModule(path: string): Buffer {
  if (path.endsWith('.xz')) return execFileSync('xz', ['-dc', path], { maxBuffer: 64 << 20 });
  if (path.endsWith('.zst')) return execFileSync('zstd', ['-dc', path], { maxBuffer: 64 << 20 });
  return readFileSync(path);
}

/** The guest's initramfs (cached beside the kernel, rebuilt when its inputs change). */
function initramfs(kernel: GuestKernel): string {
  const modulesDir = join(kernel.dir, 'lib/modules', kernel.release);
  const init = readFileSync(inRepo('initramfs-init.sh'));
  const key = createHash('sha256').update(init).update(INITRAMFS_MODULES.join(',')).digest('hex').slice(0, 12);
  const path = join(kernel.dir, `initramfs-${key}.cpio`);
  if (existsSync(path)) return path;
  const deps = moduleDeps(modulesDir);
  const order: string[] = [];
  const visit = (name: string) => {
    const m = deps.get(name);
    if (!m || order.includes(m.file)) return; // built into the kernel, or already listed
    for (const dep of m.deps) visit(moduleName(dep));
    order.push(m.file);
  };
  for (const name of INITRAMFS_MODULES) visit(name);
  const entries: CpioEntry[] = [
    { path: 'bin', mode: 0o40755 },
    { path: 'bin/busybox', mode: 0o100755, data: readFileSync('/bin/busybox') },
    { path: 'init', mode: 0o100755, data: init },
    { path: 'modules', mode: 0o40755 },
    { path: 'modules/load-order', mode: 0o100644, data: Buffer.from(order.map((f) => `${moduleName(f)}.ko`).join('\n') + '\n') },
    ...order.map((f) => ({ path: `modules/${moduleName(f)}.ko`, mode: 0o100644, data: decompressModule(join(modulesDir, f)) })),
  ];
  writeFileSync(`${path}.tmp`, writeCpio(entries));
  execFileSync('mv', [`${path}.tmp`, path]);
  return path;
}

function readResults(file: string): (TestResult & { gadget: string })[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TestResult)
    .map((r) => ({ ...r, gadget: r.suite.split(' ')[0] ?? '' }));
}

function runProcess(cmd: string, args: string[], timeoutMs: number, logFile?: string): Promise<{ code: number | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', logFile ? 'pipe' : 'inherit', 'inherit'], cwd: repo, env: { ...process.env, TRACEJOB_FROM_SOURCE: '1' } });
    const log: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => log.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (logFile) writeFileSync(logFile, Buffer.concat(log));
      resolve({ code, timedOut });
    });
  });
}

async function runHost(bundle: string, work: string): Promise<KernelRun> {
  const started = Date.now();
  const out = join(work, 'host.jsonl');
  await runProcess(
    process.execPath,
    [
      '--test-reporter=./test/kernels/result-reporter.mjs',
      `--test-reporter-destination=${out}`,
      bundle,
    ],
    Number(opts['timeout-minutes']) * 60_000,
  );
  const run: KernelRun = { kernel: `host ${hostRelease()}`, results: readResults(out), seconds: (Date.now() - started) / 1000 };
  if (run.results.length === 0) run.error = 'no test results';
  return run;
}

async function runGuest(kernel: GuestKernel, bundle: string, work: string): Promise<KernelRun> {
  const started = Date.now();
  const share = join(work, kernel.release);
  mkdirSync(share, { recursive: true });
  writeFileSync(
    join(share, 'job.env'),
    `REPO='${repo}'\nKERNEL_ROOT='${kernel.dir}'\nTESTS='${bundle}'\n`,
  );
  const args = [
    '-accel', 'tcg',
    '-cpu', 'max',
    '-m', opts.memory ?? '2048',
    '-smp', '1',
    '-display', 'none',
    '-monitor', 'none',
    '-no-reboot',
    '-serial', `file:${join(share, 'console.log')}`,
    '-kernel', join(kernel.dir, 'vmlinuz'),
    '-initrd', initramfs(kernel),
    '-append', `console=ttyS0 panic=-1 no_timer_check rdinit=/init tj.stage2=${inRepo('guest-run.sh')}`,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs', `local,path=${share},mount_tag=results,security_model=none`,
  ];
  const { timedOut } = await runProcess('qemu-system-x86_64', args, Number(opts['timeout-minutes']) * 60_000);
  const run: KernelRun = { kernel: kernel.release, results: readResults(join(share, 'results.jsonl')), seconds: (Date.now() - started) / 1000 };
  if (timedOut) run.error = `timed out after ${opts['timeout-minutes']} min`;
  else if (!existsSync(join(share, 'exit-code'))) run.error = 'the guest stopped before the tests finished (see console.log, guest.log)';
  else if (run.results.length === 0) run.error = 'no test results (see guest.log)';
  if (run.error || run.results.some((r) => r.status === 'fail')) run.error = `${run.error ?? 'failures'}; logs in ${share}`;
  return run;
}

/** One table cell: `pass 7/7`, `FAIL 2/7`, `skip` and the first failure's message. */
function cell(results: TestResult[]): string {
  if (results.length === 0) return '—';
  const count = (s: TestResult['status']) => results.filter((r) => r.status === s).length;
  const ran = results.length - count('skip') - count('todo');
  if (count('fail') > 0) return `FAIL ${count('fail')}/${ran}`;
  if (ran === 0) return 'skip';
  return `pass ${count('pass')}/${ran}${count('skip') ? ` (+${count('skip')} skipped)` : ''}`;
}

async function main(): Promise<void> {
  const files = gadgetTestFiles();
  mkdirSync(join(cacheDir, 'runs'), { recursive: true });
  const work = mkdtempSync(join(cacheDir, 'runs', 'run-'));
  repo = snapshotCheckout(work);
  const kernels = fetchKernels();
  const started = Date.now();
  // the guests see this checkout read-only: its objects must be up to date before they boot
  execFileSync('make', ['-s', '-C', join(repo, 'bpf')], { stdio: 'inherit' });
  // the guests (one vCPU each) run side by side; the host run goes first, alone
  const bundle = await bundleTests(files);
  const host = opts['no-host'] ? [] : [await runHost(bundle, work)];
  const guests = await Promise.all(kernels.map((k) => runGuest(k, bundle, work)));
  const runs = [...host, ...guests];
  const wall = (Date.now() - started) / 1000;

  const gadgets = files.map((f) => basename(f, '.test.ts'));
  const rows = gadgets.map((g) => [g, ...runs.map((r) => cell(r.results.filter((t) => t.gadget === g)))]);
  const header = ['gadget', ...runs.map((r) => r.kernel)];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
  console.log(line(['wall time (s)', ...runs.map((r) => r.seconds.toFixed(0))]));
  for (const r of runs) {
    for (const t of r.results.filter((x) => x.status === 'fail')) console.log(`${r.kernel}: ${t.gadget}: ${t.name}: ${t.message ?? ''}`);
    if (r.error) console.log(`${r.kernel}: ${r.error}`);
  }
  console.log(`total wall time ${wall.toFixed(0)} s`);
  if (opts.json) {
    console.log(JSON.stringify({ bench: 'kernels', wallSeconds: wall, runs: runs.map((r) => ({ kernel: r.kernel, seconds: r.seconds, error: r.error, cells: Object.fromEntries(gadgets.map((g, i) => [g, rows[i]?.[runs.indexOf(r) + 1]])) })) }));
  }
  const failed = runs.some((r) => r.error !== undefined);
  if (!failed) rmSync(work, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}

await main();
