/**
 * For tcpdrop's tests (its own and the end-to-end one): a network namespace whose OUTPUT chain
 * drops UDP to one port, and a sender that runs in a cgroup and has three datagrams dropped there.
 */
import type { TestCgroup } from '../../../test/support/cgroups.ts';
import { createTestNetns, type TestNetns } from '../../../test/support/netns.ts';
import { runInCgroup } from '../../src/gadget-test-fixture.ts';

/** Sends three UDP datagrams to 127.0.0.1:<port>, which the namespace drops; prints the source port. */
const SENDER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
for _ in range(3):
    try:
        s.sendto(b"x" * 32, ("127.0.0.1", int(sys.argv[1])))
    except PermissionError:
        pass
print("sport", s.getsockname()[1], flush=True)
`;

export interface DroppedSend {
  pid: number;
  /** The sender's source port. */
  sport: number;
}

export interface UdpDropNetns {
  ns: TestNetns;
  /** The port whose datagrams the namespace drops. */
  port: number;
  /** Run the sender in `cgroup` (3 datagrams dropped by NETFILTER_DROP); throws when it fails. */
  send(cgroup: TestCgroup): Promise<DroppedSend>;
  destroy(): void;
}

export function createUdpDropNetns(label: string, port = 9999): UdpDropNetns {
  const ns = createTestNetns(label);
  ns.exec('iptables', ['-w', '-A', 'OUTPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP']);
  return {
    ns,
    port,
    async send(cgroup) {
      const [cmd, args] = ns.wrap('python3', ['-c', SENDER, String(port)]);
      const run = await runInCgroup(cgroup, cmd, args);
      if (run.code !== 0) throw new Error(`sender exited ${run.code}: ${run.stderr}`);
      return { pid: run.pid, sport: Number(/sport (\d+)/.exec(run.stdout)?.[1]) };
    },
    destroy: () => ns.destroy(),
  };
}
