/**
 * Tests run inside the kit's container image (RLHF_TEST_CONTAINER=1, set by the Dockerfile).
 *
 * A container refuses user namespaces to its processes (Docker's and Podman's default seccomp
 * profiles; a chroot, which is buildah's isolation in the container test) and gives the grader no
 * control group of its own to divide. There the grader falls back to its mode "uid"
 * (grader/sandbox.py): the kernel still runs as an unprivileged uid with per-process limits, but
 * sees the network and world-readable files, a hog is held by rlimits rather than a cgroup, and a
 * checkout under a 0700 folder cannot be staged for it. The image also has no git (.dockerignore
 * leaves the history out).
 *
 * With the flag, test/setup.ts makes the grader use mode "uid" in every test that does not choose
 * one, the tests expect that mode's name and note, and the assertions only namespaces, a cgroup or
 * git can make true are skipped by name, each saying why. CI and a Debian host never set it: there
 * every assertion runs in the strongest mode.
 */
export const IN_CONTAINER = process.env.RLHF_TEST_CONTAINER === '1';

/** The mode the grader picks for a test that does not choose one. */
export const EXPECTED_SANDBOX = IN_CONTAINER ? 'uid' : 'userns';

/** The grader's notes on a grade in the expected mode: none, or the forced fallback's. */
export const MODE_NOTES: string[] = IN_CONTAINER ? ['graded in the weaker sandbox mode "uid" (chosen by the TA)'] : [];
