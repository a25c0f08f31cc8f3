// deploy/kubernetes/gateway*.yaml and docker-compose.yml: they parse, and the
// parts that must agree do (labels and selectors, probes and ports, grace
// periods, settings the gateway accepts, the store URI and the etcd that
// serves it, seed config the gateway validates). Nothing here talks to a
// cluster or a Docker engine.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { resolveOptions, SETTINGS, type RawSettings, type SettingName } from '../../src/config.js';
import { validateRoute, validateUpstream } from '../../src/control/validate.js';
import { REPO_ROOT } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

type Obj = Record<string, any>;

const K8S_DIR = path.join(REPO_ROOT, 'deploy/kubernetes');
const ENV_TO_SETTING = new Map<string, SettingName>(
  (Object.entries(SETTINGS) as [SettingName, readonly [string, string | undefined]][]).map(([name, [env]]) => [env, name]),
);

/** SWITCHYARD_* variables -> the gateway's resolved options (throws like `switchyard start` would exit 2). */
function resolveEnv(env: Record<string, string>) {
  const raw: RawSettings = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('SWITCHYARD_') || /^SWITCHYARD_ETCD_/.test(k)) continue;
    const name = ENV_TO_SETTING.get(k);
    assert.ok(name, `${k} is not a setting of switchyard start`);
    raw[name] = v;
  }
  return resolveOptions(raw);
}

function labelsMatch(selector: Obj, labels: Obj): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe('deploy/kubernetes/gateway*.yaml', () => {
  const files = readdirSync(K8S_DIR).filter((f) => /^gateway.*\.ya?ml$/.test(f));
  const docs: Obj[] = [];
  for (const f of files) {
    for (const d of parseAllDocuments(readFileSync(path.join(K8S_DIR, f), 'utf8'))) {
      assert.deepEqual([...d.errors, ...d.warnings].map((e) => `${f}: ${e.message}`), []);
      const js = d.toJS() as Obj | null;
      if (js) docs.push({ ...js, __file: f });
    }
  }
  const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const byName = (kind: string, name: string) => ofKind(kind).find((d) => d.metadata?.name === name);

  const deployment = byName('Deployment', 'switchyard-gateway')!;
  const pod = deployment?.spec?.template;
  const container = pod?.spec?.containers?.find((c: Obj) => c.name === 'gateway');
  const configMap = byName('ConfigMap', container?.envFrom?.[0]?.configMapRef?.name ?? '')!;
  const settings = (configMap?.data ?? {}) as Record<string, string>;
  const portOf = (name: string): number | undefined => container?.ports?.find((p: Obj) => p.name === name)?.containerPort;
  /** The options a gateway pod resolves: the ConfigMap plus the env the Deployment adds (token from the Secret, node id). */
  const podOptions = () => resolveEnv({ ...settings, SWITCHYARD_ADMIN_TOKEN: 'from-the-secret', SWITCHYARD_NODE_ID: 'switchyard-gateway-abc' });

  it('parses; every document has apiVersion, kind and a name', () => {
    assert.ok(files.length >= 5, `only ${files.join(', ')}`);
    for (const d of docs) assert.ok(d.apiVersion && d.kind && d.metadata?.name, `${d.__file}: a document lacks apiVersion, kind or metadata.name`);
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'ConfigMap', 'StatefulSet']) assert.ok(ofKind(kind).length > 0, `no ${kind}`);
  });

  it('Deployment: the gateway container, its settings from the ConfigMap, token from a Secret, node id from the pod name', () => {
    assert.ok(deployment && container, 'Deployment switchyard-gateway with a container "gateway"');
    assert.ok(labelsMatch(deployment.spec.selector.matchLabels, pod.metadata.labels), 'selector must match the pod labels');
    assert.ok(deployment.spec.replicas >= 2, 'at least two replicas');
    assert.equal(deployment.spec.strategy?.rollingUpdate?.maxUnavailable, 0, 'rolling updates never drop below the replica count');
    assert.ok(configMap, 'envFrom names an existing ConfigMap');
    const env = new Map<string, Obj>(container.env.map((e: Obj) => [e.name, e]));
    assert.ok(env.get('SWITCHYARD_ADMIN_TOKEN')?.valueFrom?.secretKeyRef?.name, 'the admin token comes from a Secret');
    assert.ok(!('SWITCHYARD_ADMIN_TOKEN' in settings), 'no admin token in the ConfigMap');
    assert.equal(env.get('SWITCHYARD_NODE_ID')?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
    const opts = podOptions();
    assert.equal(opts.listen[0]!.port, portOf('http'), 'containerPort "http" is the --listen port');
    assert.equal(opts.admin.port, portOf('admin'), 'containerPort "admin" is the --admin port');
    assert.equal(opts.admin.host, '0.0.0.0', 'the admin API must be reachable by the kubelet probes');
    assert.match(opts.store, /^etcds?:\/\//, 'a Deployment of several pods needs etcd');
  });

  it('Deployment: probes on /healthz and /readyz, preStop, grace period above preStop + --grace-ms, resources', () => {
    assert.deepEqual([container.livenessProbe?.httpGet?.path, container.livenessProbe?.httpGet?.port], ['/healthz', 'admin']);
    assert.deepEqual([container.readinessProbe?.httpGet?.path, container.readinessProbe?.httpGet?.port], ['/readyz', 'admin']);
    const cmd: string[] = container.lifecycle?.preStop?.exec?.command ?? [];
    const sleepS = cmd[0] === 'sleep' ? Number(cmd[1]) : container.lifecycle?.preStop?.sleep?.seconds;
    assert.ok(Number.isFinite(sleepS) && sleepS > 0, 'preStop sleeps so endpoints are gone before SIGTERM');
    const graceMs = podOptions().graceMs;
    const termMs = pod.spec.terminationGracePeriodSeconds * 1000;
    // run-gateway.ts exits hard 5 s after --grace-ms.
    assert.ok(termMs > sleepS * 1000 + graceMs + 5000, `terminationGracePeriodSeconds ${termMs / 1000} s must exceed preStop ${sleepS} s + --grace-ms ${graceMs / 1000} s + 5 s`);
    for (const kind of ['requests', 'limits']) assert.ok(container.resources?.[kind]?.memory, `resources.${kind}.memory`);
    assert.ok(container.resources?.requests?.cpu, 'resources.requests.cpu');
    const workers = podOptions().workers;
    const cpuLimit = container.resources?.limits?.cpu;
    if (cpuLimit) assert.ok(workers <= parseFloat(String(cpuLimit).replace(/m$/, '')) / (String(cpuLimit).endsWith('m') ? 1000 : 1), `SWITCHYARD_WORKERS ${workers} above the CPU limit ${cpuLimit}`);
  });

  it('Deployment: non-root, read-only root filesystem, the state dir on a volume', () => {
    assert.equal(pod.spec.securityContext?.runAsNonRoot, true);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
    const stateDir = podOptions().stateDir;
    const mount = container.volumeMounts?.find((m: Obj) => m.mountPath === stateDir);
    assert.ok(mount, `SWITCHYARD_STATE_DIR ${stateDir} must be a mounted volume (the root filesystem is read-only)`);
    assert.ok(pod.spec.volumes.some((v: Obj) => v.name === mount.name));
  });

  it('Services select the gateway pods and target its named ports', () => {
    const services = ofKind('Service').filter((s) => s.metadata.labels?.['app.kubernetes.io/component'] === 'gateway');
    assert.deepEqual(services.map((s) => s.metadata.name).sort(), ['switchyard', 'switchyard-admin']);
    for (const s of services) {
      assert.ok(labelsMatch(s.spec.selector, pod.metadata.labels), `${s.metadata.name}: selector must match the pods`);
      for (const p of s.spec.ports) assert.ok(portOf(p.targetPort), `${s.metadata.name}: targetPort ${p.targetPort} is not a container port`);
    }
    assert.notEqual(byName('Service', 'switchyard-admin')?.spec.type, 'LoadBalancer', 'the admin API stays inside the cluster');
  });

  it('PodDisruptionBudget: selects the gateway pods and lets one go at a time', () => {
    const pdb = ofKind('PodDisruptionBudget').find((p) => labelsMatch(p.spec.selector.matchLabels, pod.metadata.labels));
    assert.ok(pdb, 'a PodDisruptionBudget selects the gateway pods');
    assert.equal(pdb.apiVersion, 'policy/v1');
    const allowed = pdb.spec.maxUnavailable ?? deployment.spec.replicas - pdb.spec.minAvailable;
    assert.ok(allowed >= 1 && allowed < deployment.spec.replicas, `the PDB must allow some but not all pods to go (allows ${allowed})`);
  });

  it('etcd: the StatefulSet serves every endpoint of SWITCHYARD_STORE', () => {
    const sts = ofKind('StatefulSet')[0]!;
    const headless = byName('Service', sts.spec.serviceName);
    assert.ok(headless && headless.spec.clusterIP === 'None', `headless Service ${sts.spec.serviceName}`);
    assert.ok(labelsMatch(headless.spec.selector, sts.spec.template.metadata.labels));
    assert.ok(labelsMatch(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels));
    const etcd = sts.spec.template.spec.containers[0];
    const clientPort = etcd.ports.find((p: Obj) => p.name === 'client').containerPort;
    const hosts = podOptions().store.replace(/^etcds?:\/\//, '').split(',');
    assert.equal(hosts.length, sts.spec.replicas, 'one store endpoint per etcd member');
    hosts.forEach((h, i) => assert.equal(h, `${sts.metadata.name}-${i}.${sts.spec.serviceName}:${clientPort}`));
    const env = new Map<string, string>(etcd.env.map((e: Obj) => [e.name, e.value]));
    assert.equal(env.get('ETCD_INITIAL_CLUSTER')!.split(',').length, sts.spec.replicas);
    assert.equal(sts.spec.replicas % 2, 1, 'an odd number of members');
    assert.ok(sts.spec.volumeClaimTemplates?.length, 'etcd data on persistent volumes');
    const pdb = ofKind('PodDisruptionBudget').find((p) => labelsMatch(p.spec.selector.matchLabels, sts.spec.template.metadata.labels));
    assert.equal(pdb?.spec.maxUnavailable, 1, 'etcd: one member down at a time keeps the quorum');
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Obj;
  const services = compose.services as Record<string, Obj>;
  const gateways = Object.entries(services).filter(([, s]) => s.environment?.SWITCHYARD_STORE);
  const backends = Object.entries(services).filter(([, s]) => (s.command ?? []).some((a: string) => /demo-upstream\.mjs$/.test(a)));
  const children: { pid: number; kill(): void; exited: Promise<unknown> }[] = [];
  after(async () => {
    for (const c of children) {
      c.kill();
      await c.exited;
    }
  });

  /** `${VAR:?msg}` / `${VAR}` -> a stand-in value, as compose would interpolate it. */
  const interpolate = (v: string) => String(v).replace(/\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}/g, (_m, name: string) => `value-of-${name}`);

  it('etcd, two gateway nodes built from the Dockerfile on etcd://etcd:2379, demo backends', () => {
    assert.match(services.etcd?.image ?? '', /^(quay\.io\/coreos\/etcd|bitnami\/etcd):/);
    assert.ok(services.etcd.healthcheck, 'etcd has a healthcheck the gateways wait for');
    assert.equal(gateways.length, 2, 'two gateway nodes');
    const ids = new Set<string>();
    const hostPorts = new Set<string>();
    for (const [name, s] of gateways) {
      assert.deepEqual([s.build?.context, s.build?.dockerfile ?? 'Dockerfile'], ['.', 'Dockerfile'], `${name} is built from the Dockerfile`);
      assert.ok(existsSync(path.join(REPO_ROOT, s.build.dockerfile ?? 'Dockerfile')));
      assert.equal(s.depends_on?.etcd?.condition, 'service_healthy', `${name} waits for etcd`);
      const env = Object.fromEntries(Object.entries(s.environment as Record<string, string>).map(([k, v]) => [k, interpolate(v)]));
      assert.equal(s.environment.SWITCHYARD_STORE, 'etcd://etcd:2379');
      assert.match(String(s.environment.SWITCHYARD_ADMIN_TOKEN), /^\$\{SWITCHYARD_ADMIN_TOKEN(:\?[^}]*)?\}$/, `${name}: the admin token comes from the environment (and is required)`);
      const opts = resolveEnv(env);
      assert.equal(opts.admin.host, '0.0.0.0');
      ids.add(opts.nodeId);
      for (const p of s.ports ?? []) {
        const [hostPart, container] = [String(p).slice(0, String(p).lastIndexOf(':')), Number(String(p).split(':').pop())];
        assert.ok(!hostPorts.has(hostPart), `host port ${hostPart} published twice`);
        hostPorts.add(hostPart);
        if (container === opts.admin.port) assert.match(hostPart, /^127\.0\.0\.1:/, `${name}: publish the admin API on the host's loopback only`);
      }
      assert.ok(s.stop_grace_period, `${name}: stop_grace_period above SWITCHYARD_GRACE_MS + 5 s`);
      const stopS = Number(/^(\d+)s$/.exec(s.stop_grace_period)![1]);
      assert.ok(stopS * 1000 > opts.graceMs + 5000, `${name}: stop_grace_period ${s.stop_grace_period} must exceed SWITCHYARD_GRACE_MS ${opts.graceMs} + 5 s (the gateway's hard-exit margin)`);
    }
    assert.equal(ids.size, 2, 'distinct node ids');
    assert.ok(backends.length >= 2, 'demo backends running examples/demo-upstream.mjs');
    for (const [name, s] of backends) {
      assert.match(s.image, /^node:/, `${name} runs in a node image`);
      const mount = (s.volumes ?? []).find((v: string) => v.includes('demo-upstream.mjs'));
      assert.ok(mount && existsSync(path.join(REPO_ROOT, mount.split(':')[0])), `${name} mounts examples/demo-upstream.mjs`);
    }
  });

  it('the seed configuration is valid and points at the backends', () => {
    const upstream = parse(compose.configs['shop-upstream'].content);
    const route = parse(compose.configs['shop-route'].content);
    const u = validateUpstream(upstream, upstream.name);
    assert.ok(u.ok, JSON.stringify(u));
    const r = validateRoute(route, { listenPorts: new Set([8080]), portRange: null }, route.id);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(route.upstream, upstream.name);
    const backendAddrs = new Set(backends.map(([name, s]) => `http://${name}:${s.command[s.command.length - 1]}`));
    for (const pool of Object.values(upstream.pools) as { targets: string[] }[]) {
      for (const t of pool.targets) assert.ok(backendAddrs.has(t), `target ${t} is not a demo backend (${[...backendAddrs].join(', ')})`);
    }
  });

  it('a demo backend, run as compose runs it, listens on every interface (reachable from the gateway containers)', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
    const [name, s] = backends[0]!;
    const script = path.join(REPO_ROOT, 'examples', path.basename(s.command.find((a: string) => a.endsWith('.mjs'))));
    const args = [...s.command.slice(1)];
    args[args.length - 1] = '0'; // an ephemeral port instead of the compose one
    args[args.indexOf(path.basename(script))] = script;
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...(s.environment ?? {}) };
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    children.push({ pid: child.pid!, kill: () => child.kill('SIGTERM'), exited });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    });
    // The listening socket of that pid, from /proc: its local address.
    const inodes = () => new Set(readdirSync(`/proc/${child.pid}/fd`).flatMap((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${child.pid}/fd/${fd}`));
        return m ? [m[1]!] : [];
      } catch {
        return [];
      }
    }));
    const listening = await waitFor(() => {
      const mine = inodes();
      const out: string[] = [];
      for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
        if (!existsSync(file)) continue;
        for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
          const f = line.trim().split(/\s+/);
          if (f.length > 9 && f[3] === '0A' && mine.has(f[9]!)) out.push(f[1]!.split(':')[0]!);
        }
      }
      return out.length ? out : null;
    }, { what: `${name}'s listening socket` });
    const wildcard = listening.every((a) => /^0+$/.test(a));
    assert.ok(
      wildcard,
      `${name} (examples/demo-upstream.mjs with ${JSON.stringify(s.environment ?? {})}) listens on a specific address ` +
        `(${listening.join(', ')} in /proc/net/tcp hex), so the gateway containers cannot reach it: it must listen on 0.0.0.0 (e.g. honour HOST)`,
    );
  });
});
