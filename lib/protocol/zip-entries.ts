// The files of a .zip given as a runtime env's workingDir (Ray takes a zip there too), read
// with node:zlib alone: the central directory at the end of the file, then each entry's
// data, stored or deflated. Directories are implied, symbolic links and other non-files
// left out; a zip whose files all sit in one top-level directory (as `zip -r project.zip
// project/` makes them) is read as that directory's contents. Zip64 archives, encrypted
// entries and other compression methods are refused with what to do.
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { InvalidArgumentError, RuntimeEnvTooLargeError } from '../base/errors.js';

/** One regular file of the zip. */
export interface ZipFile {
  /** Its path inside, '/'-separated. */
  path: string;
  data: Buffer;
  executable: boolean;
}

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/** The regular files of the zip at `file` (at most maxBytes of them, unpacked), and the entries left out. */
export function zipEntries(file: string, maxBytes: number): { files: ZipFile[]; skipped: string[] } {
  const zip = readFileSync(file);
  const bad = (why: string) =>
    new InvalidArgumentError(
      `runtimeEnv.workingDir '${file}' cannot be read as a zip (${why}): give a directory, or a plain zip of one`,
    );
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) throw bad('Zip64 is not supported');
  const files: ZipFile[] = [];
  const skipped: string[] = [];
  let total = 0;
  let at = cdOffset;
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL_SIG)
      throw bad('a damaged central directory');
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const rawSize = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const next = at + 46 + nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const mode = zip.readUInt32LE(at + 38) >>> 16;
    const local = zip.readUInt32LE(at + 42);
    const path = zip.toString('utf8', at + 46, at + 46 + nameLen);
    at = next;
    if (path.endsWith('/')) continue;
    const type = mode & 0o170000;
    if (type !== 0 && type !== 0o100000) {
      skipped.push(path);
      continue;
    }
    if (flags & 1) throw bad(`${path} is encrypted`);
    total += rawSize;
    if (total > maxBytes) {
      throw new RuntimeEnvTooLargeError(
        `runtimeEnv.workingDir '${file}' holds more than ${maxBytes} bytes of files: leave large data out of it`,
      );
    }
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== LOCAL_SIG)
      throw bad(`a damaged entry ${path}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const body = zip.subarray(start, start + size);
    let data: Buffer;
    if (method === 0) data = Buffer.from(body);
    else if (method === 8) data = inflateRawSync(body, { maxOutputLength: Math.max(1, rawSize) });
    else throw bad(`${path} uses compression method ${method}; only stored and deflated entries are read`);
    if (data.length !== rawSize) throw bad(`${path} did not unpack to its size`);
    files.push({ path, data, executable: (mode & 0o100) !== 0 });
  }
  return { files: withoutCommonTop(files), skipped };
}

/** The files of one top-level directory as that directory's contents. */
function withoutCommonTop(files: ZipFile[]): ZipFile[] {
  const tops = new Set(files.map((f) => (f.path.includes('/') ? f.path.slice(0, f.path.indexOf('/')) : '')));
  if (tops.size !== 1 || tops.has('')) return files;
  const cut = (files[0]?.path.indexOf('/') ?? -1) + 1;
  return files.map((f) => ({ ...f, path: f.path.slice(cut) }));
}
