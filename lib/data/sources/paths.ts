// Turning the paths a reader is given into files: a file is itself, a directory is every file
// under it (hidden ones and those starting with '_' left out, as Arrow's dataset discovery
// does), and a pattern with *, ?, ** or [...] is matched against the files under its fixed
// prefix. Node 20 has no fs.glob, so the matching is here.

import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { at } from '../checked.js';
import { DataSourceError } from '../errors.js';

/** A file to read and its size. */
export interface FileInfo {
  path: string;
  size: number;
}

const GLOB = /[*?[]/;

function hidden(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_');
}

function walk(dir: string, out: string[]): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (hidden(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
    else if (e.isSymbolicLink()) {
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isFile()) out.push(p);
      else if (st?.isDirectory()) walk(p, out);
    }
  }
}

/** A glob pattern as a regular expression over whole paths. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = at(pattern, i);
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // '**/' matches any number of directories, '**' at the end anything.
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:[^/]*/)*';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, end);
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function expandGlob(pattern: string): string[] {
  const abs = resolve(pattern);
  const parts = abs.split(sep);
  const firstGlob = parts.findIndex((p) => GLOB.test(p));
  const base = parts.slice(0, firstGlob).join(sep) || sep;
  const re = globToRegExp(abs);
  const all: string[] = [];
  if (statSync(base, { throwIfNoEntry: false })?.isDirectory()) walk(base, all);
  return all.filter((p) => re.test(p));
}

/**
 * The files that paths name, sorted within each path, each once. `extensions` (without the
 * dot) keeps only files ending so, for directories and patterns. Nothing found is a
 * DataSourceError naming the path.
 */
export function expandPaths(
  paths: string | readonly string[],
  op: string,
  extensions?: string[],
): FileInfo[] {
  const list = typeof paths === 'string' ? [paths] : [...paths];
  if (list.length === 0) throw new DataSourceError(`${op}(): no paths given`);
  const seen = new Set<string>();
  const out: FileInfo[] = [];
  const wanted = (p: string) =>
    !extensions || extensions.some((e) => p.toLowerCase().endsWith(`.${e.toLowerCase()}`));
  for (const p of list) {
    if (typeof p !== 'string' || p === '') {
      throw new DataSourceError(`${op}(): paths must be non-empty strings, got ${JSON.stringify(p)}`);
    }
    let found: string[];
    const st = statSync(p, { throwIfNoEntry: false });
    if (st?.isFile()) found = [resolve(p)];
    else if (st?.isDirectory()) {
      found = [];
      walk(resolve(p), found);
      found = found.filter(wanted);
    } else if (GLOB.test(p)) found = expandGlob(p).filter(wanted);
    else throw new DataSourceError(`${op}(): no such file or directory: ${p}`, p);
    if (found.length === 0) {
      throw new DataSourceError(
        `${op}(): ${p} matches no files${extensions ? ` ending in ${extensions.map((e) => `.${e}`).join(', ')}` : ''}`,
        p,
      );
    }
    for (const f of found) {
      if (seen.has(f)) continue;
      seen.add(f);
      out.push({ path: f, size: statSync(f).size });
    }
  }
  return out;
}
