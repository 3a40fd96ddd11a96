/**
 * Alert rules: which Alertmanager alerts start which traces. Read once at start from the file named
 * by ALERT_RULES_FILE (YAML or JSON), refused with the rule and field named; then pure functions
 * match an alert's labels to the first rule that fits and build the trace's target from the labels.
 *
 *   rules:
 *     - name: high-latency
 *       matchers: ['alertname="HighLatency"', 'severity=~"page|critical"']   # Alertmanager syntax
 *       gadget: tcpconnect
 *       durationSeconds: 30
 *       params: {}
 *       limits: { maxEvents: 10000 }
 *       rateLimit: { traces: 5, windowSeconds: 600 }   # per rule
 *   dedupWindowSeconds: 3600                            # same fingerprint → one trace per window
 *   rateLimit: { traces: 30, windowSeconds: 600 }       # all rules together
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { GADGET_NAMES, type GadgetName, type KubernetesTarget } from '../../../contracts/index.ts';

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
  /** Anchored, as Alertmanager anchors its regular expressions. */
  regex?: RegExp;
}

export interface TraceRateLimit {
  traces: number;
  windowSeconds: number;
}

export interface AlertRule {
  name: string;
  matchers: readonly LabelMatcher[];
  gadget: GadgetName;
  durationSeconds?: number;
  params: Record<string, unknown>;
  maxEvents?: number;
  rateLimit?: TraceRateLimit;
}

export interface AlertRules {
  rules: readonly AlertRule[];
  dedupWindowSeconds: number;
  rateLimit?: TraceRateLimit;
  source: string;
}

export class AlertRulesError extends Error {
  override readonly name = 'AlertRulesError';
  constructor(
    /** e.g. `rules[1].matchers[0]` */
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export const DEFAULT_DEDUP_WINDOW_SECONDS = 3600;
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MATCHER = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s,{}]*))\s*$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkKeys(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new AlertRulesError(`${field}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

function posInt(v: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) throw new AlertRulesError(field, `must be a whole number from 1 to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

/** One Alertmanager-style matcher: `name="value"`, `name!=value`, `name=~"re"`, `name!~"re"`. */
export function parseMatcher(text: string, field: string): LabelMatcher {
  const m = MATCHER.exec(text);
  if (!m) throw new AlertRulesError(field, `must be a matcher like alertname="HighLatency" (operators =, !=, =~, !~), got ${JSON.stringify(text)}`);
  const op = m[2] as MatchOp;
  const value = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? '');
  const matcher: LabelMatcher = { name: m[1]!, op, value };
  if (op === '=~' || op === '!~') {
    try {
      matcher.regex = new RegExp(`^(?:${value})$`, 'u');
    } catch (err) {
      throw new AlertRulesError(field, `not a valid regular expression: ${(err as Error).message}`);
    }
  }
  return matcher;
}

function rateLimitOf(v: unknown, field: string): TraceRateLimit | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new AlertRulesError(field, 'must be {traces, windowSeconds}');
  checkKeys(v, field, ['traces', 'windowSeconds']);
  const traces = posInt(v.traces, `${field}.traces`);
  if (traces === undefined) throw new AlertRulesError(`${field}.traces`, 'required');
  return { traces, windowSeconds: posInt(v.windowSeconds, `${field}.windowSeconds`, 86_400 * 7) ?? 60 };
}

function ruleOf(v: unknown, field: string, maxDurationSeconds: number): AlertRule {
  if (!isObj(v)) throw new AlertRulesError(field, 'must be a mapping');
  checkKeys(v, field, ['name', 'matchers', 'match', 'gadget', 'durationSeconds', 'params', 'limits', 'rateLimit']);
  if (typeof v.name !== 'string' || !RULE_NAME.test(v.name)) throw new AlertRulesError(`${field}.name`, `must be a name of letters, digits, '.', '_', '-', got ${JSON.stringify(v.name)}`);
  const matchers: LabelMatcher[] = [];
  if (v.matchers !== undefined) {
    if (!Array.isArray(v.matchers)) throw new AlertRulesError(`${field}.matchers`, 'must be a list of matchers');
    v.matchers.forEach((m, i) => {
      if (typeof m !== 'string') throw new AlertRulesError(`${field}.matchers[${i}]`, 'must be a string such as alertname="HighLatency"');
      matchers.push(parseMatcher(m, `${field}.matchers[${i}]`));
    });
  }
  if (v.match !== undefined) {
    if (!isObj(v.match)) throw new AlertRulesError(`${field}.match`, 'must be a mapping of label: value');
    for (const [name, value] of Object.entries(v.match)) {
      if (!LABEL_NAME.test(name)) throw new AlertRulesError(`${field}.match.${name}`, 'is not a label name');
      if (typeof value !== 'string') throw new AlertRulesError(`${field}.match.${name}`, 'must be a string');
      matchers.push({ name, op: '=', value });
    }
  }
  if (matchers.length === 0) throw new AlertRulesError(`${field}.matchers`, 'name at least one matcher (a rule matching every alert is a mistake waiting to happen)');
  if (typeof v.gadget !== 'string' || !(GADGET_NAMES as readonly string[]).includes(v.gadget)) {
    throw new AlertRulesError(`${field}.gadget`, `must be one of ${GADGET_NAMES.join(', ')}, got ${JSON.stringify(v.gadget)}`);
  }
  const rule: AlertRule = { name: v.name, matchers, gadget: v.gadget as GadgetName, params: {} };
  const duration = posInt(v.durationSeconds, `${field}.durationSeconds`, maxDurationSeconds);
  if (duration !== undefined) rule.durationSeconds = duration;
  if (v.params !== undefined) {
    if (!isObj(v.params)) throw new AlertRulesError(`${field}.params`, 'must be a mapping of the gadget params');
    rule.params = v.params;
  }
  if (v.limits !== undefined) {
    if (!isObj(v.limits)) throw new AlertRulesError(`${field}.limits`, 'must be {maxEvents}');
    checkKeys(v.limits, `${field}.limits`, ['maxEvents']);
    const maxEvents = posInt(v.limits.maxEvents, `${field}.limits.maxEvents`);
    if (maxEvents !== undefined) rule.maxEvents = maxEvents;
  }
  const rl = rateLimitOf(v.rateLimit, `${field}.rateLimit`);
  if (rl) rule.rateLimit = rl;
  return rule;
}

export interface AlertRulesLimits {
  maxDurationSeconds: number;
  /** Checks a rule's gadget params (the catalogue's validator); returns the first problem. */
  checkParams?(gadget: GadgetName, params: Record<string, unknown>): { field: string; message: string } | undefined;
}

/** Validates a parsed rules document; throws AlertRulesError naming the rule and field. */
export function parseAlertRules(doc: unknown, source: string, limits: AlertRulesLimits): AlertRules {
  if (!isObj(doc)) throw new AlertRulesError(source, 'must be a mapping with `rules`');
  checkKeys(doc, source, ['rules', 'dedupWindowSeconds', 'rateLimit']);
  if (!Array.isArray(doc.rules) || doc.rules.length === 0) throw new AlertRulesError('rules', 'must be a non-empty list');
  const names = new Set<string>();
  const rules = doc.rules.map((r, i) => {
    const rule = ruleOf(r, `rules[${i}]`, limits.maxDurationSeconds);
    if (names.has(rule.name)) throw new AlertRulesError(`rules[${i}].name`, `duplicate rule name ${JSON.stringify(rule.name)}`);
    names.add(rule.name);
    const problem = limits.checkParams?.(rule.gadget, rule.params);
    if (problem) throw new AlertRulesError(`rules[${i}].params${problem.field ? `.${problem.field}` : ''}`, problem.message);
    return rule;
  });
  const out: AlertRules = {
    rules,
    dedupWindowSeconds: posInt(doc.dedupWindowSeconds, 'dedupWindowSeconds', 86_400 * 30) ?? DEFAULT_DEDUP_WINDOW_SECONDS,
    source,
  };
  const rl = rateLimitOf(doc.rateLimit, 'rateLimit');
  if (rl) out.rateLimit = rl;
  return out;
}

/** Reads and validates the rules file (YAML, or JSON for a .json name). */
export function loadAlertRulesFile(file: string, limits: AlertRulesLimits): AlertRules {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AlertRulesError('ALERT_RULES_FILE', `cannot read ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new AlertRulesError(file, `is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  return parseAlertRules(doc, file, limits);
}

export function matcherMatches(m: LabelMatcher, labels: Readonly<Record<string, string>>): boolean {
  const value = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return value === m.value;
    case '!=':
      return value !== m.value;
    case '=~':
      return m.regex!.test(value);
    case '!~':
      return !m.regex!.test(value);
  }
}

/** The first rule whose matchers all match the labels. */
export function ruleFor(rules: AlertRules, labels: Readonly<Record<string, string>>): AlertRule | undefined {
  return rules.rules.find((r) => r.matchers.every((m) => matcherMatches(m, labels)));
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$/;

export type TargetFromLabels = { ok: true; target: KubernetesTarget } | { ok: false; label: string; reason: string };

/**
 * The Kubernetes target named by an alert's labels: `namespace` (required), `pod`, `container`,
 * `node`. A label value that is not a valid name is refused (labels come from monitoring, not from
 * a trusted source).
 */
export function targetFromLabels(labels: Readonly<Record<string, string>>): TargetFromLabels {
  const ns = labels.namespace;
  if (ns === undefined || ns === '') return { ok: false, label: 'namespace', reason: 'the alert has no namespace label' };
  if (ns.length > 63 || !DNS_LABEL.test(ns)) return { ok: false, label: 'namespace', reason: `label namespace=${JSON.stringify(ns.slice(0, 80))} is not a namespace name` };
  const target: KubernetesTarget = { namespace: ns };
  const pod = labels.pod;
  if (pod) {
    if (pod.length > 253 || !DNS_SUBDOMAIN.test(pod)) return { ok: false, label: 'pod', reason: `label pod=${JSON.stringify(pod.slice(0, 80))} is not a pod name` };
    target.podName = pod;
  }
  const container = labels.container;
  if (container) {
    if (container.length > 63 || !DNS_LABEL.test(container)) return { ok: false, label: 'container', reason: `label container=${JSON.stringify(container.slice(0, 80))} is not a container name` };
    target.containerName = container;
  }
  const node = labels.node;
  if (node) {
    if (!NODE_NAME.test(node)) return { ok: false, label: 'node', reason: `label node=${JSON.stringify(node.slice(0, 80))} is not a node name` };
    target.nodeName = node;
  }
  return { ok: true, target };
}

/** The rules the configuration names (ALERT_RULES_FILE), checked against the gadget catalogue; undefined without one. */
export function alertRulesOf(
  config: { alertRulesFile?: string; maxDurationSeconds: number },
  gadgets: { validateParams(name: GadgetName, params: Record<string, unknown>): { problems: { field: string; message: string }[] } },
): AlertRules | undefined {
  if (!config.alertRulesFile) return undefined;
  return loadAlertRulesFile(config.alertRulesFile, {
    maxDurationSeconds: config.maxDurationSeconds,
    checkParams: (gadget, params) => gadgets.validateParams(gadget, params).problems[0],
  });
}
