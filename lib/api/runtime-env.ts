// The public names of runtime envs: the RuntimeEnv type init() and `.options()` take, and
// the packing of a working directory into the archive the cluster stores it as (what
// sunray/job's JobSubmissionClient uploads for a job's workingDir).
export { type PackedArchive, packDirectory as packWorkingDir } from '../protocol/package-archive.js';
export type { RuntimeEnv } from '../protocol/runtime-env.js';
