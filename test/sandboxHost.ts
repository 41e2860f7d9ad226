/**
 * Where the grader's namespaces cannot run. A container refuses user namespaces to its processes
 * (Docker's default seccomp profile; a chroot, which is buildah's isolation in the container test),
 * so there the grader falls back to its mode "uid" (grader/sandbox.py): the kernel still runs as an
 * unprivileged uid, with its limits, but sees the network and world-readable files.
 *
 * The Dockerfile sets RLHF_TEST_NO_USERNS=1. Then test/setup.ts makes the grader use mode "uid" in
 * every test (RLHF_GRADER_SANDBOX, unless a test sets its own), the tests expect that mode's name and
 * note, and the few assertions only namespaces can make true (no network, nothing written outside the
 * kernel's folder, bubblewrap's modes) are skipped by name. CI and a Debian host never set it: there
 * every assertion runs in the strongest mode.
 */
export const NO_USERNS = process.env.RLHF_TEST_NO_USERNS === '1';

/** The mode the grader picks for a test that does not choose one. */
export const EXPECTED_SANDBOX = NO_USERNS ? 'uid' : 'userns';


/** The grader's notes on a grade in the expected mode: none, or the forced fallback's. */
export const MODE_NOTES: string[] = NO_USERNS ? ['graded in the weaker sandbox mode "uid" (chosen by the TA)'] : [];
