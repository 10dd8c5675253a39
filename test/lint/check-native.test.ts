// scripts/check-native.mjs, the lint rule for native/'s layout: it passes on
// the tree as it is and names each broken rule in a tree made to break them
// (a file over 500 lines, one without its opening comment, a core reaching a
// sibling core, and Node below native/addon/).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'check-native.mjs');

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function tree(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'sunray-check-native-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

describe('check-native', () => {
  it('passes on native/ as it is', () => {
    expect(() => execFileSync(process.execPath, [script], { stdio: 'pipe' })).not.toThrow();
  });

  it('passes a tree that keeps the rules', () => {
    const d = tree({
      'common/a.h': '// owns a\n#pragma once\n',
      'ipc/b.cc': '// owns b\n#include "common/a.h"\n',
      'addon/c.cc': '// owns c\n#include <napi.h>\n#include "ipc/b.h"\n',
    });
    const r = spawnSync(process.execPath, [script, d], { encoding: 'utf8' });
    expect(r.status).toBe(0);
  });

  it('names every broken rule and exits 1', () => {
    const long = `// owns long\n${'int x;\n'.repeat(500)}`;
    const d = tree({
      'store/long.cc': long,
      'store/bare.cc': '#include "store/long.h"\n',
      'store/reach.cc': '// owns reach\n#include "ipc/ring.h"\n',
      'ipc/node.cc': '// owns node\n#include <napi.h>\n',
      'extra/x.cc': '// owns x\n',
    });
    const r = spawnSync(process.execPath, [script, d], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('store/long.cc: 501 lines (at most 500');
    expect(r.stderr).toContain('store/bare.cc: does not open with a comment');
    expect(r.stderr).toContain('store/reach.cc:2: includes "ipc/ring.h": store/ may include store, common');
    expect(r.stderr).toContain('ipc/node.cc:2: includes Node header <napi.h>');
    expect(r.stderr).toContain('extra/x.cc: extra/ is not a known folder');
  });
});
