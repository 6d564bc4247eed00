import { describe, expect, it } from 'vitest';
import {
  parseQemuVersion,
  debianUpstreamMajor,
  resolveKernelPackages,
  parseKernelConfig,
  missingConfig,
  REQUIRED_CONFIG,
  MIN_QEMU_MAJOR,
} from '../../scripts/qemu-ci/setup.mjs';

describe('QEMU version', () => {
  it('parses --version output', () => {
    expect(
      parseQemuVersion('QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\nCopyright (c) 2003-2025'),
    ).toMatchObject({ major: 10, minor: 0, patch: 2 });
    expect(parseQemuVersion('QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u13)')).toMatchObject({ major: 7 });
    expect(parseQemuVersion('qemu-kvm: not a version')).toBeNull();
  });

  it('tells bookworm (no igb) from backports', () => {
    expect(debianUpstreamMajor('1:7.2+dfsg-7+deb12u13')).toBeLessThan(MIN_QEMU_MAJOR);
    expect(debianUpstreamMajor('1:10.0.2+ds-2+deb13u1~bpo12+1')).toBeGreaterThanOrEqual(MIN_QEMU_MAJOR);
    expect(debianUpstreamMajor('garbage')).toBeNaN();
  });
});

describe('kernel packages from the metapackage', () => {
  const meta = {
    Package: 'linux-image-amd64',
    Version: '7.2.13-1',
    Depends: 'linux-base-amd64, linux-image-7.2.13+deb14-amd64 (= 7.2.13-1)',
  };

  it('follows the split layout (image metapackage -> binary, modules, base)', () => {
    const shown: string[] = [];
    const r = resolveKernelPackages(meta, (p) => {
      shown.push(p);
      return {
        Version: '7.2.13-1',
        Depends:
          'dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.2.13+deb14-amd64 (= 7.2.13-1), ' +
          'linux-binary-7.2.13+deb14-amd64 (= 7.2.13-1), linux-modules-7.2.13+deb14-amd64 (= 7.2.13-1)',
      };
    });
    expect(shown).toEqual(['linux-image-7.2.13+deb14-amd64']);
    expect(r).toEqual({
      release: '7.2.13+deb14-amd64',
      version: '7.2.13-1',
      packages: [
        'linux-image-7.2.13+deb14-amd64',
        'linux-base-7.2.13+deb14-amd64',
        'linux-binary-7.2.13+deb14-amd64',
        'linux-modules-7.2.13+deb14-amd64',
      ],
    });
  });

  it('handles the single-package layout and a new version without code changes', () => {
    const r = resolveKernelPackages(
      { Version: '8.0.1-1', Depends: 'linux-image-8.0.1+deb14-amd64-unsigned (= 8.0.1-1)' },
      () => ({ Version: '8.0.1-1', Depends: 'kmod, linux-base (>= 4.3~), initramfs-tools | linux-initramfs-tool' }),
    );
    expect(r).toEqual({
      release: '8.0.1+deb14-amd64',
      version: '8.0.1-1',
      packages: ['linux-image-8.0.1+deb14-amd64-unsigned'],
    });
  });

  it('says so when the metapackage names no image', () => {
    expect(() => resolveKernelPackages({ Version: '1', Depends: 'linux-base-amd64' }, () => ({}))).toThrow(
      /depends on no linux-image-<version>/,
    );
  });
});

describe('kernel config', () => {
  const good = Object.entries(REQUIRED_CONFIG)
    .map(([k, v]) => `CONFIG_${k}=${v}`)
    .join('\n');

  it('accepts what the guest needs, y for m included', () => {
    const config = parseKernelConfig(`# comment\n${good}\nCONFIG_IGB=y\n# CONFIG_IOMMUFD is not set\n`);
    expect(config.IGB).toBe('y');
    expect(config.IOMMUFD).toBeUndefined();
    expect(missingConfig(config)).toEqual([]);
  });

  it('names each missing or wrong option', () => {
    const config = parseKernelConfig(
      good
        .replace('CONFIG_VFIO_PCI_DMABUF=y', '# CONFIG_VFIO_PCI_DMABUF is not set')
        .replace('CONFIG_UDMABUF=y', 'CONFIG_UDMABUF=m'),
    );
    const missing = missingConfig(config);
    expect(missing).toHaveLength(2);
    expect(missing).toContain('CONFIG_UDMABUF=m (need y)');
    expect(missing).toContain('CONFIG_VFIO_PCI_DMABUF=unset (need y)');
  });
});
