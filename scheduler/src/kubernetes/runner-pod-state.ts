/**
 * What a runner pod's status says about its node, as a pure function of the pod: still pending
 * (and why), running, ended (with the exit code and, on failure, a reason a user can act on), or
 * lost with its node (phase Unknown; failed by the control plane because the node is gone).
 */
import type { V1ContainerStatus, V1Pod } from './kubernetes-client.ts';

export type RunnerPodState =
  | { kind: 'pending'; reason?: string; /** A reason that will not fix itself (bad image name, bad config). */ permanent?: boolean }
  | { kind: 'running' }
  | { kind: 'succeeded'; exitCode: number }
  | { kind: 'failed'; exitCode?: number; reason: string }
  | { kind: 'lost'; reason: string };

/**
 * DisruptionTarget reasons (and the legacy pod reason) the control plane gives a pod whose node is
 * gone: its runner can no longer report, and what it saw is lost with the node.
 */
const NODE_LOST_REASONS = new Set(['NodeLost', 'DeletionByPodGC', 'DeletionByTaintManager']);

/** Why the control plane gave up a pod with its node, or undefined when it did not. */
function nodeLostReason(pod: V1Pod): string | undefined {
  const phase = pod.status?.phase;
  if (phase === 'Unknown') return ['pod phase Unknown', pod.status?.reason, pod.status?.message].filter(Boolean).join(': ');
  const disruption = pod.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True' && NODE_LOST_REASONS.has(c.reason ?? ''));
  if (disruption) return [disruption.reason, disruption.message].filter(Boolean).join(': ');
  if (phase === 'Failed' && NODE_LOST_REASONS.has(pod.status?.reason ?? '')) return [pod.status?.reason, pod.status?.message].filter(Boolean).join(': ');
  return undefined;
}

/** Waiting reasons that retrying will not fix: the node fails at once instead of at the start timeout. */
const PERMANENT_WAITING_REASONS = new Set(['InvalidImageName', 'ErrImageNeverPull', 'CreateContainerConfigError']);

function runnerStatus(pod: V1Pod): V1ContainerStatus | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  return statuses.find((s) => s.name === 'runner') ?? statuses[0];
}

function terminatedReason(status: V1ContainerStatus | undefined): string | undefined {
  const t = status?.state?.terminated;
  if (!t) return undefined;
  const parts = [`runner exited with code ${t.exitCode}`];
  if (t.reason && t.reason !== 'Error' && t.reason !== 'Completed') parts.push(`(${t.reason})`);
  const message = t.message?.trim();
  if (message) parts.push(`: ${message.split('\n').slice(-3).join(' | ').slice(0, 500)}`);
  return parts.join(' ').replace(' :', ':');
}

/** Why a pending pod has not started: unschedulable message, image pull error, or what the kubelet said. */
export function pendingReason(pod: V1Pod): { reason?: string; permanent: boolean } {
  const waiting = runnerStatus(pod)?.state?.waiting;
  if (waiting?.reason && waiting.reason !== 'ContainerCreating' && waiting.reason !== 'PodInitializing') {
    const message = waiting.message ? `: ${waiting.message}` : '';
    return { reason: `${waiting.reason}${message}`, permanent: PERMANENT_WAITING_REASONS.has(waiting.reason) };
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') {
    return { reason: `pod unschedulable: ${scheduled.message ?? scheduled.reason ?? 'no reason given'}`, permanent: false };
  }
  if (waiting?.reason) return { reason: waiting.reason, permanent: false };
  if (pod.status?.reason || pod.status?.message) {
    return { reason: [pod.status.reason, pod.status.message].filter(Boolean).join(': '), permanent: false };
  }
  return { permanent: false };
}

export function runnerPodState(pod: V1Pod): RunnerPodState {
  const phase = pod.status?.phase;
  const status = runnerStatus(pod);
  const lost = phase === 'Succeeded' ? undefined : nodeLostReason(pod);
  if (lost) return { kind: 'lost', reason: lost };
  if (phase === 'Succeeded') {
    return { kind: 'succeeded', exitCode: status?.state?.terminated?.exitCode ?? 0 };
  }
  if (phase === 'Failed') {
    const exitCode = status?.state?.terminated?.exitCode;
    const podReason = pod.status?.reason === 'DeadlineExceeded'
      ? 'runner pod exceeded its activeDeadlineSeconds (duration + grace) and was killed'
      : [pod.status?.reason, pod.status?.message].filter(Boolean).join(': ');
    const reason = terminatedReason(status) ?? (podReason || 'runner pod failed');
    const failed: RunnerPodState = { kind: 'failed', reason: podReason && terminatedReason(status) ? `${reason}; ${podReason}` : reason };
    if (exitCode !== undefined) failed.exitCode = exitCode;
    return failed;
  }
  if (status?.state?.terminated) {
    // Ended, phase not updated yet.
    const code = status.state.terminated.exitCode;
    return code === 0 ? { kind: 'succeeded', exitCode: 0 } : { kind: 'failed', exitCode: code, reason: terminatedReason(status) ?? `runner exited with code ${code}` };
  }
  if (phase === 'Running' || status?.state?.running) return { kind: 'running' };
  const { reason, permanent } = pendingReason(pod);
  const pending: RunnerPodState = { kind: 'pending' };
  if (reason) pending.reason = reason;
  if (permanent) pending.permanent = true;
  return pending;
}
