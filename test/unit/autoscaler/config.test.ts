// The cluster config of `sunray up`: defaults, fractional idle timeouts, and errors with a
// stable code that name the bad key.
import { describe, expect, test } from 'vitest';
import { checkClusterConfig, parseClusterConfig } from '../../../lib/autoscaler/config.js';
import { AutoscalerConfigError } from '../../../lib/base/errors.js';

const GOOD = `
clusterName: demo
maxWorkers: 3
idleTimeoutMinutes: 0.05
upscalingSpeed: 2
updateIntervalSeconds: 1
head:
  port: 0
  resources: { CPU: 1 }
nodeTypes:
  special:
    resources: { CPU: 1, special: 1 }
    maxWorkers: 2
  gpu:
    resources: { CPU: 4, GPU: 1 }
    minWorkers: 1
    maxWorkers: 1
    labels: { zone: eu-1 }
provider:
  type: local
`;

function refusal(raw: unknown): AutoscalerConfigError {
  try {
    checkClusterConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(AutoscalerConfigError);
    return err as AutoscalerConfigError;
  }
  throw new Error('the config was accepted');
}

const base = () => ({
  nodeTypes: { a: { resources: { CPU: 1 }, maxWorkers: 2 } },
  provider: { type: 'local' },
});

describe('cluster config', () => {
  test('a full config, with fractional minutes and defaults filled in', () => {
    const c = parseClusterConfig(GOOD, 'cluster.yaml');
    expect(c.clusterName).toBe('demo');
    expect(c.idleTimeoutMinutes).toBe(0.05);
    expect(c.upscalingSpeed).toBe(2);
    expect(c.nodeTypes.special).toEqual({
      resources: { CPU: 1, special: 1 },
      minWorkers: 0,
      maxWorkers: 2,
      labels: {},
    });
    expect(c.nodeTypes.gpu?.labels).toEqual({ zone: 'eu-1' });
    expect(c.head).toEqual({ port: 0, bind: '127.0.0.1', resources: { CPU: 1 }, labels: {} });
    const d = checkClusterConfig(base());
    expect(d).toMatchObject({
      clusterName: 'default',
      maxWorkers: 2,
      idleTimeoutMinutes: 5,
      upscalingSpeed: 1,
    });
    expect(d.updateIntervalSeconds).toBe(5);
    expect(d.head.port).toBe(6380);
  });

  test('bad configs fail with SUNRAY_AUTOSCALER_CONFIG naming the key', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ ...base(), idleTimeoutMinute: 1 }, 'idleTimeoutMinute', /not a known key/],
      [{ ...base(), maxWorkers: -1 }, 'maxWorkers', /at least 0/],
      [{ ...base(), maxWorkers: 1.5 }, 'maxWorkers', /whole number/],
      [{ ...base(), upscalingSpeed: 'fast' }, 'upscalingSpeed', /must be a number/],
      [{ provider: { type: 'local' } }, 'nodeTypes', /is required/],
      [{ ...base(), nodeTypes: {} }, 'nodeTypes', /at least one/],
      [{ ...base(), nodeTypes: { a: { resources: { CPU: 1 } } } }, 'nodeTypes.a.maxWorkers', /is required/],
      [{ ...base(), nodeTypes: { a: { maxWorkers: 1 } } }, 'nodeTypes.a.resources', /is required/],
      [
        { ...base(), nodeTypes: { a: { resources: { CPU: -1 }, maxWorkers: 1 } } },
        'nodeTypes.a.resources.CPU',
        />= 0/,
      ],
      [
        { ...base(), nodeTypes: { a: { resources: { CPU: 1.5 }, maxWorkers: 1 } } },
        'nodeTypes.a.resources.CPU',
        /whole/,
      ],
      [
        { ...base(), nodeTypes: { a: { resources: { CPU: 1 }, minWorkers: 3, maxWorkers: 1 } } },
        'nodeTypes.a.minWorkers',
        /must not exceed maxWorkers/,
      ],
      [
        { ...base(), nodeTypes: { 'bad name': { resources: { CPU: 1 }, maxWorkers: 1 } } },
        'nodeTypes.bad name',
        /not a valid node type/,
      ],
      [
        { ...base(), nodeTypes: { a: { resources: { CPU: 1 }, maxWorkers: 1, cpus: 2 } } },
        'nodeTypes.a.cpus',
        /not a known key/,
      ],
      [
        {
          ...base(),
          nodeTypes: { a: { resources: { CPU: 1 }, maxWorkers: 1, labels: { 'sunray.io/x': 'y' } } },
        },
        'nodeTypes.a.labels',
        /reserved/,
      ],
      [{ ...base(), provider: undefined }, 'provider', /is required/],
      [{ ...base(), provider: { type: 'aws' } }, 'provider.type', /local, ssh or command/],
      [{ ...base(), provider: { type: 'ssh' } }, 'provider.hosts', /list of strings/],
      [
        { ...base(), provider: { type: 'ssh', hosts: ['-oProxyCommand=x'] } },
        'provider.hosts[0]',
        /not a host name/,
      ],
      [
        { ...base(), provider: { type: 'command', create: 'x', list: 'y', address: 'z' } },
        'provider.terminate',
        /is required/,
      ],
      [{ ...base(), head: { port: 70000 } }, 'head.port', /at most 65535/],
      [
        {
          ...base(),
          maxWorkers: 1,
          nodeTypes: { a: { resources: { CPU: 1 }, minWorkers: 2, maxWorkers: 2 } },
        },
        'maxWorkers',
        /minWorkers together/,
      ],
    ];
    for (const [raw, key, message] of cases) {
      const err = refusal(raw);
      expect(err.code).toBe('SUNRAY_AUTOSCALER_CONFIG');
      expect(err.key, JSON.stringify(raw)).toBe(key);
      expect(err.message).toMatch(message);
      expect(err.message).toContain(`'${key}'`);
    }
  });

  test('YAML that does not parse, and the file named in the message', () => {
    expect(() => parseClusterConfig('a: [1, 2', 'x.yaml')).toThrow(/x.yaml is not valid YAML/);
    expect(() => parseClusterConfig('maxWorkers: -1\nnodeTypes: {}', 'x.yaml')).toThrow(
      /cluster config x.yaml:/,
    );
    expect(() => parseClusterConfig('- 1\n- 2')).toThrow(AutoscalerConfigError);
  });
});
