/**
 * Files that must never be half-written: what a user collected or trained, results, reference
 * runs, grades. Write to a temporary file in the same folder, fsync it, rename it over the target
 * (atomic on POSIX), fsync the folder. A crash leaves the old file or the new one, never a mix.
 * Used by every layer above (comparisons, checkpoints, stage artifacts, results) and by
 * scripts/reference.ts, scripts/label.ts (through the label server) and the grader.
 */
import * as fs from 'fs';
import * as path from 'path';

/** Write `data` to `file` (created or truncated) and fsync it before returning. */
export function writeFileSynced(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync a folder, so renames into it survive a crash. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } catch {
    // some filesystems refuse fsync on a directory; the renames are still atomic
  } finally {
    fs.closeSync(fd);
  }
}

/** Write `text` to `file` via a temp file in the same folder, fsync, rename, fsync the folder. */
export function writeAtomic(file: string, text: string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  writeFileSynced(tmp, text);
  fs.renameSync(tmp, file);
  fsyncDir(dir);
}
