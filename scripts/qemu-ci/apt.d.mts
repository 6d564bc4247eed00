// Generated from the JSDoc of the .mjs next to this file by scripts/qemu-ci/declarations.mjs; do not edit.
/**
 * @typedef {object} AptSource
 * @property {string[]} types       deb, deb-src
 * @property {string[]} uris
 * @property {string[]} suites
 * @property {string[]} components
 * @property {string | undefined} signedBy
 * @property {string} origin        file it came from
 */
/**
 * Parse deb822 `.sources` text (apt's sources.list(5), "DEB822-STYLE FORMAT").
 * @param {string} text
 */
export function parseDeb822(text: string, origin?: string): AptSource[];
/**
 * Parse one-line sources.list text: `deb [opt=val ...] uri suite [component ...]`.
 * @param {string} text
 */
export function parseOneLine(text: string, origin?: string): AptSource[];
/** Every enabled source of this system (read only). */
export function systemSources(etc?: string): AptSource[];
/** VERSION_CODENAME of /etc/os-release (bookworm), or undefined. */
export function systemCodename(osRelease?: string): string | undefined;
/**
 * The Debian archive this system installs its release from: the first binary
 * source whose suites include the release codename itself (not -security,
 * which lives in a separate archive, nor -updates).
 * @param {AptSource[]} sources
 * @param {string} codename
 * @returns {{ uri: string, signedBy: string | undefined, components: string[] }}
 */
export function releaseArchive(sources: AptSource[], codename: string): {
    uri: string;
    signedBy: string | undefined;
    components: string[];
};
/**
 * sources.list text for sid (main), from the release archive's address.
 * sid is signed with the same archive keys as the stable releases
 * (debian-archive-keyring), so the release's Signed-By applies.
 * @param {{ uri: string, signedBy: string | undefined }} archive
 */
export function sidSourcesText(archive: {
    uri: string;
    signedBy: string | undefined;
}): string;
/**
 * sources.list text for this system's release with its backports: every binary
 * source of the system (so dependencies resolve exactly as they do for apt
 * itself) plus `<codename>-backports` on the release archive.
 * @param {AptSource[]} sources
 * @param {string} codename
 */
export function backportsSourcesText(sources: AptSource[], codename: string): string;
/**
 * Fields of one control stanza (Package, Version, Depends, ...).
 * @param {string} text
 */
export function parseControl(text: string): Record<string, string>;
/**
 * Package names of a Depends field, first alternative of each, versions dropped.
 * @param {string | undefined} depends
 * @returns {string[]}
 */
export function dependsNames(depends: string | undefined): string[];
/**
 * Run a tool to completion; its stdout, or an error naming the command (apt's
 * private `-o` options left out) with the last lines it wrote.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, inherit?: boolean }} [opts]
 */
export function run(cmd: string, args: string[], opts?: {
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    inherit?: boolean;
}): string;
/**
 * The path of `cmd` on PATH, or null.
 * @param {string} cmd
 */
export function which(cmd: string): string | null;
/**
 * Fail before fetching when a tool is missing, naming its package.
 * @param {string[]} tools @param {string} what  what needs them ("setup", "fetching Debian's kernel source")
 */
export function requireTools(tools: string[], what: string): void;
/**
 * Unpack the .deb of each of `names` that `PrivateApt.download` put in `debs`
 * into `dest` (dpkg-deb -x); a package that gave no .deb is an error.
 * @param {string} debs @param {string[]} names @param {string} dest
 */
export function unpackDebs(debs: string, names: string[], dest: string): void;
/**
 * A private apt configuration rooted at `dir`: its own sources list, no
 * sources.list.d and no preferences.d of the system, its own lists and cache.
 * `args` go before the apt-get/apt-cache command word.
 */
export class PrivateApt {
    /**
     * @param {string} dir
     * @param {string} sourcesText
     */
    constructor(dir: string, sourcesText: string);
    dir: string;
    /** @type {string[]} */
    args: string[];
    /** True once `update` has fetched lists. */
    hasLists(): boolean;
    update(): void;
    /**
     * `apt-cache show` fields of the candidate version of `pkg`.
     * @param {string} pkg
     */
    show(pkg: string): Record<string, string>;
    /**
     * Download `pkg=version` .debs into `dir` (apt names the files).
     * @param {string} dir @param {string[]} pkgs
     */
    download(dir: string, pkgs: string[]): void;
    /**
     * Install (as root) with `-t target`; no recommends.
     * @param {string[]} pkgs @param {string | undefined} target
     */
    install(pkgs: string[], target: string | undefined): void;
}
export type AptSource = {
    /**
     * deb, deb-src
     */
    types: string[];
    uris: string[];
    suites: string[];
    components: string[];
    signedBy: string | undefined;
    /**
     * file it came from
     */
    origin: string;
};
