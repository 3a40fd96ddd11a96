/**
 * Network namespaces of a test's own (`ip netns add`), with loopback up, so that tests can send
 * real traffic — and drop it with real iptables rules — without touching the machine's network.
 */
import { execFileSync } from 'node:child_process';

export interface TestNetns {
  name: string;
  /** The command line that runs `cmd args` inside the namespace (to pass to a cgroup's spawn). */
  wrap(cmd: string, args: string[]): [string, string[]];
  /** Run a command inside the namespace to completion (throws on failure). */
  exec(cmd: string, args: string[]): string;
  destroy(): void;
}

let counter = 0;

export function createTestNetns(label: string): TestNetns {
  counter += 1;
  const name = `tj-${label}-${process.pid}-${counter}`;
  execFileSync('ip', ['netns', 'add', name]);
  const exec = (cmd: string, args: string[]) => execFileSync('ip', ['netns', 'exec', name, cmd, ...args], { encoding: 'utf8' });
  try {
    exec('ip', ['link', 'set', 'lo', 'up']);
  } catch (err) {
    execFileSync('ip', ['netns', 'del', name]);
    throw err;
  }
  return {
    name,
    wrap: (cmd, args) => ['ip', ['netns', 'exec', name, cmd, ...args]],
    exec,
    destroy() {
      execFileSync('ip', ['netns', 'del', name]);
    },
  };
}
