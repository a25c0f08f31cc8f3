// The documentation's relative links lead somewhere: every `[text](path#anchor)`
// in docs/*.md, README.md and deploy/kubernetes/README.md names an existing
// file and, for Markdown targets, an existing heading (GitHub's anchors). And
// every mermaid block names a diagram type GitHub renders.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/gateway.js';

const FILES = [
  ...readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  'README.md',
  'deploy/kubernetes/README.md',
].filter((f) => existsSync(path.join(REPO_ROOT, f)));

/** Markdown without fenced code blocks (links and headings in code do not count). */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(text).matchAll(/^#{1,6}\s+(.*?)\s*#*\s*$/gm)) {
    const base = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('documentation links', () => {
  for (const file of FILES) {
    it(`${file}: relative links and anchors resolve`, () => {
      const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
      const problems: string[] = [];
      // Inline code is no link (patterns like `[a-z](x)` would look like one); link text may be code.
      const links = prose(text).replace(/``[^`][\s\S]*?``|`[^`\n]*`/g, (c) => (c.includes('](') ? '' : 'code'));
      for (const m of links.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)) {
        const href = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // http:, mailto:
        const [p, anchor] = href.split('#') as [string, string | undefined];
        const target = p === '' ? path.join(REPO_ROOT, file) : path.resolve(path.dirname(path.join(REPO_ROOT, file)), p);
        if (!existsSync(target)) {
          problems.push(`${href}: ${path.relative(REPO_ROOT, target)} does not exist`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
          problems.push(`${href}: no heading with anchor #${anchor} in ${path.relative(REPO_ROOT, target)}`);
        }
      }
      assert.deepEqual(problems, []);
    });
  }

  it('mermaid blocks name a diagram type', () => {
    let blocks = 0;
    for (const file of FILES) {
      const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
      for (const m of text.matchAll(/^```mermaid\n([\s\S]*?)^```/gm)) {
        blocks++;
        const first = m[1]!.trimStart().split('\n')[0]!;
        assert.match(first, /^(flowchart (LR|RL|TB|TD|BT)|stateDiagram-v2|sequenceDiagram)$/, `${file}: a mermaid block starts with "${first}"`);
        // ';' ends a mermaid statement: inside a label it silently cuts the diagram.
        assert.ok(!m[1]!.includes(';'), `${file}: a mermaid block contains ";"`);
      }
    }
    assert.ok(blocks >= 5, `only ${blocks} mermaid diagrams`);
  });

  it('docs/architecture.md and docs/operations.md cover what the operators need', () => {
    const arch = readFileSync(path.join(REPO_ROOT, 'docs/architecture.md'), 'utf8');
    for (const h of ['Configuration flows one way', 'A request, phase by phase', 'Drain and flood', 'Staged deployments', 'Workers: one primary, N data-plane processes']) {
      assert.ok(arch.includes(`## ${h}`), `architecture.md: section "${h}"`);
    }
    const ops = readFileSync(path.join(REPO_ROOT, 'docs/operations.md'), 'utf8');
    for (const h of ['Flips', 'Staged deployments', 'Draining a target', 'Rollbacks', 'etcd outages', 'Upgrading a node', 'Scaling', 'Reading /metrics']) {
      assert.ok(ops.includes(`## ${h}`), `operations.md: section "${h}"`);
    }
    for (const doc of ['docs/architecture.md', 'docs/operations.md', 'docs/api.md', 'docs/metrics.md', 'docs/errors.md']) {
      assert.ok(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').includes(`(${doc})`), `README.md links ${doc}`);
    }
  });
});
