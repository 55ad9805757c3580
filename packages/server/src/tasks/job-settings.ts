/**
 * The rules a job's options must follow, whichever way it is submitted (confirm after a
 * multipart upload, or the one-request form `POST /tasks`): which solver and SPEOS
 * version, how many threads, and the defaults. One place, so both answer alike.
 */
import {
  ApiError,
  type JobOptions,
  releaseToVersion,
  SOLVER_OPTION_FIELDS,
  versionToRelease,
} from '@speos-portal/protocol';
import type { Config } from '../config.js';
import type { Owner } from './repository.js';

/** Solvers this portal runs. The original frontend also offers fluent, maxwell and mechanical. */
export const SOLVER_TYPES = ['speos'] as const;

/** The task columns a job's options become. */
export interface JobSettings {
  job_name: string;
  display_name: string;
  submitter: string | null;
  solver_type: string;
  profile_name: string;
  version: string;
  thread_count: number;
  priority: number;
  /** JSON of the optional solver options. */
  params: string;
}

export function validation(field: string, message: string): ApiError {
  return new ApiError('VALIDATION_FAILED', `${field}: ${message}`, { errors: [{ field, message }] });
}

/** The configured versions' release names, in the configured order (versions outside the scheme left out). */
export function configuredReleases(config: Pick<Config, 'speosVersions'>): string[] {
  return config.speosVersions.map(versionToRelease).filter((r): r is string => r !== undefined);
}

/** The SPEOS version a job asks for: `version`, else its `ansys_release`, else the default. */
function chooseVersion(options: JobOptions, config: Pick<Config, 'speosVersions'>): string {
  const installed = config.speosVersions;
  let fromRelease: string | undefined;
  if (options.ansys_release !== undefined) {
    const release = options.ansys_release.trim();
    fromRelease = releaseToVersion(release);
    if (!fromRelease) {
      throw validation('ansys_release', `"${release}" is not an Ansys release name such as 2025R2`);
    }
    if (!installed.includes(fromRelease)) {
      const offered = configuredReleases(config);
      throw validation(
        'ansys_release',
        `${release} (SPEOS ${fromRelease}) is not installed here; choose one of ${offered.length > 0 ? offered.join(', ') : installed.join(', ')}`,
      );
    }
    if (options.version !== undefined && options.version !== fromRelease) {
      throw validation(
        'ansys_release',
        `${release} is SPEOS ${fromRelease} but version says ${options.version}; send one of the two`,
      );
    }
  }
  const version = options.version ?? fromRelease ?? installed[0] ?? 'v252';
  if (!installed.includes(version)) {
    throw validation('version', `"${version}" is not installed here; choose one of ${installed.join(', ')}`);
  }
  return version;
}

/**
 * The configured profile a job asks for, spelled as configured (case does not matter);
 * without one, the first configured profile (the original frontend sends none).
 */
function chooseProfile(requested: string | undefined, profiles: string[]): string {
  const name = requested?.trim();
  if (!name) return profiles[0] ?? 'Standard';
  const match = profiles.find((p) => p.toLowerCase() === name.toLowerCase());
  if (match === undefined) {
    throw validation(
      'profile_name',
      `"${name}" is not a profile of this portal; choose one of ${profiles.map((p) => `"${p}"`).join(', ')}`,
    );
  }
  return match;
}

/** Checks a job's options against this server's configuration and fills in the defaults. */
export function jobSettings(
  owner: Owner,
  options: JobOptions,
  config: Pick<Config, 'speosVersions' | 'speosProfiles' | 'maxThreadCount'>,
): JobSettings {
  const solver = (options.solver_type ?? 'speos').trim().toLowerCase();
  if (!(SOLVER_TYPES as readonly string[]).includes(solver)) {
    throw validation(
      'solver_type',
      `"${options.solver_type}" is not run by this portal; it runs ${SOLVER_TYPES.join(', ')} only (solver_type "speos")`,
    );
  }
  const version = chooseVersion(options, config);
  const threadCount = options.thread_count ?? Math.min(8, config.maxThreadCount);
  if (threadCount > config.maxThreadCount) {
    throw validation('thread_count', `must be at most ${config.maxThreadCount} on this server, got ${threadCount}`);
  }
  const params: Record<string, unknown> = {};
  for (const field of SOLVER_OPTION_FIELDS) {
    if (options[field] !== undefined) params[field] = options[field];
  }
  if (options.ansys_release !== undefined) params.ansys_release = versionToRelease(version);
  const jobName = options.job_name.trim();
  if (jobName === '') throw validation('job_name', 'must not be blank');
  return {
    job_name: jobName,
    display_name: options.display_name?.trim() || jobName,
    submitter: options.submitter?.trim() || owner || null,
    solver_type: solver,
    profile_name: chooseProfile(options.profile_name, config.speosProfiles),
    version,
    thread_count: threadCount,
    priority: options.priority ?? 2,
    params: JSON.stringify(params),
  };
}
